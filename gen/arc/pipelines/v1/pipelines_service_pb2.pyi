from arc.pipelines.v1 import pipeline_pb2 as _pipeline_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetPipelineRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class ListPipelinesRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListPipelinesResponse(_message.Message):
    __slots__ = ("pipelines", "next_page_token")
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    pipelines: _containers.RepeatedCompositeFieldContainer[_pipeline_pb2.Pipeline]
    next_page_token: str
    def __init__(self, pipelines: _Optional[_Iterable[_Union[_pipeline_pb2.Pipeline, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetPipelineSchemaRequest(_message.Message):
    __slots__ = ("name", "version")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class ValidateRunInputsRequest(_message.Message):
    __slots__ = ("pipeline", "pipeline_version", "params", "samplesheet_csv", "samplesheet_only", "user_config")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    SAMPLESHEET_CSV_FIELD_NUMBER: _ClassVar[int]
    SAMPLESHEET_ONLY_FIELD_NUMBER: _ClassVar[int]
    USER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pipeline_version: str
    params: _struct_pb2.Struct
    samplesheet_csv: str
    samplesheet_only: bool
    user_config: str
    def __init__(self, pipeline: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., samplesheet_csv: _Optional[str] = ..., samplesheet_only: _Optional[bool] = ..., user_config: _Optional[str] = ...) -> None: ...

class InputPath(_message.Message):
    __slots__ = ("field", "uri", "kind", "must_exist")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    MUST_EXIST_FIELD_NUMBER: _ClassVar[int]
    field: str
    uri: str
    kind: str
    must_exist: bool
    def __init__(self, field: _Optional[str] = ..., uri: _Optional[str] = ..., kind: _Optional[str] = ..., must_exist: _Optional[bool] = ...) -> None: ...

class ValidateRunInputsResponse(_message.Message):
    __slots__ = ("sample_count", "input_paths", "platform_params")
    class PlatformParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    INPUT_PATHS_FIELD_NUMBER: _ClassVar[int]
    PLATFORM_PARAMS_FIELD_NUMBER: _ClassVar[int]
    sample_count: int
    input_paths: _containers.RepeatedCompositeFieldContainer[InputPath]
    platform_params: _containers.ScalarMap[str, str]
    def __init__(self, sample_count: _Optional[int] = ..., input_paths: _Optional[_Iterable[_Union[InputPath, _Mapping]]] = ..., platform_params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RenderConfigRequest(_message.Message):
    __slots__ = ("pipeline", "pipeline_version", "params", "user_config", "run_id")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    USER_CONFIG_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pipeline_version: str
    params: _struct_pb2.Struct
    user_config: str
    run_id: str
    def __init__(self, pipeline: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., params: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., user_config: _Optional[str] = ..., run_id: _Optional[str] = ...) -> None: ...

class RenderConfigResponse(_message.Message):
    __slots__ = ("config_content",)
    CONFIG_CONTENT_FIELD_NUMBER: _ClassVar[int]
    config_content: str
    def __init__(self, config_content: _Optional[str] = ...) -> None: ...
