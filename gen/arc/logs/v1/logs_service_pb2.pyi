from arc.logs.v1 import log_pb2 as _log_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetWorkflowLogRequest(_message.Message):
    __slots__ = ("run_id", "offset", "limit")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    offset: int
    limit: int
    def __init__(self, run_id: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class GetWorkflowLogResponse(_message.Message):
    __slots__ = ("entries", "next_offset", "complete")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_log_pb2.LogEntry]
    next_offset: int
    complete: bool
    def __init__(self, entries: _Optional[_Iterable[_Union[_log_pb2.LogEntry, _Mapping]]] = ..., next_offset: _Optional[int] = ..., complete: _Optional[bool] = ...) -> None: ...

class StreamWorkflowLogRequest(_message.Message):
    __slots__ = ("run_id", "offset")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    offset: int
    def __init__(self, run_id: _Optional[str] = ..., offset: _Optional[int] = ...) -> None: ...

class StreamWorkflowLogResponse(_message.Message):
    __slots__ = ("entries", "next_offset")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_log_pb2.LogEntry]
    next_offset: int
    def __init__(self, entries: _Optional[_Iterable[_Union[_log_pb2.LogEntry, _Mapping]]] = ..., next_offset: _Optional[int] = ...) -> None: ...

class ListTasksRequest(_message.Message):
    __slots__ = ("run_id", "status", "process", "page_size", "page_token", "skip")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PROCESS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    SKIP_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    status: str
    process: str
    page_size: int
    page_token: str
    skip: int
    def __init__(self, run_id: _Optional[str] = ..., status: _Optional[str] = ..., process: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., skip: _Optional[int] = ...) -> None: ...

class ListTasksResponse(_message.Message):
    __slots__ = ("tasks", "next_page_token", "total_size", "progress", "truncated_rows")
    TASKS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_ROWS_FIELD_NUMBER: _ClassVar[int]
    tasks: _containers.RepeatedCompositeFieldContainer[_log_pb2.TaskInfo]
    next_page_token: str
    total_size: int
    progress: _containers.RepeatedCompositeFieldContainer[_log_pb2.ProcessProgress]
    truncated_rows: int
    def __init__(self, tasks: _Optional[_Iterable[_Union[_log_pb2.TaskInfo, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ..., progress: _Optional[_Iterable[_Union[_log_pb2.ProcessProgress, _Mapping]]] = ..., truncated_rows: _Optional[int] = ...) -> None: ...

class GetTaskLogsRequest(_message.Message):
    __slots__ = ("run_id", "task_id")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_id: str
    def __init__(self, run_id: _Optional[str] = ..., task_id: _Optional[str] = ...) -> None: ...

class GetTaskLogsResponse(_message.Message):
    __slots__ = ("stdout", "stderr", "truncated")
    STDOUT_FIELD_NUMBER: _ClassVar[int]
    STDERR_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    stdout: str
    stderr: str
    truncated: bool
    def __init__(self, stdout: _Optional[str] = ..., stderr: _Optional[str] = ..., truncated: _Optional[bool] = ...) -> None: ...

class StreamTaskLogsRequest(_message.Message):
    __slots__ = ("run_id", "task_id", "after_position")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    task_id: str
    after_position: str
    def __init__(self, run_id: _Optional[str] = ..., task_id: _Optional[str] = ..., after_position: _Optional[str] = ...) -> None: ...

class StreamTaskLogsResponse(_message.Message):
    __slots__ = ("stream", "text", "position")
    class Stream(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STREAM_UNSPECIFIED: _ClassVar[StreamTaskLogsResponse.Stream]
        STDOUT: _ClassVar[StreamTaskLogsResponse.Stream]
        STDERR: _ClassVar[StreamTaskLogsResponse.Stream]
    STREAM_UNSPECIFIED: StreamTaskLogsResponse.Stream
    STDOUT: StreamTaskLogsResponse.Stream
    STDERR: StreamTaskLogsResponse.Stream
    STREAM_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    stream: StreamTaskLogsResponse.Stream
    text: str
    position: str
    def __init__(self, stream: _Optional[_Union[StreamTaskLogsResponse.Stream, str]] = ..., text: _Optional[str] = ..., position: _Optional[str] = ...) -> None: ...

class DownloadLogArchiveRequest(_message.Message):
    __slots__ = ("run_id",)
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    def __init__(self, run_id: _Optional[str] = ...) -> None: ...

class DownloadLogArchiveResponse(_message.Message):
    __slots__ = ("data", "filename")
    DATA_FIELD_NUMBER: _ClassVar[int]
    FILENAME_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    filename: str
    def __init__(self, data: _Optional[bytes] = ..., filename: _Optional[str] = ...) -> None: ...
