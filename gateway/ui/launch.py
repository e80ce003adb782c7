"""The Launch page: a shell with the catalog's pipelines; the browser builds the params form from
``GET /api/pipelines/{name}/schema``, validates with ``POST /api/runs:validate`` and creates with
``POST /api/runs`` (``static/launch.js``), so launching from the UI is launching through the public API."""

from __future__ import annotations

from typing import Any

import grpc
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from gateway.deps import Backends, CallerMetadata
from gateway.routers import pipelines as pipelines_routes
from gateway.ui.pages import _page, _rpc_error_page, _viewer

router = APIRouter(include_in_schema=False)

MAX_QUERY_CHARS = 200


def _chosen(pipelines: list[dict[str, Any]], name: str, version: str) -> tuple[dict[str, Any] | None, str, str]:
    """The pipeline and version the page opens on: the query's when the catalog has them, else the first
    pipeline at its default version; and a problem to show when the query named something else."""
    if not pipelines:
        return None, "", ""
    found = next((p for p in pipelines if p["name"] == name), None)
    if name and found is None:
        return pipelines[0], pipelines[0]["default_version"], f"The catalog has no pipeline {name}."
    pipeline = found or pipelines[0]
    if version and version not in pipeline["versions"]:
        problem = f"{pipeline['name']} has no version {version}."
        return pipeline, pipeline["default_version"], problem
    return pipeline, version or pipeline["default_version"], ""


@router.get("/launch", response_class=HTMLResponse)
async def launch_page(
    request: Request,
    backends: Backends,
    metadata: CallerMetadata,
    pipeline: str = "",
    version: str = "",
    ngs_run: str = "",
) -> Response:
    """``?pipeline=&version=`` choose the pipeline; ``?ngs_run=NAME`` starts from a Benchling NGS run."""
    viewer = None
    try:
        viewer = await _viewer(request, backends, metadata)
        listing = await pipelines_routes.list_pipelines(backends, metadata, page_size=0, page_token="")
    except grpc.aio.AioRpcError as exc:
        return _rpc_error_page(request, exc, viewer)
    pipelines = listing["pipelines"]
    chosen, chosen_version, problem = _chosen(pipelines, pipeline[:MAX_QUERY_CHARS], version[:MAX_QUERY_CHARS])
    context = {
        "viewer": viewer,
        "pipelines": pipelines,
        "chosen": chosen,
        "chosen_version": chosen_version,
        "problem": problem,
        "ngs_run": ngs_run[:MAX_QUERY_CHARS],
    }
    return _page(request, "launch.html", context)
