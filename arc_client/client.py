"""The typed async client of the four services, over one ``grpc.aio`` channel.

    async with ArcClient("localhost:50051", as_email="alice@example.com") as arc:
        run = await arc.runs.create_run(pipeline="demo/hello", pipeline_version="1.0.0", ...)
        async for event in arc.runs.watch_run(run.run_id):
            ...
        async for run in arc.runs.list_runs(filter='status = "running"'):
            ...

Every unary call has a deadline (``timeout``, per call or the client's); failures raise
``arc_client.errors`` exceptions with the server's violations and reasons. Lists are async iterators that
fetch the next page when the caller gets there. ``watch_run``, ``follow_workflow_log`` and
``follow_task_logs`` reopen a dropped stream from the last position seen, so the caller sees every item
once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import grpc
from google.protobuf import field_mask_pb2, timestamp_pb2

from arc.benchling.v1 import benchling_service_pb2, benchling_service_pb2_grpc, ngs_pb2
from arc.logs.v1 import log_pb2, logs_service_pb2, logs_service_pb2_grpc
from arc.pipelines.v1 import pipeline_pb2, pipelines_service_pb2, pipelines_service_pb2_grpc
from arc.runs.v1 import run_pb2, runs_service_pb2, runs_service_pb2_grpc, system_pb2, user_pb2
from arc_client.credentials import IdTokenSource, Metadata, dev_identity
from arc_client.errors import from_rpc_error
from arc_client.streams import ReconnectPolicy, resuming_stream
from arc_core.grpc_client import METADATA_LIMIT_BYTES
from arc_core.protos import to_struct

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0

CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 32 * 1024 * 1024),
    # Errors quote inputs back in their trailing details: past gRPC's 16 KiB default the call would fail.
    ("grpc.max_metadata_size", METADATA_LIMIT_BYTES),
    ("grpc.absolute_max_metadata_size", METADATA_LIMIT_BYTES),
    ("grpc.keepalive_time_ms", 30_000),
]


class ArcClient:
    """One channel to an Arc Reactor gRPC address (``host:port``).

    Credentials: ``as_email`` sends the dev identity (``ARC_AUTH_MODE=dev`` servers only);
    ``id_token_audience`` sends a Google ID token for that audience from the ambient Google credentials
    (a service account, or IAP in front of the endpoint: its OAuth client id). ``tls`` uses the system
    roots, ``ca_file`` a given CA (and implies TLS). ``timeout`` is the deadline of every unary call."""

    def __init__(
        self,
        address: str,
        *,
        as_email: str | None = None,
        id_token_audience: str | None = None,
        tls: bool = False,
        ca_file: str | Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        reconnect: ReconnectPolicy | None = None,
        id_token_source: IdTokenSource | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        self.reconnect = reconnect or ReconnectPolicy()
        self.tls = tls or ca_file is not None
        self.ca_file = Path(ca_file) if ca_file is not None else None
        self._static: Metadata = dev_identity(as_email) if as_email else ()
        self._id_token = id_token_source or (IdTokenSource(id_token_audience) if id_token_audience else None)
        self._channel: grpc.aio.Channel | None = None
        self.runs = RunsClient(self)
        self.logs = LogsClient(self)
        self.pipelines = PipelinesClient(self)
        self.benchling = BenchlingClient(self)

    # --- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> ArcClient:
        self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def open(self) -> None:
        """Create the channel (in the running event loop: a grpc.aio channel belongs to one loop)."""
        if self._channel is not None:
            return
        if self.tls:
            roots = self.ca_file.read_bytes() if self.ca_file is not None else None  # None: system roots
            self._channel = grpc.aio.secure_channel(
                self.address, grpc.ssl_channel_credentials(root_certificates=roots), options=CHANNEL_OPTIONS
            )
        else:
            self._channel = grpc.aio.insecure_channel(self.address, options=CHANNEL_OPTIONS)

    async def close(self) -> None:
        if self._channel is not None:
            channel, self._channel = self._channel, None
            await channel.close()

    @property
    def channel(self) -> grpc.aio.Channel:
        if self._channel is None:
            raise RuntimeError("the client is not open: use `async with ArcClient(...)` or call open()")
        return self._channel

    # --- calls ----------------------------------------------------------------------------------

    async def metadata(self) -> Metadata:
        token = await self._id_token.metadata() if self._id_token is not None else ()
        return self._static + token

    async def unary(self, method: Callable[..., Awaitable[T]], request: Any, timeout: float | None) -> T:
        """One unary call with the credentials and a deadline; failures as ``arc_client.errors``."""
        try:
            return await method(
                request, metadata=await self.metadata(), timeout=self.timeout if timeout is None else timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None

    async def stream(self, method: Callable[..., Any], request: Any) -> AsyncIterator[Any]:
        """A server stream (no deadline: it lasts as long as the run), without resuming."""
        call = method(request, metadata=await self.metadata())
        try:
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as exc:
            raise from_rpc_error(exc) from None
        finally:
            call.cancel()

    async def resuming(
        self, method: Callable[..., Any], request_at: Callable[[], Any], step: Callable[[Any], tuple[bool, bool]]
    ) -> AsyncIterator[Any]:
        """A server stream reopened after a drop with the request ``request_at()`` builds from the position."""
        metadata = await self.metadata()

        def open_call() -> Any:
            return method(request_at(), metadata=metadata)

        async for item in resuming_stream(open_call, step, self.reconnect):
            yield item


async def _pages(
    fetch: Callable[[str], Awaitable[Any]], items: Callable[[Any], Iterable[T]], limit: int | None
) -> AsyncIterator[T]:
    """Every item across pages (``next_page_token`` until empty), at most ``limit`` of them."""
    token, count = "", 0
    while True:
        page = await fetch(token)
        for item in items(page):
            if limit is not None and count >= limit:
                return
            count += 1
            yield item
        token = page.next_page_token
        if not token:
            return


class _Facade:
    def __init__(self, client: ArcClient) -> None:
        self._client = client


class RunsClient(_Facade):
    """RunsService: runs, their files, their events."""

    @property
    def _stub(self) -> runs_service_pb2_grpc.RunsServiceStub:
        return runs_service_pb2_grpc.RunsServiceStub(self._client.channel)

    async def get_run(self, run_id: str, *, timeout: float | None = None) -> run_pb2.Run:
        return await self._client.unary(self._stub.GetRun, runs_service_pb2.GetRunRequest(run_id=run_id), timeout)

    async def list_runs_page(
        self,
        *,
        page_size: int = 0,
        page_token: str = "",
        filter: str = "",
        show_purged: bool = False,
        timeout: float | None = None,
    ) -> runs_service_pb2.ListRunsResponse:
        request = runs_service_pb2.ListRunsRequest(
            page_size=page_size, page_token=page_token, filter=filter, show_purged=show_purged
        )
        return await self._client.unary(self._stub.ListRuns, request, timeout)

    def list_runs(
        self,
        *,
        filter: str = "",
        show_purged: bool = False,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[run_pb2.Run]:
        """The runs the caller may see, newest first, page after page (``limit``: stop after that many)."""

        async def fetch(token: str) -> runs_service_pb2.ListRunsResponse:
            return await self.list_runs_page(
                page_size=page_size, page_token=token, filter=filter, show_purged=show_purged, timeout=timeout
            )

        return _pages(fetch, lambda page: page.runs, limit)

    async def create_run(
        self,
        *,
        pipeline: str,
        pipeline_version: str,
        samplesheet_csv: str,
        params: Mapping[str, Any] | None = None,
        config_content: str = "",
        name: str = "",
        description: str = "",
        labels: Mapping[str, str] | None = None,
        source_ngs_runs: Iterable[str] = (),
        source_project: str = "",
        request_id: str = "",
        timeout: float | None = None,
    ) -> run_pb2.Run:
        request = create_run_request(
            pipeline=pipeline,
            pipeline_version=pipeline_version,
            samplesheet_csv=samplesheet_csv,
            params=params,
            config_content=config_content,
            name=name,
            description=description,
            labels=labels,
            source_ngs_runs=source_ngs_runs,
            source_project=source_project,
            request_id=request_id,
        )
        return await self._client.unary(self._stub.CreateRun, request, timeout)

    async def create_run_from(
        self, request: runs_service_pb2.CreateRunRequest, *, timeout: float | None = None
    ) -> run_pb2.Run:
        """CreateRun with a request built by the caller (e.g. a launch document read back)."""
        return await self._client.unary(self._stub.CreateRun, request, timeout)

    async def validate_run(
        self, request: runs_service_pb2.CreateRunRequest, *, timeout: float | None = None
    ) -> runs_service_pb2.ValidateRunResponse:
        return await self._client.unary(
            self._stub.ValidateRun, runs_service_pb2.ValidateRunRequest(run=request), timeout
        )

    async def cancel_run(self, run_id: str, *, timeout: float | None = None) -> run_pb2.Run:
        return await self._client.unary(self._stub.CancelRun, runs_service_pb2.CancelRunRequest(run_id=run_id), timeout)

    async def recover_run(
        self,
        run_id: str,
        *,
        reuse_work_dir: bool = True,
        notes: str = "",
        override_params: Mapping[str, Any] | None = None,
        override_config: str = "",
        request_id: str = "",
        timeout: float | None = None,
    ) -> run_pb2.Run:
        request = runs_service_pb2.RecoverRunRequest(
            run_id=run_id,
            reuse_work_dir=reuse_work_dir,
            notes=notes,
            override_config=override_config,
            request_id=request_id,
        )
        if override_params is not None:
            request.override_params.CopyFrom(to_struct(override_params))
        return await self._client.unary(self._stub.RecoverRun, request, timeout)

    async def relaunch_run(
        self,
        run_id: str,
        *,
        pipeline_version: str = "",
        override_params: Mapping[str, Any] | None = None,
        merge_params: bool = False,
        override_config: str | None = None,
        override_samplesheet_csv: str | None = None,
        name: str = "",
        request_id: str = "",
        timeout: float | None = None,
    ) -> run_pb2.Run:
        request = runs_service_pb2.RelaunchRunRequest(
            run_id=run_id,
            pipeline_version=pipeline_version,
            merge_params=merge_params,
            name=name,
            request_id=request_id,
        )
        if override_params is not None:
            request.override_params.CopyFrom(to_struct(override_params))
        if override_config is not None:
            request.override_config = override_config
        if override_samplesheet_csv is not None:
            request.override_samplesheet_csv = override_samplesheet_csv
        return await self._client.unary(self._stub.RelaunchRun, request, timeout)

    async def update_run(
        self,
        run_id: str,
        *,
        name: str | None = None,
        description: str | None = None,
        labels: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> run_pb2.Run:
        """Changes only what is given (``name=""`` restores the default name; ``labels`` replaces them all)."""
        run = run_pb2.Run(run_id=run_id, name=name or "", description=description or "", labels=labels or {})
        paths = [p for p, v in (("name", name), ("description", description), ("labels", labels)) if v is not None]
        if not paths:
            raise ValueError("update_run needs a name, a description or labels")
        request = runs_service_pb2.UpdateRunRequest(run=run, update_mask=field_mask_pb2.FieldMask(paths=paths))
        return await self._client.unary(self._stub.UpdateRun, request, timeout)

    async def get_launch(self, run_id: str, *, timeout: float | None = None) -> run_pb2.RunLaunch:
        return await self._client.unary(
            self._stub.GetRunLaunch, runs_service_pb2.GetRunLaunchRequest(run_id=run_id), timeout
        )

    async def history(self, run_id: str, *, timeout: float | None = None) -> run_pb2.RunHistory:
        return await self._client.unary(
            self._stub.GetRunHistory, runs_service_pb2.GetRunHistoryRequest(run_id=run_id), timeout
        )

    async def purge_run(self, run_id: str, *, timeout: float | None = None) -> run_pb2.Run:
        return await self._client.unary(self._stub.PurgeRun, runs_service_pb2.PurgeRunRequest(run_id=run_id), timeout)

    async def list_files(self, run_id: str, *, timeout: float | None = None) -> runs_service_pb2.ListRunFilesResponse:
        return await self._client.unary(
            self._stub.ListRunFiles, runs_service_pb2.ListRunFilesRequest(run_id=run_id), timeout
        )

    def read_file(self, run_id: str, path: str) -> AsyncIterator[runs_service_pb2.ReadRunFileResponse]:
        """The file's pieces in order (``data``, ``offset``; ``total_size`` on the first)."""
        return self._client.stream(
            self._stub.ReadRunFile, runs_service_pb2.ReadRunFileRequest(run_id=run_id, path=path)
        )

    async def read_file_bytes(self, run_id: str, path: str) -> bytes:
        return b"".join([piece.data async for piece in self.read_file(run_id, path)])

    def watch_run(self, run_id: str, *, after_sequence: int = 0) -> AsyncIterator[runs_service_pb2.WatchRunResponse]:
        """The run's current state (or every event after ``after_sequence``), then each change, ending with
        the ``final`` event. A dropped stream is reopened after the last sequence seen: no status event is
        missed or repeated, and a progress snapshot equal to the last one given is not given again."""
        state = {"sequence": after_sequence}
        last_progress: list[runs_service_pb2.WatchRunResponse] = []

        def request_at() -> runs_service_pb2.WatchRunRequest:
            return runs_service_pb2.WatchRunRequest(run_id=run_id, after_sequence=state["sequence"])

        def step(event: runs_service_pb2.WatchRunResponse) -> tuple[bool, bool]:
            if event.HasField("progress"):
                # A reconnect sends the current snapshot afresh (with a new time): not news when it is the same.
                if last_progress and last_progress[0].progress == event.progress:
                    return False, False
                last_progress[:] = [event]
                return True, event.final
            if state["sequence"] > 0 and event.sequence <= state["sequence"]:
                return False, False  # already given before the drop
            state["sequence"] = event.sequence
            return True, event.final

        return self._client.resuming(self._stub.WatchRun, request_at, step)

    async def current_user(self, *, timeout: float | None = None) -> user_pb2.User:
        return await self._client.unary(self._stub.GetCurrentUser, runs_service_pb2.GetCurrentUserRequest(), timeout)

    async def update_preferences(
        self, preferences: Mapping[str, Any], *, timeout: float | None = None
    ) -> user_pb2.User:
        request = runs_service_pb2.UpdatePreferencesRequest(preferences=to_struct(preferences))
        return await self._client.unary(self._stub.UpdatePreferences, request, timeout)

    async def system_info(self, *, timeout: float | None = None) -> system_pb2.SystemInfo:
        return await self._client.unary(self._stub.GetSystemInfo, runs_service_pb2.GetSystemInfoRequest(), timeout)


