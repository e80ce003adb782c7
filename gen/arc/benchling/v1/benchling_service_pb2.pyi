import datetime

from arc.benchling.v1 import ngs_pb2 as _ngs_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListNgsRunsRequest(_message.Message):
    __slots__ = ("project", "instrument", "created_after", "created_before", "name_contains", "page_size", "page_token")
    PROJECT_FIELD_NUMBER: _ClassVar[int]
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    CREATED_BEFORE_FIELD_NUMBER: _ClassVar[int]
    NAME_CONTAINS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    project: str
    instrument: str
    created_after: _timestamp_pb2.Timestamp
    created_before: _timestamp_pb2.Timestamp
    name_contains: str
    page_size: int
    page_token: str
    def __init__(self, project: _Optional[str] = ..., instrument: _Optional[str] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., created_before: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., name_contains: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNgsRunsResponse(_message.Message):
    __slots__ = ("ngs_runs", "next_page_token")
    NGS_RUNS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ngs_runs: _containers.RepeatedCompositeFieldContainer[_ngs_pb2.NgsRun]
    next_page_token: str
    def __init__(self, ngs_runs: _Optional[_Iterable[_Union[_ngs_pb2.NgsRun, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class ListNgsRunSamplesRequest(_message.Message):
    __slots__ = ("ngs_run",)
    NGS_RUN_FIELD_NUMBER: _ClassVar[int]
    ngs_run: str
    def __init__(self, ngs_run: _Optional[str] = ...) -> None: ...

class ListNgsRunSamplesResponse(_message.Message):
    __slots__ = ("samples",)
    SAMPLES_FIELD_NUMBER: _ClassVar[int]
    samples: _containers.RepeatedCompositeFieldContainer[_ngs_pb2.NgsSample]
    def __init__(self, samples: _Optional[_Iterable[_Union[_ngs_pb2.NgsSample, _Mapping]]] = ...) -> None: ...

class GetMetadataRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BuildSamplesheetRequest(_message.Message):
    __slots__ = ("pipeline", "pipeline_version", "ngs_runs")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_VERSION_FIELD_NUMBER: _ClassVar[int]
    NGS_RUNS_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    pipeline_version: str
    ngs_runs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, pipeline: _Optional[str] = ..., pipeline_version: _Optional[str] = ..., ngs_runs: _Optional[_Iterable[str]] = ...) -> None: ...

class BuildSamplesheetResponse(_message.Message):
    __slots__ = ("samplesheet_csv", "sample_count", "source_ngs_runs", "source_project", "omitted_columns")
    SAMPLESHEET_CSV_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_COUNT_FIELD_NUMBER: _ClassVar[int]
    SOURCE_NGS_RUNS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_PROJECT_FIELD_NUMBER: _ClassVar[int]
    OMITTED_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    samplesheet_csv: str
    sample_count: int
    source_ngs_runs: _containers.RepeatedScalarFieldContainer[str]
    source_project: str
    omitted_columns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, samplesheet_csv: _Optional[str] = ..., sample_count: _Optional[int] = ..., source_ngs_runs: _Optional[_Iterable[str]] = ..., source_project: _Optional[str] = ..., omitted_columns: _Optional[_Iterable[str]] = ...) -> None: ...
