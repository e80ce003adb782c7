"""REST routes for the pipeline registry: each one calls the Pipelines service over gRPC.

Pipeline names contain a slash (``nf-core/scrnaseq``), so they are ``{name:path}`` parameters. The
``/schema`` route is declared first: declared second, ``/{name:path}`` would swallow it.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter

from arc.pipelines.v1 import pipeline_pb2, pipelines_service_pb2
from gateway.convert import message_dict
from gateway.deps import Backends, CallerMetadata
from gateway.models.pipelines import Pipeline, PipelinePage, PipelineSchema
from gateway.openapi import ErrorsDeclared
from gateway.paging import ServicePageSize

router = APIRouter(prefix="/api/pipelines", tags=["pipelines"], route_class=ErrorsDeclared)


def schema_json(schema: pipeline_pb2.PipelineSchema) -> dict[str, Any]:
    """The schema with its two shipped JSON documents as objects, not strings."""
    data = message_dict(schema)
    data["params_schema"] = json.loads(data.pop("params_schema_json") or "{}")
    data["samplesheet_schema"] = json.loads(data.pop("samplesheet_schema_json") or "{}")
    return data


@router.get("", operation_id="list_pipelines", response_model=PipelinePage)
async def list_pipelines(
    backends: Backends, metadata: CallerMetadata, page_size: ServicePageSize = 0, page_token: str = ""
) -> dict[str, Any]:
    request = pipelines_service_pb2.ListPipelinesRequest(page_size=page_size, page_token=page_token)
    response = await backends.pipelines.ListPipelines(request, metadata=metadata)
    return {
        "pipelines": [message_dict(p) for p in response.pipelines],
        "next_page_token": response.next_page_token or None,
    }


@router.get(
    "/{name:path}/schema",
    operation_id="get_pipeline_schema",
    # A Pipeline when the name has no owner (`acme/schema` is a pipeline's name); a param's `default` is
    # absent, not null, when the schema has none.
    response_model=PipelineSchema | Pipeline,
    response_model_exclude_unset=True,
)
async def get_pipeline_schema(
    name: str, backends: Backends, metadata: CallerMetadata, version: str = ""
) -> dict[str, Any]:
    """Params grouped as nf-core groups them, and the samplesheet columns; ``version`` empty = the default."""
    if "/" not in name:
        # Every pipeline name is `owner/name`: `/api/pipelines/acme/schema` is the pipeline `acme/schema`.
        return await get_pipeline(f"{name}/schema", backends, metadata)
    request = pipelines_service_pb2.GetPipelineSchemaRequest(name=name, version=version)
    return schema_json(await backends.pipelines.GetPipelineSchema(request, metadata=metadata))


@router.get("/{name:path}", operation_id="get_pipeline", response_model=Pipeline)
async def get_pipeline(name: str, backends: Backends, metadata: CallerMetadata) -> dict[str, Any]:
    request = pipelines_service_pb2.GetPipelineRequest(name=name)
    return message_dict(await backends.pipelines.GetPipeline(request, metadata=metadata))