def create_run_request(
    *,
    pipeline: str,
    pipeline_version: str,
    samplesheet_csv: str,
    params: Mapping[str, Any] | None = None,
    config_content: str = "",
    name: str = "",
    description: str = "",
    labels: Mapping[str, str] | None = None,
    source_ngs_runs: Iterable[str] = (),
    source_project: str = "",
    request_id: str = "",
) -> runs_service_pb2.CreateRunRequest:
    return runs_service_pb2.CreateRunRequest(
        pipeline=pipeline,
        pipeline_version=pipeline_version,
        samplesheet_csv=samplesheet_csv,
        params=to_struct(params),
        config_content=config_content,
        name=name,
        description=description,
        labels=dict(labels or {}),
        source_ngs_runs=list(source_ngs_runs),
        source_project=source_project,
        request_id=request_id,
    )


class LogsClient(_Facade):
    """LogsService: the workflow log, the tasks and their output."""

    @property
    def _stub(self) -> logs_service_pb2_grpc.LogsServiceStub:
        return logs_service_pb2_grpc.LogsServiceStub(self._client.channel)

    async def workflow_log(
        self, run_id: str, *, offset: int = 0, limit: int = 0, timeout: float | None = None
    ) -> logs_service_pb2.GetWorkflowLogResponse:
        request = logs_service_pb2.GetWorkflowLogRequest(run_id=run_id, offset=offset, limit=limit)
        return await self._client.unary(self._stub.GetWorkflowLog, request, timeout)

    def follow_workflow_log(
        self, run_id: str, *, offset: int = 0
    ) -> AsyncIterator[logs_service_pb2.StreamWorkflowLogResponse]:
        """Batches of entries from byte ``offset``, ending once the run is terminal and its log read. A
        dropped stream is reopened at the last batch's ``next_offset``: no entry is missed or repeated."""
        state = {"offset": offset}

        def request_at() -> logs_service_pb2.StreamWorkflowLogRequest:
            return logs_service_pb2.StreamWorkflowLogRequest(run_id=run_id, offset=state["offset"])

        def step(batch: logs_service_pb2.StreamWorkflowLogResponse) -> tuple[bool, bool]:
            fresh = [e for e in batch.entries if e.offset >= state["offset"]]
            if not fresh:
                return False, False
            if len(fresh) != len(batch.entries):  # never expected: the server starts at the offset asked
                del batch.entries[:]
                batch.entries.extend(fresh)
            state["offset"] = max(state["offset"], batch.next_offset)
            return True, False

        return self._client.resuming(self._stub.StreamWorkflowLog, request_at, step)

    async def list_tasks_page(
        self,
        run_id: str,
        *,
        status: str = "",
        process: str = "",
        page_size: int = 0,
        page_token: str = "",
        timeout: float | None = None,
    ) -> logs_service_pb2.ListTasksResponse:
        request = logs_service_pb2.ListTasksRequest(
            run_id=run_id, status=status, process=process, page_size=page_size, page_token=page_token
        )
        return await self._client.unary(self._stub.ListTasks, request, timeout)

    def list_tasks(
        self,
        run_id: str,
        *,
        status: str = "",
        process: str = "",
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[log_pb2.TaskInfo]:
        """The run's tasks in trace order, page after page."""

        async def fetch(token: str) -> logs_service_pb2.ListTasksResponse:
            return await self.list_tasks_page(
                run_id, status=status, process=process, page_size=page_size, page_token=token, timeout=timeout
            )

        return _pages(fetch, lambda page: page.tasks, limit)

    async def task_logs(
        self, run_id: str, task_id: str, *, timeout: float | None = None
    ) -> logs_service_pb2.GetTaskLogsResponse:
        request = logs_service_pb2.GetTaskLogsRequest(run_id=run_id, task_id=task_id)
        return await self._client.unary(self._stub.GetTaskLogs, request, timeout)

    def follow_task_logs(
        self, run_id: str, task_id: str, *, after_position: str = ""
    ) -> AsyncIterator[logs_service_pb2.StreamTaskLogsResponse]:
        """A task's output as it comes, reopened after a drop at the last piece's ``position``."""
        state = {"position": after_position}

        def request_at() -> logs_service_pb2.StreamTaskLogsRequest:
            return logs_service_pb2.StreamTaskLogsRequest(
                run_id=run_id, task_id=task_id, after_position=state["position"]
            )

        def step(piece: logs_service_pb2.StreamTaskLogsResponse) -> tuple[bool, bool]:
            if piece.position:
                state["position"] = piece.position
            return True, False

        return self._client.resuming(self._stub.StreamTaskLogs, request_at, step)

    def download_log_archive(self, run_id: str) -> AsyncIterator[logs_service_pb2.DownloadLogArchiveResponse]:
        """The zip's pieces in order (the first carries ``filename``); not resumable (no offset in the API)."""
        return self._client.stream(
            self._stub.DownloadLogArchive, logs_service_pb2.DownloadLogArchiveRequest(run_id=run_id)
        )


class PipelinesClient(_Facade):
    """PipelinesService: the registry and its schemas."""

    @property
    def _stub(self) -> pipelines_service_pb2_grpc.PipelinesServiceStub:
        return pipelines_service_pb2_grpc.PipelinesServiceStub(self._client.channel)

    def list_pipelines(
        self, *, page_size: int = 0, limit: int | None = None, timeout: float | None = None
    ) -> AsyncIterator[pipeline_pb2.Pipeline]:
        async def fetch(token: str) -> pipelines_service_pb2.ListPipelinesResponse:
            request = pipelines_service_pb2.ListPipelinesRequest(page_size=page_size, page_token=token)
            return await self._client.unary(self._stub.ListPipelines, request, timeout)

        return _pages(fetch, lambda page: page.pipelines, limit)

    async def get_pipeline(self, name: str, *, timeout: float | None = None) -> pipeline_pb2.Pipeline:
        return await self._client.unary(
            self._stub.GetPipeline, pipelines_service_pb2.GetPipelineRequest(name=name), timeout
        )

    async def get_schema(
        self, name: str, version: str = "", *, timeout: float | None = None
    ) -> pipeline_pb2.PipelineSchema:
        request = pipelines_service_pb2.GetPipelineSchemaRequest(name=name, version=version)
        return await self._client.unary(self._stub.GetPipelineSchema, request, timeout)

    async def validate_inputs(
        self,
        pipeline: str,
        *,
        pipeline_version: str = "",
        params: Mapping[str, Any] | None = None,
        samplesheet_csv: str = "",
        samplesheet_only: bool = False,
        user_config: str = "",
        timeout: float | None = None,
    ) -> pipelines_service_pb2.ValidateRunInputsResponse:
        request = pipelines_service_pb2.ValidateRunInputsRequest(
            pipeline=pipeline,
            pipeline_version=pipeline_version,
            params=to_struct(params),
            samplesheet_csv=samplesheet_csv,
            samplesheet_only=samplesheet_only,
            user_config=user_config,
        )
        return await self._client.unary(self._stub.ValidateRunInputs, request, timeout)


class BenchlingClient(_Facade):
    """BenchlingService: the lab's NGS runs and samples, and samplesheets built from them."""

    @property
    def _stub(self) -> benchling_service_pb2_grpc.BenchlingServiceStub:
        return benchling_service_pb2_grpc.BenchlingServiceStub(self._client.channel)

    def list_ngs_runs(
        self,
        *,
        project: str = "",
        instrument: str = "",
        name_contains: str = "",
        created_after: timestamp_pb2.Timestamp | None = None,
        created_before: timestamp_pb2.Timestamp | None = None,
        page_size: int = 0,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> AsyncIterator[ngs_pb2.NgsRun]:
        async def fetch(token: str) -> benchling_service_pb2.ListNgsRunsResponse:
            request = benchling_service_pb2.ListNgsRunsRequest(
                project=project,
                instrument=instrument,
                name_contains=name_contains,
                page_size=page_size,
                page_token=token,
                created_after=created_after,
                created_before=created_before,
            )
            return await self._client.unary(self._stub.ListNgsRuns, request, timeout)

        return _pages(fetch, lambda page: page.ngs_runs, limit)

    async def list_samples(
        self, ngs_run: str, *, timeout: float | None = None
    ) -> benchling_service_pb2.ListNgsRunSamplesResponse:
        request = benchling_service_pb2.ListNgsRunSamplesRequest(ngs_run=ngs_run)
        return await self._client.unary(self._stub.ListNgsRunSamples, request, timeout)

    async def metadata(self, *, timeout: float | None = None) -> ngs_pb2.Metadata:
        return await self._client.unary(self._stub.GetMetadata, benchling_service_pb2.GetMetadataRequest(), timeout)

    async def build_samplesheet(
        self, pipeline: str, ngs_runs: Iterable[str], *, pipeline_version: str = "", timeout: float | None = None
    ) -> benchling_service_pb2.BuildSamplesheetResponse:
        request = benchling_service_pb2.BuildSamplesheetRequest(
            pipeline=pipeline, pipeline_version=pipeline_version, ngs_runs=list(ngs_runs)
        )
        return await self._client.unary(self._stub.BuildSamplesheet, request, timeout)
