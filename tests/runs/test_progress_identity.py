"""WatchRun's progress poller calls Logs as the Runs service, never as a watcher (issue 9).

Two real platforms (Runs + Logs on loopback gRPC, real PostgreSQL): one in ``iap`` mode, where watchers
present IAP JWTs and the Runs service a Google ID token (google-auth's ``fetch_id_token`` answered by a
test signer, both verified against keys served over real HTTP), and one in ``dev`` mode, where Runs uses
its process credential. In both, a watcher whose token expires or who leaves does not stop another
watcher's progress events; and nobody outside the process can pass for an internal principal.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from arc.logs.v1 import logs_service_pb2, logs_service_pb2_grpc
from arc.runs.v1 import runs_service_pb2
from arc_core.identity import IAP_JWT_HEADER
from arc_core.service_identity import SERVICE_CREDENTIAL_HEADER, mint_process_credential
from services.runs import status as st
from services.runs.progress import ProcessCounts, ProgressFeed
from tests.core.test_identity import (
    IAP_AUDIENCE,
    ID_AUDIENCE,
    EsKey,
    KeyServer,
    RsaKey,
    iap_claims,
    id_token_claims,
)
from tests.logs.conftest import serve_logs
from tests.support.platform import Running, email_metadata, running_platform
from tests.support.runs import insert_run

RUNS_SA = "arc-runs@arc-prod.iam.gserviceaccount.com"
HEADER = "task_id\thash\tname\tstatus\n"
EVENT_DEADLINE = 30.0  # a hang guard, not a timing assertion


def trace(done: int) -> bytes:
    rows = "".join(f"{i}\tab/{i:06x}\tFASTQC (s{i})\tCOMPLETED\n" for i in range(1, done + 1))
    return (HEADER + rows).encode()


async def write_trace(platform: Running, run_id: str, done: int) -> None:
    await platform.service("runs").storage.write_bytes(f"runs/{run_id}/logs/trace.txt", trace(done))


async def running_run(platform: Running, owner: str = "alice@example.com") -> str:
    run_id = await insert_run(platform.service("runs").store, owner=owner, status=st.RUNNING)
    await write_trace(platform, run_id, 1)
    return run_id


def watch(platform: Running, run_id: str, metadata: tuple[tuple[str, str], ...]) -> Any:
    return platform.runs.WatchRun(runs_service_pb2.WatchRunRequest(run_id=run_id), metadata=metadata)


async def first_event(call: Any) -> runs_service_pb2.WatchRunResponse:
    async with asyncio.timeout(EVENT_DEADLINE):
        event = await call.read()
    assert event is not grpc.aio.EOF
    return event


async def progress_reaches(call: Any, succeeded: int) -> None:
    """Read the stream until a progress event counts ``succeeded`` FASTQC tasks."""
    async with asyncio.timeout(EVENT_DEADLINE):
        while (event := await call.read()) is not grpc.aio.EOF:
            if event.WhichOneof("event") == "progress":
                counts = {p.process: p.succeeded for p in event.progress.processes}
                if counts.get("FASTQC") == succeeded:
                    return
    raise AssertionError("the stream ended before the progress arrived")


async def the_other_watcher_keeps_progress(
    platform: Running,
    run_id: str,
    first: tuple[tuple[str, str], ...],
    second: tuple[tuple[str, str], ...],
    *,
    first_goes_stale: Any = None,
) -> None:
    """The first watcher subscribes (and, under the old code, lent the poller its identity), then goes stale
    (``first_goes_stale``) and leaves; the second watcher's progress follows every new trace version."""
    a = watch(platform, run_id, first)
    assert (await first_event(a)).WhichOneof("event") == "status"
    b = watch(platform, run_id, second)
    assert (await first_event(b)).WhichOneof("event") == "status"
    await progress_reaches(b, 1)
    if first_goes_stale is not None:
        await first_goes_stale()
        await write_trace(platform, run_id, 2)
        await progress_reaches(b, 2)
    a.cancel()  # the first watcher leaves
    await write_trace(platform, run_id, 3)
    await progress_reaches(b, 3)
    b.cancel()


