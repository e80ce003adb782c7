from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Pipeline(_message.Message):
    __slots__ = ("name", "display_name", "description", "repository_url", "versions", "default_version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    REPOSITORY_URL_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    repository_url: str
    versions: _containers.RepeatedScalarFieldContainer[str]
    default_version: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., repository_url: _Optional[str] = ..., versions: _Optional[_Iterable[str]] = ..., default_version: _Optional[str] = ...) -> None: ...

class Param(_message.Message):
    __slots__ = ("name", "type", "description", "help_text", "default", "enum", "required", "pattern", "hidden", "platform_managed")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    HELP_TEXT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FIELD_NUMBER: _ClassVar[int]
    ENUM_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_MANAGED_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    description: str
    help_text: str
    default: _struct_pb2.Value
    enum: _containers.RepeatedScalarFieldContainer[str]
    required: bool
    pattern: str
    hidden: bool
    platform_managed: bool
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., description: _Optional[str] = ..., help_text: _Optional[str] = ..., default: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., enum: _Optional[_Iterable[str]] = ..., required: _Optional[bool] = ..., pattern: _Optional[str] = ..., hidden: _Optional[bool] = ..., platform_managed: _Optional[bool] = ...) -> None: ...

class ParamGroup(_message.Message):
    __slots__ = ("name", "title", "description", "params")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    name: str
    title: str
    description: str
    params: _containers.RepeatedCompositeFieldContainer[Param]
    def __init__(self, name: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., params: _Optional[_Iterable[_Union[Param, _Mapping]]] = ...) -> None: ...

class SamplesheetColumn(_message.Message):
    __slots__ = ("name", "required", "type", "pattern", "description", "error_message", "unique")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_FIELD_NUMBER: _ClassVar[int]
    name: str
    required: bool
    type: str
    pattern: str
    description: str
    error_message: str
    unique: bool
    def __init__(self, name: _Optional[str] = ..., required: _Optional[bool] = ..., type: _Optional[str] = ..., pattern: _Optional[str] = ..., description: _Optional[str] = ..., error_message: _Optional[str] = ..., unique: _Optional[bool] = ...) -> None: ...

class PipelineSchema(_message.Message):
    __slots__ = ("name", "version", "param_groups", "samplesheet_columns", "params_schema_json", "samplesheet_schema_json")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAM_GROUPS_FIELD_NUMBER: _ClassVar[int]
    SAMPLESHEET_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    PARAMS_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    SAMPLESHEET_SCHEMA_JSON_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    param_groups: _containers.RepeatedCompositeFieldContainer[ParamGroup]
    samplesheet_columns: _containers.RepeatedCompositeFieldContainer[SamplesheetColumn]
    params_schema_json: str
    samplesheet_schema_json: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., param_groups: _Optional[_Iterable[_Union[ParamGroup, _Mapping]]] = ..., samplesheet_columns: _Optional[_Iterable[_Union[SamplesheetColumn, _Mapping]]] = ..., params_schema_json: _Optional[str] = ..., samplesheet_schema_json: _Optional[str] = ...) -> None: ...
