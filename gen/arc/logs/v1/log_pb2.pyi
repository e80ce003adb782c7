import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LogEntry(_message.Message):
    __slots__ = ("offset", "end_offset", "timestamp", "level", "thread", "logger", "message")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    END_OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    THREAD_FIELD_NUMBER: _ClassVar[int]
    LOGGER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    offset: int
    end_offset: int
    timestamp: _timestamp_pb2.Timestamp
    level: str
    thread: str
    logger: str
    message: str
    def __init__(self, offset: _Optional[int] = ..., end_offset: _Optional[int] = ..., timestamp: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., level: _Optional[str] = ..., thread: _Optional[str] = ..., logger: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TaskInfo(_message.Message):
    __slots__ = ("task_id", "hash", "native_id", "name", "process", "tag", "status", "exit", "submit", "start", "complete", "duration_ms", "realtime_ms", "cpu_percent", "peak_rss_bytes", "peak_vmem_bytes", "rchar_bytes", "wchar_bytes", "workdir", "extra")
    class ExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    HASH_FIELD_NUMBER: _ClassVar[int]
    NATIVE_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    EXIT_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    REALTIME_MS_FIELD_NUMBER: _ClassVar[int]
    CPU_PERCENT_FIELD_NUMBER: _ClassVar[int]
    PEAK_RSS_BYTES_FIELD_NUMBER: _ClassVar[int]
    PEAK_VMEM_BYTES_FIELD_NUMBER: _ClassVar[int]
    RCHAR_BYTES_FIELD_NUMBER: _ClassVar[int]
    WCHAR_BYTES_FIELD_NUMBER: _ClassVar[int]
    WORKDIR_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    hash: str
    native_id: str
    name: str
    process: str
    tag: str
    status: str
    exit: int
    submit: _timestamp_pb2.Timestamp
    start: _timestamp_pb2.Timestamp
    complete: _timestamp_pb2.Timestamp
    duration_ms: int
    realtime_ms: int
    cpu_percent: float
    peak_rss_bytes: int
    peak_vmem_bytes: int
    rchar_bytes: int
    wchar_bytes: int
    workdir: str
    extra: _containers.ScalarMap[str, str]
    def __init__(self, task_id: _Optional[str] = ..., hash: _Optional[str] = ..., native_id: _Optional[str] = ..., name: _Optional[str] = ..., process: _Optional[str] = ..., tag: _Optional[str] = ..., status: _Optional[str] = ..., exit: _Optional[int] = ..., submit: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., complete: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., duration_ms: _Optional[int] = ..., realtime_ms: _Optional[int] = ..., cpu_percent: _Optional[float] = ..., peak_rss_bytes: _Optional[int] = ..., peak_vmem_bytes: _Optional[int] = ..., rchar_bytes: _Optional[int] = ..., wchar_bytes: _Optional[int] = ..., workdir: _Optional[str] = ..., extra: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ProcessProgress(_message.Message):
    __slots__ = ("process", "submitted", "running", "succeeded", "cached", "failed", "aborted", "total")
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    SUBMITTED_FIELD_NUMBER: _ClassVar[int]
    RUNNING_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    CACHED_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    ABORTED_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    process: str
    submitted: int
    running: int
    succeeded: int
    cached: int
    failed: int
    aborted: int
    total: int
    def __init__(self, process: _Optional[str] = ..., submitted: _Optional[int] = ..., running: _Optional[int] = ..., succeeded: _Optional[int] = ..., cached: _Optional[int] = ..., failed: _Optional[int] = ..., aborted: _Optional[int] = ..., total: _Optional[int] = ...) -> None: ...
