from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExecutorQueue(_message.Message):
    __slots__ = ("running", "queued", "capacity")
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    CAPACITY_FIELD_NUMBER: _ClassVar[int]
    running: int
    queued: int
    capacity: int
    def __init__(self, running: _Optional[int] = ..., queued: _Optional[int] = ..., capacity: _Optional[int] = ...) -> None: ...

class SystemInfo(_message.Message):
    __slots__ = ("version", "executor", "storage", "nextflow_version", "runs_by_status", "queue", "work_retention_days")
    class RunsByStatusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    EXECUTOR_FIELD_NUMBER: _ClassVar[int]
    STORAGE_FIELD_NUMBER: _ClassVar[int]
    NEXTFLOW_VERSION_FIELD_NUMBER: _ClassVar[int]
    RUNS_BY_STATUS_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    WORK_RETENTION_DAYS_FIELD_NUMBER: _ClassVar[int]
    version: str
    executor: str
    storage: str
    nextflow_version: str
    runs_by_status: _containers.ScalarMap[str, int]
    queue: ExecutorQueue
    work_retention_days: int
    def __init__(self, version: _Optional[str] = ..., executor: _Optional[str] = ..., storage: _Optional[str] = ..., nextflow_version: _Optional[str] = ..., runs_by_status: _Optional[_Mapping[str, int]] = ..., queue: _Optional[_Union[ExecutorQueue, _Mapping]] = ..., work_retention_days: _Optional[int] = ...) -> None: ...