# --- iap mode: IAP JWTs for people, a Google ID token for the Runs service -----------------------------------


@pytest.fixture(scope="module")
def keys() -> Iterator[tuple[KeyServer, EsKey, RsaKey]]:
    with KeyServer() as server:
        yield server, EsKey("iap-progress"), RsaKey("google-progress")


@pytest.fixture(scope="module")
async def iap_platform(
    make_database, tmp_path_factory: pytest.TempPathFactory, keys: tuple[KeyServer, EsKey, RsaKey]
) -> AsyncIterator[tuple[Running, list[str]]]:
    server, iap_key, google_key = keys
    fetched: list[str] = []

    def fetch_id_token(request: object, audience: str) -> str:
        """What the metadata server answers a workload: its service account's ID token for ``audience``."""
        fetched.append(audience)
        return google_key.sign(id_token_claims(email=RUNS_SA, aud=audience))

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("google.oauth2.id_token.fetch_id_token", fetch_id_token)
        async with running_platform(
            database_url=await make_database(),
            data_dir=tmp_path_factory.mktemp("arc-iap"),
            targets=["runs", "logs", "gateway"],
            auth_mode="iap",
            iap_audience=IAP_AUDIENCE,
            iap_certs_url=server.serve("/iap", {"keys": [iap_key.jwk()]}),
            id_token_audience=ID_AUDIENCE,
            id_token_certs_url=server.serve("/google", {google_key.kid: google_key.certificate_pem()}),
            internal_service_accounts=RUNS_SA,
            progress_interval_seconds=0.1,
        ) as running:
            yield running, fetched


def iap(iap_key: EsKey, email: str, *, lifetime: int = 600) -> tuple[tuple[str, str], ...]:
    now = int(time.time())
    return ((IAP_JWT_HEADER, iap_key.sign(iap_claims(email=email, iat=now - 10, exp=now + lifetime))),)


async def test_an_expired_watcher_token_does_not_stop_another_watchers_progress(
    iap_platform: tuple[Running, list[str]], keys: tuple[KeyServer, EsKey, RsaKey]
) -> None:
    platform, fetched = iap_platform
    _, iap_key, _ = keys
    run_id = await running_run(platform)
    short = iap(iap_key, "alice@example.com", lifetime=2)
    expires = time.time() + 2

    async def expire() -> None:
        while time.time() <= expires + 1:  # let the short token lapse (PyJWT allows no leeway here)
            await asyncio.sleep(0.2)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await platform.runs.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=short)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    await the_other_watcher_keeps_progress(
        platform, run_id, short, iap(iap_key, "admin@example.com"), first_goes_stale=expire
    )
    # The poller asked as the Runs service, with its ID token (fetched once: it is cached until near expiry).
    assert fetched == [ID_AUDIENCE]


