"""gRPC face of the Pipelines service: translates between protobuf and ``PipelinesService`` (``service.py``)."""

from __future__ import annotations

import json
from typing import Any

import grpc
from google.protobuf import struct_pb2

from arc.pipelines.v1 import pipeline_pb2, pipelines_service_pb2, pipelines_service_pb2_grpc
from arc_core.protos import from_struct
from services.pipelines.models import ParamSpec, Pipeline, PipelineVersionSchema
from services.pipelines.service import PipelinesService

SERVICE_NAME = pipelines_service_pb2.DESCRIPTOR.services_by_name["PipelinesService"].full_name


def pipeline_to_proto(pipeline: Pipeline) -> pipeline_pb2.Pipeline:
    return pipeline_pb2.Pipeline(
        name=pipeline.name,
        display_name=pipeline.display_name,
        description=pipeline.description,
        repository_url=pipeline.repository_url,
        versions=list(pipeline.version_names),
        default_version=pipeline.default_version,
    )


def _value(value: Any) -> struct_pb2.Value:
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


class PipelinesServicer(pipelines_service_pb2_grpc.PipelinesServiceServicer):
    def __init__(self, service: PipelinesService) -> None:
        self.service = service

    async def GetPipeline(
        self, request: pipelines_service_pb2.GetPipelineRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.Pipeline:
        return pipeline_to_proto(await self.service.get_pipeline(request.name))

    async def ListPipelines(
        self, request: pipelines_service_pb2.ListPipelinesRequest, context: grpc.aio.ServicerContext
    ) -> pipelines_service_pb2.ListPipelinesResponse:
        page, token = await self.service.list_pipelines(page_size=request.page_size, page_token=request.page_token)
        return pipelines_service_pb2.ListPipelinesResponse(
            pipelines=[pipeline_to_proto(p) for p in page], next_page_token=token
        )

    async def GetPipelineSchema(
        self, request: pipelines_service_pb2.GetPipelineSchemaRequest, context: grpc.aio.ServicerContext
    ) -> pipeline_pb2.PipelineSchema:
        return schema_to_proto(await self.service.get_schema(request.name, request.version or None))

    async def ValidateRunInputs(
        self, request: pipelines_service_pb2.ValidateRunInputsRequest, context: grpc.aio.ServicerContext
    ) -> pipelines_service_pb2.ValidateRunInputsResponse:
        report = await self.service.validate_run_inputs(
            pipeline=request.pipeline,
            version=request.pipeline_version or None,
            params=from_struct(request.params),
            samplesheet_csv=request.samplesheet_csv,
            user_config=request.user_config,
            samplesheet_only=request.samplesheet_only,
        )
        return pipelines_service_pb2.ValidateRunInputsResponse(
            sample_count=report.sample_count,
            input_paths=[
                pipelines_service_pb2.InputPath(field=p.field, uri=p.uri, kind=p.kind, must_exist=p.must_exist)
                for p in report.input_paths
            ],
            platform_params=dict(report.platform_params),
        )

    async def RenderConfig(
        self, request: pipelines_service_pb2.RenderConfigRequest, context: grpc.aio.ServicerContext
    ) -> pipelines_service_pb2.RenderConfigResponse:
        text = await self.service.render_config(
            pipeline=request.pipeline,
            version=request.pipeline_version or None,
            params=from_struct(request.params),
            user_config=request.user_config,
            run_id=request.run_id,
        )
        return pipelines_service_pb2.RenderConfigResponse(config_content=text)
