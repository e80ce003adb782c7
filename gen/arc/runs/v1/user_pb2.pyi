import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class User(_message.Message):
    __slots__ = ("email", "display_name", "is_admin", "total_runs", "successful_runs", "total_samples_processed", "runs_by_status", "preferences", "created_at")
    class RunsByStatusEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    EMAIL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_RUNS_FIELD_NUMBER: _ClassVar[int]
    SUCCESSFUL_RUNS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SAMPLES_PROCESSED_FIELD_NUMBER: _ClassVar[int]
    RUNS_BY_STATUS_FIELD_NUMBER: _ClassVar[int]
    PREFERENCES_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    email: str
    display_name: str
    is_admin: bool
    total_runs: int
    successful_runs: int
    total_samples_processed: int
    runs_by_status: _containers.ScalarMap[str, int]
    preferences: _struct_pb2.Struct
    created_at: _timestamp_pb2.Timestamp
    def __init__(self, email: _Optional[str] = ..., display_name: _Optional[str] = ..., is_admin: _Optional[bool] = ..., total_runs: _Optional[int] = ..., successful_runs: _Optional[int] = ..., total_samples_processed: _Optional[int] = ..., runs_by_status: _Optional[_Mapping[str, int]] = ..., preferences: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
