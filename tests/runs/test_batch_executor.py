"""The Cloud Batch executor, through the real async client, against a local server speaking BatchService."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import timedelta

import grpc
import pytest
from google.cloud import batch_v1
from google.rpc import error_details_pb2

from arc_core.contracts.labels import label_key, label_value
from arc_core.settings import load_settings
from services.pipelines.config_render import BatchConfigSettings, render_config
from services.runs.executors.base import (
    BackendUnavailable,
    JobCreationFailed,
    JobNotFound,
    JobSpec,
    JobState,
    QuotaExceeded,
    run_status_for,
)
from services.runs.executors.batch import BatchExecutor, Network
from services.runs.executors.factory import make_executor
from tests.support.fake_batch import (
    FAST_RETRY,
    IMAGE,
    PROJECT,
    REGION,
    SERVICE_ACCOUNT,
    FakeBatch,
    batch_executor_for,
    running_fake_batch,
)

pytestmark = pytest.mark.timeout(30)

PARENT = f"projects/{PROJECT}/locations/{REGION}"
State = batch_v1.JobStatus.State


def make_spec(run_id: str = "run-0a1b2c3d", **overrides: object) -> JobSpec:
    fields: dict[str, object] = dict(
        run_id=run_id,
        pipeline="nf-core/scrnaseq",
        pipeline_version="2.7.1",
        user_email="Alice.Smith@Example.com",
        run_root=f"gs://arc-bucket/runs/{run_id}",
        config_uri=f"gs://arc-bucket/runs/{run_id}/inputs/nextflow.config",
        params_uri=f"gs://arc-bucket/runs/{run_id}/inputs/params.yaml",
        work_dir=f"gs://arc-bucket/runs/{run_id}/work",
        session_id="5a0c1b52-4a65-4a6e-9d51-3f0f5f8f1c11",
        resume_session_id=None,
        cache_uri=f"gs://arc-bucket/runs/{run_id}/work/.nextflow-cache",
        status_address="arc.example.com:443",
        token="secret-run-token",
    )
    fields.update(overrides)
    return JobSpec(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def fake() -> AsyncIterator[FakeBatch]:
    async with running_fake_batch() as server:
        yield server


@pytest.fixture
async def executor(fake: FakeBatch) -> AsyncIterator[BatchExecutor]:
    ex = batch_executor_for(fake)
    yield ex
    await ex.close()


@pytest.mark.parametrize(
    ("raw", "label"),
    [
        ("nf-core/scrnaseq", "nf-core_scrnaseq"),
        ("Alice.Smith@Example.com", "alice_smith_at_example_com"),
        ("run-0a1b2c3d", "run-0a1b2c3d"),
        ("José Müller", "jose_muller"),
        ("a" * 80, "a" * 63),
        ("", ""),
    ],
)
def test_sanitize_label_value(raw: str, label: str) -> None:
    assert label_value(raw) == label


def test_sanitize_label_key_starts_with_a_letter() -> None:
    assert label_value("Run-ID") == "run-id"
    assert label_key("1st") == "x_1st"
    assert label_key("") == "x_"


async def test_job_spec_field_by_field(fake: FakeBatch, executor: BatchExecutor) -> None:
    spec = make_spec()
    name = await executor.submit(spec)

    assert name == f"{PARENT}/jobs/nf-run-0a1b2c3d"
    (request,) = fake.calls("CreateJob")
    assert request.parent == PARENT
    assert request.job_id == "nf-run-0a1b2c3d"
    assert request.request_id  # a UUID, stable for the run (see the retry test)
    job = request.job

    (group,) = job.task_groups
    assert group.task_count == 1
    task = group.task_spec
    (runnable,) = task.runnables
    assert runnable.container.image_uri == IMAGE
    assert not runnable.container.commands and not runnable.container.entrypoint  # the image's entrypoint
    assert dict(task.environment.variables) == spec.environment()
    assert task.environment.variables["ARC_RUN_TOKEN"] == "secret-run-token"
    for key in ("RUN_ID", "PIPELINE", "PIPELINE_VERSION", "CONFIG_GCS_PATH", "PARAMS_GCS_PATH", "WORK_DIR"):
        assert task.environment.variables[key]
    assert task.environment.variables["IS_RECOVERY"] == "false"
    assert task.environment.variables["ARC_STATUS_ADDRESS"] == "arc.example.com:443"
    assert task.compute_resource.cpu_milli == 2000
    assert task.compute_resource.memory_mib == 4096
    assert task.max_run_duration == timedelta(seconds=604800)
    assert task.max_retry_count == 2
    # Retry a preempted SPOT VM only (Batch's exit code 50001), as Nextflow's GoogleBatchTaskHandler does.
    (lifecycle,) = task.lifecycle_policies
    assert lifecycle.action == batch_v1.LifecyclePolicy.Action.RETRY_TASK
    assert list(lifecycle.action_condition.exit_codes) == [50001]

    policy = job.allocation_policy
    (instance,) = policy.instances
    assert instance.policy.machine_type == "e2-standard-2"
    assert instance.policy.provisioning_model == batch_v1.AllocationPolicy.ProvisioningModel.SPOT
    assert policy.service_account.email == SERVICE_ACCOUNT
    assert "network" not in policy  # no ARC_BATCH_NETWORK: Batch's default network
    assert job.logs_policy.destination == batch_v1.LogsPolicy.Destination.CLOUD_LOGGING

    expected_labels = {
        "run-id": "run-0a1b2c3d",
        "app": "arc-reactor",
        "pipeline": "nf-core_scrnaseq",
        "user-email": "alice_smith_at_example_com",
    }
    assert dict(job.labels) == expected_labels
    assert dict(policy.labels) == expected_labels
    assert fake.jobs[name].labels["pipeline"] == "nf-core_scrnaseq"


async def test_recovery_spec_carries_the_parent_session(fake: FakeBatch, executor: BatchExecutor) -> None:
    await executor.submit(make_spec("run-0000beef", resume_session_id="parent-session"))
    (request,) = fake.calls("CreateJob")
    env = request.job.task_groups[0].task_spec.environment.variables
    assert env["IS_RECOVERY"] == "true"
    assert env["RESUME_SESSION_ID"] == "parent-session"


async def test_cancel_deletes_the_job_and_a_missing_job_is_fine(fake: FakeBatch, executor: BatchExecutor) -> None:
    name = await executor.submit(make_spec())
    await executor.cancel(name)
    assert [r.name for r in fake.calls("DeleteJob")] == [name]
    assert name not in fake.jobs
    assert (await executor.status(name)).state is JobState.GONE

    await executor.cancel(name)  # gone already: NOT_FOUND is not an error
    await executor.cancel(f"{PARENT}/jobs/nf-run-ffffffff")
    assert len(fake.calls("DeleteJob")) == 3


@pytest.mark.parametrize(
    ("batch_state", "job_state", "run_status"),
    [
        (State.STATE_UNSPECIFIED, JobState.QUEUED, "submitted"),
        (State.QUEUED, JobState.QUEUED, "submitted"),
        (State.SCHEDULED, JobState.QUEUED, "submitted"),
        (State.RUNNING, JobState.RUNNING, "running"),
        (State.SUCCEEDED, JobState.SUCCEEDED, "completed"),
        (State.FAILED, JobState.FAILED, "failed"),
        (State.DELETION_IN_PROGRESS, JobState.GONE, "cancelled"),
        (State.CANCELLATION_IN_PROGRESS, JobState.GONE, "cancelled"),
        (State.CANCELLED, JobState.GONE, "cancelled"),
    ],
)
async def test_state_mapping(
    fake: FakeBatch, executor: BatchExecutor, batch_state: State, job_state: JobState, run_status: str
) -> None:
    name = await executor.submit(make_spec())
    fake.set_state(name, batch_state)
    status = await executor.status(name)
    assert status.state is job_state
    assert run_status_for(status) == run_status
    assert fake.calls("GetJob")[-1].name == name


async def test_missing_job_is_gone(executor: BatchExecutor) -> None:
    status = await executor.status(f"{PARENT}/jobs/nf-run-ffffffff")
    assert status.state is JobState.GONE
    assert run_status_for(status) == "cancelled"


async def test_status_carries_exit_code_and_last_event(fake: FakeBatch, executor: BatchExecutor) -> None:
    name = await executor.submit(make_spec())
    fake.set_state(name, State.FAILED, exit_code=3, description="Task failed with exit code 3")
    status = await executor.status(name)
    assert (status.state, status.exit_code, status.message) == (JobState.FAILED, 3, "Task failed with exit code 3")

    fake.set_state(name, State.SUCCEEDED)
    assert (await executor.status(name)).exit_code == 0


async def test_unavailable_is_retried_then_succeeds(fake: FakeBatch, executor: BatchExecutor) -> None:
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, "connection reset", times=2, method="CreateJob")
    name = await executor.submit(make_spec())
    attempts = fake.calls("CreateJob")
    assert len(attempts) == 3
    assert len({a.request_id for a in attempts}) == 1  # the same request id: Batch can deduplicate
    assert name in fake.jobs


async def test_deadline_exceeded_is_retried(fake: FakeBatch, executor: BatchExecutor) -> None:
    name = await executor.submit(make_spec())
    fake.fail_next(grpc.StatusCode.DEADLINE_EXCEEDED, method="GetJob")
    assert (await executor.status(name)).state is JobState.QUEUED
    assert len(fake.calls("GetJob")) == 2


async def test_exhausted_retries_are_backend_unavailable(fake: FakeBatch, executor: BatchExecutor) -> None:
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, "backend down", times=FAST_RETRY.max_attempts)
    with pytest.raises(BackendUnavailable, match="after 4 attempts: backend down"):
        await executor.submit(make_spec())
    assert len(fake.calls("CreateJob")) == FAST_RETRY.max_attempts
    assert not fake.jobs


async def test_quota_error_names_the_quota(fake: FakeBatch, executor: BatchExecutor) -> None:
    fake.fail_next(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        "Quota exceeded for quota metric 'Job create requests' and limit 'Job create requests per minute per"
        " region' of service 'batch.googleapis.com' for consumer 'project_number:123'.",
    )
    with pytest.raises(QuotaExceeded) as caught:
        await executor.submit(make_spec())
    message = caught.value.message
    assert "quota 'Job create requests per minute per region' exceeded" in message
    assert f"project {PROJECT} ({REGION})" in message
    assert "run-0a1b2c3d" in message
    assert len(fake.calls("CreateJob")) == 1  # not retried


async def test_quota_failure_detail_names_the_quota(fake: FakeBatch, executor: BatchExecutor) -> None:
    violation = error_details_pb2.QuotaFailure.Violation(subject="CPUS", description="Quota 'CPUS' exceeded.")
    detail = error_details_pb2.QuotaFailure(violations=[violation])
    fake.fail_next(grpc.StatusCode.RESOURCE_EXHAUSTED, "out of resources", details=[detail])
    with pytest.raises(QuotaExceeded, match="quota 'CPUS' exceeded") as caught:
        await executor.submit(make_spec())
    assert caught.value.metadata["quota"] == "CPUS"


async def test_quota_message_under_another_code_is_still_quota(fake: FakeBatch, executor: BatchExecutor) -> None:
    fake.fail_next(grpc.StatusCode.FAILED_PRECONDITION, "Quota 'CPUS' exceeded. Limit: 24.0 in region us-central1.")
    with pytest.raises(QuotaExceeded, match="quota 'CPUS' exceeded"):
        await executor.submit(make_spec())


async def test_permission_denied_is_creation_failed(fake: FakeBatch, executor: BatchExecutor) -> None:
    fake.fail_next(grpc.StatusCode.PERMISSION_DENIED, "Permission 'batch.jobs.create' denied")
    with pytest.raises(JobCreationFailed) as caught:
        await executor.submit(make_spec())
    message = caught.value.message
    assert "permission denied" in message
    assert "roles/batch.jobsEditor" in message and SERVICE_ACCOUNT in message
    assert "Permission 'batch.jobs.create' denied" in message
    assert len(fake.calls("CreateJob")) == 1  # not retried


async def test_invalid_argument_is_creation_failed(fake: FakeBatch, executor: BatchExecutor) -> None:
    fake.fail_next(grpc.StatusCode.INVALID_ARGUMENT, "machine type e2-standard-2 is not available")
    with pytest.raises(JobCreationFailed, match="invalid: machine type e2-standard-2 is not available"):
        await executor.submit(make_spec())


async def test_already_exists_on_a_retried_create_is_success(fake: FakeBatch, executor: BatchExecutor) -> None:
    # The first attempt creates the job but its reply is lost; the retry meets ALREADY_EXISTS.
    fake.fail_next(grpc.StatusCode.UNAVAILABLE, method="CreateJob", after_processing=True)
    name = await executor.submit(make_spec())
    assert name == f"{PARENT}/jobs/nf-run-0a1b2c3d"
    assert len(fake.calls("CreateJob")) == 2
    assert list(fake.jobs) == [name]

    assert await executor.submit(make_spec()) == name  # a submit repeated by the caller is fine too


async def test_not_a_batch_job_name_is_not_found(executor: BatchExecutor) -> None:
    with pytest.raises(JobNotFound):
        await executor.status("local/run-0a1b2c3d")
    with pytest.raises(JobNotFound):
        await executor.cancel("nf-run-0a1b2c3d")


async def test_factory_builds_a_batch_executor_from_settings(fake: FakeBatch, tmp_path) -> None:
    settings = load_settings(
        executor="batch",
        data_dir=tmp_path,
        storage_root="gs://arc-bucket",
        gcp_project=PROJECT,
        gcp_region=REGION,
        orchestrator_image=IMAGE,
        orchestrator_service_account=SERVICE_ACCOUNT,
        batch_api_endpoint=f"http://{fake.address}",
        batch_network="projects/net-host/global/networks/arc",
        batch_subnetwork="projects/net-host/regions/us-central1/subnetworks/arc-batch",
        batch_no_external_ip=True,
    )
    executor = make_executor(settings)
    try:
        assert isinstance(executor, BatchExecutor)
        name = await executor.submit(make_spec())
        assert fake.calls("CreateJob")[0].parent == PARENT
        # The settings reach AllocationPolicy.network (job.proto NetworkPolicy.network_interfaces).
        (interface,) = fake.calls("CreateJob")[0].job.allocation_policy.network.network_interfaces
        assert interface.network == "projects/net-host/global/networks/arc"
        assert interface.subnetwork == "projects/net-host/regions/us-central1/subnetworks/arc-batch"
        assert interface.no_external_ip_address is True
        assert (await executor.status(name)).state is JobState.QUEUED
    finally:
        await executor.close()


def test_factory_names_missing_batch_settings(tmp_path) -> None:
    settings = load_settings(executor="batch", data_dir=tmp_path, storage_root="gs://arc-bucket", gcp_project=PROJECT)
    with pytest.raises(ValueError, match="ARC_ORCHESTRATOR_IMAGE, ARC_ORCHESTRATOR_SERVICE_ACCOUNT"):
        make_executor(settings)


# --- issue 8: retries, task exit codes, task jobs, networks, storage ---


async def test_fake_retries_every_failure_without_a_lifecycle_policy(fake: FakeBatch, executor: BatchExecutor) -> None:
    # task.proto TaskSpec.max_retry_count: "Maximum number of retries on failures"; no lifecycle policy, so
    # any non-zero exit is retried while retries remain.
    name = await executor.submit(make_spec())
    del fake.jobs[name].task_groups[0].task_spec.lifecycle_policies[:]
    fake.finish_attempt(name, 1)
    fake.finish_attempt(name, 1)
    assert fake.jobs[name].status.state == State.RUNNING  # two retries used
    fake.finish_attempt(name, 1)
    assert fake.jobs[name].status.state == State.FAILED


async def test_only_a_preempted_vm_is_retried(fake: FakeBatch, executor: BatchExecutor) -> None:
    name = await executor.submit(make_spec())
    fake.finish_attempt(name, 50001)  # SPOT preemption: retried
    assert fake.jobs[name].status.state == State.RUNNING
    fake.finish_attempt(name, 1)  # the pipeline failed: not retried although a retry remains
    assert fake.jobs[name].status.state == State.FAILED
    status = await executor.status(name)
    assert (status.state, status.exit_code) == (JobState.FAILED, 1)

    other = await executor.submit(make_spec("run-0000cafe"))
    for _ in range(2):
        fake.finish_attempt(other, 50001)
    assert fake.jobs[other].status.state == State.RUNNING
    fake.finish_attempt(other, 50001)  # max_retry_count (2) exhausted
    assert (await executor.status(other)).exit_code == 50001

    third = await executor.submit(make_spec("run-0000f00d"))
    fake.finish_attempt(third, 50001)
    fake.finish_attempt(third, 0)
    assert (await executor.status(third)).state is JobState.SUCCEEDED


async def test_exit_code_comes_from_the_task_not_the_job(fake: FakeBatch, executor: BatchExecutor) -> None:
    # job.proto JobStatus.status_events never carry task_execution; task.proto TaskStatus's do.
    name = await executor.submit(make_spec())
    fake.set_state(name, State.FAILED, exit_code=7)
    assert all("task_execution" not in e for e in fake.jobs[name].status.status_events)
    assert (await executor.status(name)).exit_code == 7
    assert [r.name for r in fake.calls("GetTask")] == [f"{name}/taskGroups/group0/tasks/0"]


async def test_cancel_deletes_the_runs_task_jobs_too(fake: FakeBatch, executor: BatchExecutor) -> None:
    head_a = await executor.submit(make_spec("run-0000aaaa"))
    head_b = await executor.submit(make_spec("run-0000bbbb"))
    tasks_a = [fake.task_job("run-0000aaaa", f"nf-0000aaaa-task-{i}") for i in (1, 2)]
    task_b = fake.task_job("run-0000bbbb", "nf-0000bbbb-task-1")

    await executor.cancel(head_a)

    assert sorted(fake.jobs) == sorted([head_b, task_b])
    assert sorted(r.name for r in fake.calls("DeleteJob")) == sorted([head_a, *tasks_a])
    (listing,) = fake.calls("ListJobs")
    assert listing.parent == PARENT and listing.filter == 'labels.run-id="run-0000aaaa"'


async def test_cancel_finds_task_jobs_by_the_run_id_label_of_the_rendered_config(
    fake: FakeBatch, executor: BatchExecutor
) -> None:
    """Nextflow's google-batch executor labels each task job with the config's ``process.resourceLabels``
    (rendered by Pipelines); cancel (Runs) lists them with ``labels.run-id="…"``: the two must agree."""
    run_id = "run-0000aaaa"
    config = render_config(
        pipeline="nf-core/scrnaseq",
        version="2.7.1",
        params={},
        user_config="",
        run_id=run_id,
        settings=BatchConfigSettings(project=PROJECT),
    )
    rendered = re.search(r"^process\.resourceLabels = \[.*'run-id': '([^']*)'", config, re.MULTILINE)
    assert rendered is not None, config
    head = await executor.submit(make_spec(run_id))
    assert fake.jobs[head].labels["run-id"] == rendered[1]
    task = fake.task_job(rendered[1], "nf-0000aaaa-task-1")

    await executor.cancel(head)

    assert task not in fake.jobs and head not in fake.jobs
    (listing,) = fake.calls("ListJobs")
    assert listing.filter == f'labels.run-id="{rendered[1]}"'


async def test_fake_refuses_a_filter_it_does_not_understand(fake: FakeBatch, executor: BatchExecutor) -> None:
    client = await executor._get_client()
    with pytest.raises(Exception, match="invalid filter"):
        pager = await client.list_jobs(request=batch_v1.ListJobsRequest(parent=PARENT, filter="run-id == x"))
        [job async for job in pager]


async def test_network_settings_reach_the_allocation_policy(fake: FakeBatch) -> None:
    executor = batch_executor_for(fake, network=Network(subnetwork="regions/us-central1/subnetworks/s"))
    try:
        await executor.submit(make_spec())
    finally:
        await executor.close()
    (interface,) = fake.calls("CreateJob")[0].job.allocation_policy.network.network_interfaces
    assert (interface.network, interface.subnetwork, interface.no_external_ip_address) == (
        "",
        "regions/us-central1/subnetworks/s",
        False,
    )


@pytest.mark.parametrize("storage_root", [None, "/srv/arc-storage"])
def test_batch_with_local_storage_is_refused(tmp_path, storage_root: str | None) -> None:
    with pytest.raises(ValueError, match="ARC_EXECUTOR=batch needs ARC_STORAGE_ROOT=gs://BUCKET.*cannot see a local"):
        load_settings(executor="batch", data_dir=tmp_path, storage_root=storage_root)


async def test_cancel_goes_on_past_a_head_job_it_cannot_delete(fake: FakeBatch, executor: BatchExecutor) -> None:
    head = await executor.submit(make_spec("run-0000aaaa"))
    tasks = [fake.task_job("run-0000aaaa", f"nf-0000aaaa-task-{i}") for i in (1, 2)]
    fake.fail_next(grpc.StatusCode.PERMISSION_DENIED, "no batch.jobs.delete", method="DeleteJob")

    with pytest.raises(Exception, match="no batch.jobs.delete"):
        await executor.cancel(head)

    # The head job's failure is reported, but its task jobs were still deleted: nothing is left billing.
    assert sorted(fake.jobs) == [head]
    assert sorted(r.name for r in fake.calls("DeleteJob")) == sorted([head, *tasks])


async def test_an_unreadable_task_leaves_the_exit_code_unknown(fake: FakeBatch, executor: BatchExecutor) -> None:
    name = await executor.submit(make_spec())
    fake.set_state(name, State.FAILED, exit_code=7)
    fake.fail_next(grpc.StatusCode.PERMISSION_DENIED, "no batch.tasks.get", method="GetTask")
    status = await executor.status(name)
    assert status.state is JobState.FAILED and status.exit_code is None
