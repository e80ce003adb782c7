"""gRPC face of the Pipelines service: the catalog, schemas, validation and config rendering."""

from __future__ import annotations

import asyncio
import json
import re

import grpc
from google.protobuf import struct_pb2

from arc.pipelines.v1 import pipeline_pb2, pipelines_service_pb2, pipelines_service_pb2_grpc
from arc_core.errors import FieldViolation, InvalidArgument
from arc_core.protos import from_struct
from services.pipelines.catalog import Catalog, ParamSpec, Pipeline, PipelineVersionSchema
from services.pipelines.config_render import (
    BatchConfigSettings,
    check_user_config,
    merge_config_params,
    render_config,
)
from services.pipelines.user_config import ConfigParam
from services.pipelines.validation import validate_run_inputs

SERVICE_NAME = pipelines_service_pb2.DESCRIPTOR.services_by_name["PipelinesService"].full_name
MAX_PAGE_SIZE = 100


def pipeline_to_proto(pipeline: Pipeline) -> pipeline_pb2.Pipeline:
    return pipeline_pb2.Pipeline(
        name=pipeline.name,
        display_name=pipeline.display_name,
        description=pipeline.description,
        repository_url=pipeline.repository_url,
        versions=list(pipeline.version_names),
        default_version=pipeline.default_version,
    )


def _value(value: object) -> struct_pb2.Value:
    wrapper = struct_pb2.Struct()
    wrapper.update({"v": value})
    return wrapper.fields["v"]


def _param(spec: ParamSpec) -> pipeline_pb2.Param:
    param = pipeline_pb2.Param(
        name=spec.name,
        type=spec.type,
        description=spec.description,
        help_text=spec.help_text,
        enum=[str(e) for e in spec.enum],
        required=spec.required,
        pattern=spec.pattern,
        hidden=spec.hidden,
        platform_managed=spec.platform_managed,
    )
    if spec.default is not None:
        param.default.CopyFrom(_value(spec.default))
    return param


def schema_to_proto(schema: PipelineVersionSchema) -> pipeline_pb2.PipelineSchema:
    return pipeline_pb2.PipelineSchema(
        name=schema.pipeline,
        version=schema.version,
        param_groups=[
            pipeline_pb2.ParamGroup(
                name=group.id,
                title=group.title,
                description=group.description,
                params=[_param(p) for p in group.params],
            )
            for group in schema.param_groups
        ],
        samplesheet_columns=[
            pipeline_pb2.SamplesheetColumn(
                name=c.name,
                required=c.required,
                type=c.type,
                pattern=c.pattern,
                description=c.description,
                error_message=c.error_message,
                unique=c.unique,
            )
            for c in schema.samplesheet.columns
        ],
        params_schema_json=json.dumps(schema.params_schema, sort_keys=True),
        samplesheet_schema_json=json.dumps(schema.samplesheet_schema, sort_keys=True),
    )


def _invalid_run_inputs(schema: PipelineVersionSchema, violations: list[FieldViolation]) -> InvalidArgument:
    """The error ``validate_run_inputs`` raises, for the config's problems with (or without) its own."""
    total = len(violations)
    return InvalidArgument(
        f"invalid run inputs for {schema.pipeline} {schema.version}: {total} problem{'s' if total != 1 else ''}",
        violations,
        reason="INVALID_RUN_INPUTS",
        metadata={"violation_count": str(total)},
    )


def _locate(violation: FieldViolation, from_config: dict[str, ConfigParam]) -> FieldViolation:
    """A violation of a param the config's params block set, with where it was set."""
    name = re.split(r"[.\[]", violation.field.removeprefix("params."), maxsplit=1)[0]
    param = from_config.get(name) if violation.field.startswith("params.") else None
    if param is None:
        return violation
    where = f" (set in the config's params block: user_config line {param.line}, column {param.column})"
    return FieldViolation(violation.field, violation.description + where)


