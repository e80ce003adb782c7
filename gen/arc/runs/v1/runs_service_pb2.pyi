import datetime

from arc.logs.v1 import log_pb2 as _log_pb2
from arc.runs.v1 import run_pb2 as _run_pb2
from arc.runs.v1 import system_pb2 as _system_pb2
from arc.runs.v1 import user_pb2 as _user_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ListRunsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "filter", "skip", "show_purged")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    FILTER_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    SHOW_PURGED_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    filter: str
    skip: int
    show_purged: bool
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., filter: _Optional[str] = ..., skip: _Optional[int] = ..., show_purged: _Optional[bool] = ...) -> None: ...

class ListRunsResponse(_message.Message):
    __slots__ = ("runs", "next_page_token", "total_size")
    RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    runs: _containers.RepeatedCompositeFieldContainer[_run_pb2.Run]
    next_page_token: str
    total_size: int
    def __init__(self, runs: _Optional[_Iterable[_Union[_run_pb2.Run, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CreateRunRequest(_message.Message):
    __slots__ = ("pipeline", "pipeline_version", "samplesheet_csv", "config_content", "params", "source_ngs_runs", "source_project", "request_id", "name", "description", "labels")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    SAMPLESHEET_CSV_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CONTENT_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NGS_RUNS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROJECT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pipeline_version: str
    samplesheet_csv: str
    config_content: str
    params: _struct_pb2.Struct
    source_ngs_runs: _containers.RepeatedScalarFieldContainer[str]
    source_project: str
    request_id: str
    name: str
    description: str
    labels: _containers.ScalarMap[str, str]
    def __init__(self, pipeline: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., samplesheet_csv: _Optional[str] = ..., config_content: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., source_ngs_runs: _Optional[_Iterable[str]] = ..., source_project: _Optional[str] = ..., request_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CancelRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class RecoverRunRequest(_message.Message):
    __slots__ = ("run_id", "reuse_work_dir", "notes", "override_params", "override_config", "request_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REUSE_WORK_DIR_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reuse_work_dir: bool
    notes: str
    override_params: _struct_pb2.Struct
    override_config: str
    request_id: str
    def __init__(self, run_id: _Optional[str] = ..., reuse_work_dir: _Optional[bool] = ..., notes: _Optional[str] = ..., override_params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., override_config: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListRunFilesRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class ListRunFilesResponse(_message.Message):
    __slots__ = ("inputs", "results", "logs")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    LOGS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[_run_pb2.RunFile]
    results: _containers.RepeatedCompositeFieldContainer[_run_pb2.RunFile]
    logs: _containers.RepeatedCompositeFieldContainer[_run_pb2.RunFile]
    def __init__(self, inputs: _Optional[_Iterable[_Union[_run_pb2.RunFile, _Mapping]]] = ..., results: _Optional[_Iterable[_Union[_run_pb2.RunFile, _Mapping]]] = ..., logs: _Optional[_Iterable[_Union[_run_pb2.RunFile, _Mapping]]] = ...) -> None: ...

class ReadRunFileRequest(_message.Message):
    __slots__ = ("run_id", "path")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    path: str
    def __init__(self, run_id: _Optional[str] = ..., path: _Optional[str] = ...) -> None: ...

class ReadRunFileResponse(_message.Message):
    __slots__ = ("data", "offset", "total_size")
    DATA_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    offset: int
    total_size: int
    def __init__(self, data: _Optional[bytes] = ..., offset: _Optional[int] = ..., total_size: _Optional[int] = ...) -> None: ...

class WatchRunRequest(_message.Message):
    __slots__ = ("run_id", "after_sequence")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    after_sequence: int
    def __init__(self, run_id: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class RunProgress(_message.Message):
    __slots__ = ("processes",)
    PROCESSES_FIELD_NUMBER: _ClassVar[int]
    processes: _containers.RepeatedCompositeFieldContainer[_log_pb2.ProcessProgress]
    def __init__(self, processes: _Optional[_Iterable[_Union[_log_pb2.ProcessProgress, _Mapping]]] = ...) -> None: ...

class WatchRunResponse(_message.Message):
    __slots__ = ("sequence", "time", "status", "progress", "final")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    FINAL_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    status: _run_pb2.Run
    progress: RunProgress
    final: bool
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., status: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., progress: _Optional[_Union[RunProgress, _Mapping]] = ..., final: _Optional[bool] = ...) -> None: ...

class ReportRunStatusRequest(_message.Message):
    __slots__ = ("run_id", "status", "started_at", "completed_at", "failed_at", "error_message", "error_task", "exit_code", "metrics", "nextflow_session_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_TASK_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    NEXTFLOW_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    status: _run_pb2.Run.Status
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    failed_at: _timestamp_pb2.Timestamp
    error_message: str
    error_task: str
    exit_code: int
    metrics: _struct_pb2.Struct
    nextflow_session_id: str
    def __init__(self, run_id: _Optional[str] = ..., status: _Optional[_Union[_run_pb2.Run.Status, str]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_message: _Optional[str] = ..., error_task: _Optional[str] = ..., exit_code: _Optional[int] = ..., metrics: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., nextflow_session_id: _Optional[str] = ...) -> None: ...

class UpdateRunRequest(_message.Message):
    __slots__ = ("run", "update_mask")
    RUN_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    run: _run_pb2.Run
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, run: _Optional[_Union[_run_pb2.Run, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class ValidateRunRequest(_message.Message):
    __slots__ = ("run",)
    RUN_FIELD_NUMBER: _ClassVar[int]
    run: CreateRunRequest
    def __init__(self, run: _Optional[_Union[CreateRunRequest, _Mapping]] = ...) -> None: ...

class ValidateRunResponse(_message.Message):
    __slots__ = ("sample_count", "warnings", "name")
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    WARNINGS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    sample_count: int
    warnings: _containers.RepeatedScalarFieldContainer[str]
    name: str
    def __init__(self, sample_count: _Optional[int] = ..., warnings: _Optional[_Iterable[str]] = ..., name: _Optional[str] = ...) -> None: ...

class GetRunLaunchRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class RelaunchRunRequest(_message.Message):
    __slots__ = ("run_id", "pipeline_version", "override_params", "override_config", "override_samplesheet_csv", "name", "request_id", "merge_params")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_CONFIG_FIELD_NUMBER: _ClassVar[int]
    OVERRIDE_SAMPLESHEET_CSV_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    MERGE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    pipeline_version: str
    override_params: _struct_pb2.Struct
    override_config: str
    override_samplesheet_csv: str
    name: str
    request_id: str
    merge_params: bool
    def __init__(self, run_id: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., override_params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., override_config: _Optional[str] = ..., override_samplesheet_csv: _Optional[str] = ..., name: _Optional[str] = ..., request_id: _Optional[str] = ..., merge_params: _Optional[bool] = ...) -> None: ...

class GetRunHistoryRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class PurgeRunRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class GetCurrentUserRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class UpdatePreferencesRequest(_message.Message):
    __slots__ = ("preferences",)
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    preferences: _struct_pb2.Struct
    def __init__(self, preferences: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class GetSystemInfoRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
