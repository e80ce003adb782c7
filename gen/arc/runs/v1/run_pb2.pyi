import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Run(_message.Message):
    __slots__ = ("run_id", "pipeline", "pipeline_version", "status", "user_email", "user_name", "created_at", "updated_at", "submitted_at", "started_at", "completed_at", "failed_at", "cancelled_at", "gcs_path", "batch_job_name", "params", "sample_count", "source_ngs_runs", "source_project", "parent_run_id", "is_recovery", "recovery_notes", "reused_work_dir", "exit_code", "error_message", "error_task", "metrics", "nextflow_session_id", "name", "description", "labels", "relaunched_from", "purged_at", "work_deleted_at")
    class Status(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATUS_UNSPECIFIED: _ClassVar[Run.Status]
        PENDING: _ClassVar[Run.Status]
        SUBMITTED: _ClassVar[Run.Status]
        RUNNING: _ClassVar[Run.Status]
        COMPLETED: _ClassVar[Run.Status]
        FAILED: _ClassVar[Run.Status]
        CANCELLED: _ClassVar[Run.Status]
    STATUS_UNSPECIFIED: Run.Status
    PENDING: Run.Status
    SUBMITTED: Run.Status
    RUNNING: Run.Status
    COMPLETED: Run.Status
    FAILED: Run.Status
    CANCELLED: Run.Status
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    USER_EMAIL_FIELD_NUMBER: _ClassVar[int]
    USER_NAME_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    COMPLETED_AT_FIELD_NUMBER: _ClassVar[int]
    FAILED_AT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_AT_FIELD_NUMBER: _ClassVar[int]
    GCS_PATH_FIELD_NUMBER: _ClassVar[int]
    BATCH_JOB_NAME_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NGS_RUNS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROJECT_FIELD_NUMBER: _ClassVar[int]
    PARENT_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    IS_RECOVERY_FIELD_NUMBER: _ClassVar[int]
    RECOVERY_NOTES_FIELD_NUMBER: _ClassVar[int]
    REUSED_WORK_DIR_FIELD_NUMBER: _ClassVar[int]
    EXIT_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_TASK_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    NEXTFLOW_SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    RELAUNCHED_FROM_FIELD_NUMBER: _ClassVar[int]
    PURGED_AT_FIELD_NUMBER: _ClassVar[int]
    WORK_DELETED_AT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    pipeline: str
    pipeline_version: str
    status: Run.Status
    user_email: str
    user_name: str
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    submitted_at: _timestamp_pb2.Timestamp
    started_at: _timestamp_pb2.Timestamp
    completed_at: _timestamp_pb2.Timestamp
    failed_at: _timestamp_pb2.Timestamp
    cancelled_at: _timestamp_pb2.Timestamp
    gcs_path: str
    batch_job_name: str
    params: _struct_pb2.Struct
    sample_count: int
    source_ngs_runs: _containers.RepeatedScalarFieldContainer[str]
    source_project: str
    parent_run_id: str
    is_recovery: bool
    recovery_notes: str
    reused_work_dir: str
    exit_code: int
    error_message: str
    error_task: str
    metrics: _struct_pb2.Struct
    nextflow_session_id: str
    name: str
    description: str
    labels: _containers.ScalarMap[str, str]
    relaunched_from: str
    purged_at: _timestamp_pb2.Timestamp
    work_deleted_at: _timestamp_pb2.Timestamp
    def __init__(self, run_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., status: _Optional[_Union[Run.Status, str]] = ..., user_email: _Optional[str] = ..., user_name: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., submitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., completed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., failed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., cancelled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., gcs_path: _Optional[str] = ..., batch_job_name: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., sample_count: _Optional[int] = ..., source_ngs_runs: _Optional[_Iterable[str]] = ..., source_project: _Optional[str] = ..., parent_run_id: _Optional[str] = ..., is_recovery: _Optional[bool] = ..., recovery_notes: _Optional[str] = ..., reused_work_dir: _Optional[str] = ..., exit_code: _Optional[int] = ..., error_message: _Optional[str] = ..., error_task: _Optional[str] = ..., metrics: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., nextflow_session_id: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., relaunched_from: _Optional[str] = ..., purged_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., work_deleted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunFile(_message.Message):
    __slots__ = ("path", "size_bytes", "updated_at", "download_url")
    PATH_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    DOWNLOAD_URL_FIELD_NUMBER: _ClassVar[int]
    path: str
    size_bytes: int
    updated_at: _timestamp_pb2.Timestamp
    download_url: str
    def __init__(self, path: _Optional[str] = ..., size_bytes: _Optional[int] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., download_url: _Optional[str] = ...) -> None: ...

class RunLaunch(_message.Message):
    __slots__ = ("pipeline", "pipeline_version", "name", "description", "labels", "params", "config_content", "samplesheet_csv", "source_ngs_runs", "source_project")
    class LabelsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_CONTENT_FIELD_NUMBER: _ClassVar[int]
    SAMPLESHEET_CSV_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NGS_RUNS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROJECT_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pipeline_version: str
    name: str
    description: str
    labels: _containers.ScalarMap[str, str]
    params: _struct_pb2.Struct
    config_content: str
    samplesheet_csv: str
    source_ngs_runs: _containers.RepeatedScalarFieldContainer[str]
    source_project: str
    def __init__(self, pipeline: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., name: _Optional[str] = ..., description: _Optional[str] = ..., labels: _Optional[_Mapping[str, str]] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., config_content: _Optional[str] = ..., samplesheet_csv: _Optional[str] = ..., source_ngs_runs: _Optional[_Iterable[str]] = ..., source_project: _Optional[str] = ...) -> None: ...

class RunHistoryEntry(_message.Message):
    __slots__ = ("kind", "time", "actor", "reason", "from_status", "to_status")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    FROM_STATUS_FIELD_NUMBER: _ClassVar[int]
    TO_STATUS_FIELD_NUMBER: _ClassVar[int]
    kind: str
    time: _timestamp_pb2.Timestamp
    actor: str
    reason: str
    from_status: Run.Status
    to_status: Run.Status
    def __init__(self, kind: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor: _Optional[str] = ..., reason: _Optional[str] = ..., from_status: _Optional[_Union[Run.Status, str]] = ..., to_status: _Optional[_Union[Run.Status, str]] = ...) -> None: ...

class RunLink(_message.Message):
    __slots__ = ("relation", "run_id", "created_at")
    RELATION_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    relation: str
    run_id: str
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, relation: _Optional[str] = ..., run_id: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class RunHistory(_message.Message):
    __slots__ = ("run_id", "entries", "links")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    LINKS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    entries: _containers.RepeatedCompositeFieldContainer[RunHistoryEntry]
    links: _containers.RepeatedCompositeFieldContainer[RunLink]
    def __init__(self, run_id: _Optional[str] = ..., entries: _Optional[_Iterable[_Union[RunHistoryEntry, _Mapping]]] = ..., links: _Optional[_Iterable[_Union[RunLink, _Mapping]]] = ...) -> None: ...