async def test_the_runs_service_token_reads_runs_only(
    iap_platform: tuple[Running, list[str]], keys: tuple[KeyServer, EsKey, RsaKey]
) -> None:
    """The Runs service account's token reads any run's tasks, but changes nothing, and is no admin."""
    platform, _ = iap_platform
    _, _, google_key = keys
    run_id = await running_run(platform)
    bearer = (("authorization", f"Bearer {google_key.sign(id_token_claims(email=RUNS_SA))}"),)
    logs = logs_service_pb2_grpc.LogsServiceStub(platform.channel)
    tasks = await logs.ListTasks(logs_service_pb2.ListTasksRequest(run_id=run_id), metadata=bearer)
    assert tasks.total_size == 1
    run = await platform.runs.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=bearer)
    assert run.run_id == run_id
    for call in (
        platform.runs.CancelRun(runs_service_pb2.CancelRunRequest(run_id=run_id), metadata=bearer),
        platform.runs.ListRuns(runs_service_pb2.ListRunsRequest(), metadata=bearer),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_the_runs_service_token_is_refused_over_rest(
    iap_platform: tuple[Running, list[str]], keys: tuple[KeyServer, EsKey, RsaKey]
) -> None:
    """A service's token that leaked cannot read runs through the gateway: services never call over REST."""
    platform, _ = iap_platform
    _, _, google_key = keys
    run_id = await running_run(platform)
    bearer = {"authorization": f"Bearer {google_key.sign(id_token_claims(email=RUNS_SA))}"}
    for path in (f"/api/runs/{run_id}", f"/api/runs/{run_id}/tasks"):
        response = await platform.http.get(path, headers=bearer)
        assert response.status_code == 403, response.text
        assert "not a REST caller" in response.text


async def test_a_log_stream_outlives_its_callers_token(
    iap_platform: tuple[Running, list[str]], keys: tuple[KeyServer, EsKey, RsaKey], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Logs checks the caller's access once, then follows the run's status as itself: the stream ends with
    the run although the caller's token has expired by then."""
    platform, _ = iap_platform
    _, iap_key, _ = keys
    run_id = await running_run(platform)
    storage = platform.service("runs").storage
    await storage.write_bytes(f"runs/{run_id}/logs/nextflow.log", b"May-01 12:00:01.000 [main] INFO  x.Y - hello\n")
    runs_port = platform.service("logs").runs
    followed_as: list[object] = []
    watch_run = runs_port.watch_run

    def spy(identity: object, run_id: str) -> Any:
        followed_as.append(identity)
        return watch_run(identity, run_id)

    monkeypatch.setattr(runs_port, "watch_run", spy)
    short = iap(iap_key, "alice@example.com", lifetime=2)
    expires = time.time() + 2
    logs = logs_service_pb2_grpc.LogsServiceStub(platform.channel)
    call = logs.StreamWorkflowLog(logs_service_pb2.StreamWorkflowLogRequest(run_id=run_id), metadata=short)
    async with asyncio.timeout(EVENT_DEADLINE):
        first = await call.read()
        assert first.entries[0].message == "hello"
        while time.time() <= expires + 1:
            await asyncio.sleep(0.2)
        await platform.service("runs").store.move(run_id, st.COMPLETED, reason="test", actor="test")
        await storage.write_bytes(
            f"runs/{run_id}/logs/nextflow.log",
            b"May-01 12:00:01.000 [main] INFO  x.Y - hello\n"
            b"May-01 12:00:09.000 [main] INFO  nextflow.cli.CmdRun - > Execution complete -- Goodbye\n",
        )
        rest = []
        while (response := await call.read()) is not grpc.aio.EOF:
            rest.append(response)
    assert rest and "Goodbye" in rest[-1].entries[-1].message
    assert followed_as and all(identity is None for identity in followed_as)  # as the Logs service


# --- dev mode: the process credential -------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def dev_platform(make_database, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Running]:
    async with running_platform(
        database_url=await make_database(),
        data_dir=tmp_path_factory.mktemp("arc-dev"),
        targets=["runs", "logs", "gateway"],
        progress_interval_seconds=0.1,
    ) as running:
        yield running


async def test_a_leaving_first_watcher_does_not_stop_the_others_progress(dev_platform: Running) -> None:
    run_id = await running_run(dev_platform)
    await the_other_watcher_keeps_progress(
        dev_platform, run_id, email_metadata("alice@example.com"), email_metadata("admin@example.com")
    )


@pytest.mark.parametrize("email", ["runs@arc.internal", "RUNS@ARC.INTERNAL", "logs@arc.internal"])
async def test_a_dev_header_claiming_an_internal_principal_is_refused(dev_platform: Running, email: str) -> None:
    run_id = await running_run(dev_platform)
    logs = logs_service_pb2_grpc.LogsServiceStub(dev_platform.channel)
    for call in (
        dev_platform.runs.GetRun(runs_service_pb2.GetRunRequest(run_id=run_id), metadata=email_metadata(email)),
        logs.ListTasks(logs_service_pb2.ListTasksRequest(run_id=run_id), metadata=email_metadata(email)),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await call
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    response = await dev_platform.http.get(
        f"/api/runs/{run_id}", headers={"x-goog-authenticated-user-email": f"accounts.google.com:{email}"}
    )
    assert response.status_code == 401, response.text


async def test_a_forged_service_credential_is_refused(dev_platform: Running) -> None:
    run_id = await running_run(dev_platform)
    genuine = mint_process_credential("runs@arc.internal")
    principal, _, mac = genuine.rpartition(":")
    forged = [
        f"{principal}:{'0' * len(mac)}",
        f"admin@example.com:{mac}",  # a real MAC, for another principal
        f"logs@arc.internal:{mac}",
        "runs@arc.internal",
        "",
    ]
    for value in forged:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await dev_platform.runs.GetRun(
                runs_service_pb2.GetRunRequest(run_id=run_id), metadata=((SERVICE_CREDENTIAL_HEADER, value),)
            )
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED, value


async def test_the_process_credential_reads_runs_only(dev_platform: Running, tmp_path: Path) -> None:
    """Minted in this process (the test shares it with the platform), it reads any run, and changes none."""
    run_id = await running_run(dev_platform)
    credential = ((SERVICE_CREDENTIAL_HEADER, mint_process_credential("runs@arc.internal")),)
    logs = logs_service_pb2_grpc.LogsServiceStub(dev_platform.channel)
    assert (await logs.ListTasks(logs_service_pb2.ListTasksRequest(run_id=run_id), metadata=credential)).total_size == 1
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await dev_platform.runs.CancelRun(runs_service_pb2.CancelRunRequest(run_id=run_id), metadata=credential)
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
    # The gateway does not forward it: over REST it is no credential, and the caller is the dev default user.
    response = await dev_platform.http.get(f"/api/runs/{run_id}", headers=dict(credential))
    assert response.status_code == 404, response.text


async def test_a_watcher_who_joins_later_starts_from_the_current_snapshot() -> None:
    """The poller pushes only changes; a second watcher must not wait for the next one to see progress."""
    counts = (ProcessCounts("FASTQC", 0, 0, 1, 0, 0, 1),)
    asked: list[str] = []

    async def source(run_id: str) -> tuple[ProcessCounts, ...]:
        asked.append(run_id)  # as the service: the source is given no watcher
        return counts

    feed = ProgressFeed(source, interval=0.05)
    try:
        first = feed.subscribe("run-0000abcd")
        async with asyncio.timeout(EVENT_DEADLINE):
            await first.changed.wait()
        second = feed.subscribe("run-0000abcd")
        assert second.changed.is_set() and (second.version, second.snapshot) == (first.version, counts)
        feed.unsubscribe(first)
        feed.unsubscribe(second)
        third = feed.subscribe("run-0000abcd")  # everyone left: a new poll starts afresh
        assert not third.changed.is_set() and third.version == 0
    finally:
        await feed.stop()
    assert set(asked) == {"run-0000abcd"}


async def test_a_log_stream_follows_as_the_caller_when_the_service_credential_is_refused(
    dev_platform: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """A Logs pod whose credential Runs does not accept (another key) still ends its streams with the run."""
    run_id = await running_run(dev_platform)
    storage = dev_platform.service("runs").storage
    line = b"May-01 12:00:01.000 [main] INFO  x.Y - hello\n"
    await storage.write_bytes(f"runs/{run_id}/logs/nextflow.log", line)
    async with serve_logs(dev_platform, service_credential_secret="not-the-platform-key") as other:
        call = other.stub.StreamWorkflowLog(
            logs_service_pb2.StreamWorkflowLogRequest(run_id=run_id), metadata=email_metadata("alice@example.com")
        )
        async with asyncio.timeout(EVENT_DEADLINE):
            assert (await call.read()).entries[0].message == "hello"
            await dev_platform.service("runs").store.move(run_id, st.COMPLETED, reason="test", actor="test")
            goodbye = b"May-01 12:00:09.000 [main] INFO  nextflow.cli.CmdRun - > Execution complete -- Goodbye\n"
            await storage.write_bytes(f"runs/{run_id}/logs/nextflow.log", line + goodbye)
            rest = []
            while (response := await call.read()) is not grpc.aio.EOF:
                rest.append(response)
    assert rest and "Goodbye" in rest[-1].entries[-1].message
    assert "refused the Logs service's credential" in caplog.text