class PipelinesServicer(pipelines_service_pb2_grpc.PipelinesServiceServicer):
    def __init__(self, catalog: Catalog, batch: BatchConfigSettings) -> None:
        self.catalog = catalog
        self.batch = batch

    async def GetPipeline(
        self, request: pipelines_service_pb2.GetPipelineRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.Pipeline:
        return pipeline_to_proto(self.catalog.get(request.name))

    async def ListPipelines(
        self, request: pipelines_service_pb2.ListPipelinesRequest, context: grpc.aio.ServicerContext
    ) -> pipelines_service_pb2.ListPipelinesResponse:
        if request.page_size < 0:
            raise InvalidArgument("invalid page size", [FieldViolation("page_size", "must not be negative")])
        pipelines = sorted(self.catalog.list_pipelines(), key=lambda p: p.name)
        start = 0
        if request.page_token:
            try:
                start = int(request.page_token)
            except ValueError:
                raise InvalidArgument(
                    "invalid page token", [FieldViolation("page_token", "is not a token we issued")]
                ) from None
        size = min(request.page_size or MAX_PAGE_SIZE, MAX_PAGE_SIZE)
        page = pipelines[start : start + size]
        more = start + size < len(pipelines)
        return pipelines_service_pb2.ListPipelinesResponse(
            pipelines=[pipeline_to_proto(p) for p in page], next_page_token=str(start + size) if more else ""
        )

    async def GetPipelineSchema(
        self, request: pipelines_service_pb2.GetPipelineSchemaRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.PipelineSchema:
        return schema_to_proto(self.catalog.schema(request.name, request.version or None))

    async def ValidateRunInputs(
        self, request: pipelines_service_pb2.ValidateRunInputsRequest, context: grpc.aio.ServicerContext
    ) -> pipelines_service_pb2.ValidateRunInputsResponse:
        schema = self.catalog.schema(request.pipeline, request.pipeline_version or None)
        # The config's params { } block is validated with the request's params (a name in both is refused),
        # so a platform-owned or forbidden param is refused wherever it is written.
        config, config_problems = await asyncio.to_thread(check_user_config, request.user_config, self.batch)
        request_params = from_struct(request.params)
        params, overlap = merge_config_params(request_params, config)
        config_problems = [*overlap, *config_problems]
        from_config = {name: p for name, p in config.params_dict.items() if name not in request_params}
        if request.samplesheet_only and params:
            raise InvalidArgument(
                "params are not checked with samplesheet_only",
                [FieldViolation("params", "must be empty when samplesheet_only is set"), *config_problems],
            )
        try:
            # Up to 10 MB of CSV: validate in a worker thread so other calls keep being served.
            report = await asyncio.to_thread(
                validate_run_inputs, schema, params, request.samplesheet_csv, samplesheet_only=request.samplesheet_only
            )
        except InvalidArgument as exc:
            located = [_locate(v, from_config) for v in exc.violations]
            if not config_problems and located == exc.violations:
                raise
            raise _invalid_run_inputs(schema, [*config_problems, *located]) from None
        if config_problems:
            raise _invalid_run_inputs(schema, config_problems)
        return pipelines_service_pb2.ValidateRunInputsResponse(
            sample_count=report.sample_count,
            input_paths=[
                pipelines_service_pb2.InputPath(field=p.field, uri=p.uri, kind=p.kind, must_exist=p.must_exist)
                for p in report.input_paths
            ],
        )

    async def RenderConfig(
        self, request: pipelines_service_pb2.RenderConfigRequest, context: grpc.aio.ServicerContext
    ) -> pipelines_service_pb2.RenderConfigResponse:
        schema = self.catalog.schema(request.pipeline, request.pipeline_version or None)
        # Parsing up to 100 KB of user config is CPU work: off the event loop.
        text = await asyncio.to_thread(
            render_config,
            pipeline=request.pipeline,
            version=schema.version,
            params=from_struct(request.params),
            user_config=request.user_config,
            run_id=request.run_id,
            settings=self.batch,
            resource_caps=schema.resource_caps,
        )
        return pipelines_service_pb2.RenderConfigResponse(config_content=text)
