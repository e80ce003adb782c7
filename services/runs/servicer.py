"""gRPC face of the Runs service: translate messages, delegate to :class:`RunsService`."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC

import grpc

from arc.logs.v1 import log_pb2
from arc.runs.v1 import run_pb2, runs_service_pb2, runs_service_pb2_grpc, system_pb2, user_pb2
from arc_core.contracts.run_status import REPORT_TIMESTAMP
from arc_core.grpc_server import add_methods, current_identity, metadata_dict, servicer_methods
from arc_core.identity import RUN_TOKEN_HEADER, Identity
from services.runs.convert import STATUS_FROM_PROTO, STATUS_TO_PROTO, from_struct, run_to_proto, timestamp, to_struct
from services.runs.inputs import RunInput
from services.runs.launch import LaunchDocument, RelaunchInput
from services.runs.model import User
from services.runs.run_update import RunUpdate, update_paths
from services.runs.service import RecoveryInput, RunsService
from services.runs.system_info import SystemInfo

SERVICE_NAME = runs_service_pb2.DESCRIPTOR.services_by_name["RunsService"].full_name
REPORT_NAME = "ReportRunStatus"
REPORT_METHOD = f"/{SERVICE_NAME}/{REPORT_NAME}"

REPORT_TIMESTAMPS = REPORT_TIMESTAMP


class RunsServicer(runs_service_pb2_grpc.RunsServiceServicer):
    def __init__(self, service: RunsService) -> None:
        self.service = service

    async def _caller(self) -> Identity:
        caller = current_identity()
        await self.service.touch_user(caller)
        return caller

    async def GetRun(self, request: runs_service_pb2.GetRunRequest, context: grpc.aio.ServicerContext) -> run_pb2.Run:
        return run_to_proto(await self.service.get_run(await self._caller(), request.run_id))

    async def ListRuns(
        self, request: runs_service_pb2.ListRunsRequest, context: grpc.aio.ServicerContext
    ) -> runs_service_pb2.ListRunsResponse:
        runs, next_token, total = await self.service.list_runs(
            await self._caller(),
            filter_text=request.filter,
            page_size=request.page_size,
            page_token=request.page_token,
            skip=request.skip,
            show_purged=request.show_purged,
        )
        return runs_service_pb2.ListRunsResponse(
            runs=[run_to_proto(r) for r in runs], next_page_token=next_token, total_size=total
        )

    # --- names and labels ---

    async def UpdateRun(
        self, request: runs_service_pb2.UpdateRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        update = RunUpdate(
            paths=update_paths(list(request.update_mask.paths)),
            name=request.run.name,
            description=request.run.description,
            labels=dict(request.run.labels),
        )
        return run_to_proto(await self.service.update_run(await self._caller(), request.run.run_id, update))

    async def CreateRun(
        self, request: runs_service_pb2.CreateRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        return run_to_proto(await self.service.create_run(await self._caller(), run_input(request)))

    async def CancelRun(
        self, request: runs_service_pb2.CancelRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        return run_to_proto(await self.service.cancel_run(await self._caller(), request.run_id))

    async def RecoverRun(
        self, request: runs_service_pb2.RecoverRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        recovery = RecoveryInput(
            reuse_work_dir=request.reuse_work_dir,
            notes=request.notes,
            override_params=from_struct(request.override_params) if request.HasField("override_params") else None,
            override_config=request.override_config or None,
            request_id=request.request_id,
        )
        return run_to_proto(await self.service.recover_run(await self._caller(), request.run_id, recovery))

    async def ListRunFiles(
        self, request: runs_service_pb2.ListRunFilesRequest, context: grpc.aio.ServicerContext
    ) -> runs_service_pb2.ListRunFilesResponse:
        groups = await self.service.list_files(await self._caller(), request.run_id)
        response = runs_service_pb2.ListRunFilesResponse()
        for name, files in groups.items():
            getattr(response, name).extend(
                run_pb2.RunFile(
                    path=f.path, size_bytes=f.size, updated_at=timestamp(f.updated_at), download_url=f.download_url
                )
                for f in files
            )
        return response

    async def ReadRunFile(
        self, request: runs_service_pb2.ReadRunFileRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[runs_service_pb2.ReadRunFileResponse]:
        size, chunks = await self.service.read_file(await self._caller(), request.run_id, request.path)
        offset = 0
        async for data in chunks:
            yield runs_service_pb2.ReadRunFileResponse(data=data, offset=offset, total_size=size if offset == 0 else 0)
            offset += len(data)
        if offset == 0:
            yield runs_service_pb2.ReadRunFileResponse(data=b"", offset=0, total_size=size)

    async def WatchRun(
        self, request: runs_service_pb2.WatchRunRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[runs_service_pb2.WatchRunResponse]:
        async for event in self.service.watch(await self._caller(), request.run_id, request.after_sequence):
            message = runs_service_pb2.WatchRunResponse(
                sequence=event.seq, time=timestamp(event.time), final=event.final
            )
            if event.run is not None:
                message.status.CopyFrom(run_to_proto(event.run))
            else:
                message.progress.processes.extend(
                    log_pb2.ProcessProgress(**dataclasses.asdict(p)) for p in event.progress or ()
                )
            yield message

    async def ReportRunStatus(
        self, request: runs_service_pb2.ReportRunStatusRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        token = metadata_dict(context).get(RUN_TOKEN_HEADER, "")
        target = STATUS_FROM_PROTO.get(request.status, "")
        at_field = REPORT_TIMESTAMPS.get(target)
        at = getattr(request, at_field).ToDatetime(tzinfo=UTC) if at_field and request.HasField(at_field) else None
        fields: dict[str, object] = {
            "error_message": request.error_message or None,
            "error_task": request.error_task or None,
            "exit_code": request.exit_code if request.HasField("exit_code") else None,
            "metrics": from_struct(request.metrics) if request.HasField("metrics") else None,
            "nextflow_session_id": request.nextflow_session_id or None,
        }
        return run_to_proto(await self.service.report_status(token, request.run_id, target, at=at, fields=fields))

    # --- history and purge -------------------------------------------------------------

    async def GetRunHistory(
        self, request: runs_service_pb2.GetRunHistoryRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.RunHistory:
        entries, links = await self.service.get_history(await self._caller(), request.run_id)
        return run_pb2.RunHistory(
            run_id=request.run_id,
            entries=[
                run_pb2.RunHistoryEntry(
                    kind=e.kind,
                    time=timestamp(e.time),
                    actor=e.actor,
                    reason=e.reason,
                    from_status=STATUS_TO_PROTO[e.from_status] if e.from_status else run_pb2.Run.STATUS_UNSPECIFIED,
                    to_status=STATUS_TO_PROTO[e.to_status],
                )
                for e in entries
            ],
            links=[
                run_pb2.RunLink(relation=link.relation, run_id=link.run_id, created_at=timestamp(link.created_at))
                for link in links
            ],
        )

    async def PurgeRun(
        self, request: runs_service_pb2.PurgeRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        return run_to_proto(await self.service.purge_run(await self._caller(), request.run_id))

    # --- launch documents, relaunch, validation ---------------------------------------

    async def GetRunLaunch(
        self, request: runs_service_pb2.GetRunLaunchRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.RunLaunch:
        return launch_to_proto(await self.service.get_launch(await self._caller(), request.run_id))

    async def RelaunchRun(
        self, request: runs_service_pb2.RelaunchRunRequest, context: grpc.aio.ServicerContext
    ) -> run_pb2.Run:
        relaunch = RelaunchInput(
            pipeline_version=request.pipeline_version,
            override_params=from_struct(request.override_params) if request.HasField("override_params") else None,
            merge_params=request.merge_params,
            override_config=request.override_config if request.HasField("override_config") else None,
            override_samplesheet_csv=request.override_samplesheet_csv
            if request.HasField("override_samplesheet_csv")
            else None,
            name=request.name,
            request_id=request.request_id,
        )
        return run_to_proto(await self.service.relaunch_run(await self._caller(), request.run_id, relaunch))

    async def ValidateRun(
        self, request: runs_service_pb2.ValidateRunRequest, context: grpc.aio.ServicerContext
    ) -> runs_service_pb2.ValidateRunResponse:
        result = await self.service.validate_run(await self._caller(), run_input(request.run))
        return runs_service_pb2.ValidateRunResponse(
            sample_count=result.sample_count, warnings=result.warnings, name=result.name
        )

    # --- who am I, and the system ---------------------------------------------------------

    async def GetCurrentUser(
        self, request: runs_service_pb2.GetCurrentUserRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        return user_to_proto(await self.service.get_current_user(await self._caller()))

    async def UpdatePreferences(
        self, request: runs_service_pb2.UpdatePreferencesRequest, context: grpc.aio.ServicerContext
    ) -> user_pb2.User:
        preferences = from_struct(request.preferences)
        return user_to_proto(await self.service.update_preferences(await self._caller(), preferences))

    async def GetSystemInfo(
        self, request: runs_service_pb2.GetSystemInfoRequest, context: grpc.aio.ServicerContext
    ) -> system_pb2.SystemInfo:
        return system_to_proto(await self.service.get_system_info(await self._caller()))


def user_to_proto(user: User) -> user_pb2.User:
    message = user_pb2.User(
        email=user.email,
        display_name=user.display_name,
        is_admin=user.is_admin,
        total_runs=user.total_runs,
        successful_runs=user.successful_runs,
        total_samples_processed=user.total_samples_processed,
        runs_by_status=user.runs_by_status,
    )
    message.preferences.CopyFrom(to_struct(user.preferences))  # always present, even when empty
    if user.created_at is not None:
        message.created_at.CopyFrom(timestamp(user.created_at))
    return message


def system_to_proto(info: SystemInfo) -> system_pb2.SystemInfo:
    return system_pb2.SystemInfo(
        version=info.version,
        executor=info.executor,
        storage=info.storage,
        nextflow_version=info.nextflow_version,
        runs_by_status=info.runs_by_status,
        queue=system_pb2.ExecutorQueue(**dataclasses.asdict(info.queue)),
        work_retention_days=info.work_retention_days,
    )


def add_to_main_server(servicer: RunsServicer, server: grpc.aio.Server) -> None:
    """Every RunsService method but ReportRunStatus: orchestrators report on the status port only, so the
    main port (whose callers have a user or service identity) never takes a run token."""
    name, handlers = servicer_methods(runs_service_pb2_grpc.add_RunsServiceServicer_to_server, servicer)
    add_methods(server, name, {method: h for method, h in handlers.items() if method != REPORT_NAME})


def add_to_status_server(servicer: RunsServicer, server: grpc.aio.Server) -> None:
    """ReportRunStatus only: the port Batch VMs (user-written pipeline code) can reach."""
    name, handlers = servicer_methods(runs_service_pb2_grpc.add_RunsServiceServicer_to_server, servicer)
    add_methods(server, name, {REPORT_NAME: handlers[REPORT_NAME]})


# --- launch documents ---


def run_input(request: runs_service_pb2.CreateRunRequest) -> RunInput:
    """A CreateRun request as the domain's input (CreateRun's, and the one ValidateRun checks)."""
    return RunInput(
        pipeline=request.pipeline,
        pipeline_version=request.pipeline_version,
        samplesheet_csv=request.samplesheet_csv,
        config_content=request.config_content,
        params=from_struct(request.params),
        source_ngs_runs=list(request.source_ngs_runs),
        source_project=request.source_project,
        request_id=request.request_id,
        name=request.name,
        description=request.description,
        labels=dict(request.labels),
    )


def launch_to_proto(doc: LaunchDocument) -> run_pb2.RunLaunch:
    return run_pb2.RunLaunch(
        pipeline=doc.pipeline,
        pipeline_version=doc.pipeline_version,
        name=doc.name,
        description=doc.description,
        labels=doc.labels,
        params=to_struct(doc.params),
        config_content=doc.config_content,
        samplesheet_csv=doc.samplesheet_csv,
        source_ngs_runs=doc.source_ngs_runs,
        source_project=doc.source_project,
    )
