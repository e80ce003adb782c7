"""The Pipelines service's domain: the catalog, run-input validation and config rendering.

Plain async code (no ``grpc``); the gRPC face (``servicer.py``) only translates between protobuf and it.
CPU-heavy work (a samplesheet of up to 10 MB, a user config of up to 100 KB) runs in a worker thread so
other calls keep being served.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from arc_core.errors import FieldViolation, InvalidArgument
from arc_core.paging import paginate, query_key
from services.pipelines.catalog import Catalog
from services.pipelines.config_render import (
    BatchConfigSettings,
    cap_param_problems,
    check_user_config,
    merge_config_params,
    render_config,
)
from services.pipelines.models import Pipeline, PipelineVersionSchema
from services.pipelines.user_config import ConfigParam
from services.pipelines.validation import RunInputsReport, validate_run_inputs


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


class PipelinesService:
    """The loaded catalog and the platform's Batch settings, and what callers ask of them."""

    def __init__(self, catalog: Catalog, batch: BatchConfigSettings) -> None:
        self.catalog = catalog
        self.batch = batch

    async def get_pipeline(self, name: str) -> Pipeline:
        """One catalog entry; NotFound when the catalog has no such pipeline."""
        return self.catalog.get(name)

    async def list_pipelines(self, *, page_size: int, page_token: str) -> tuple[list[Pipeline], str]:
        """One page of the catalog by name, and the next page's token ("" on the last page)."""
        pipelines = sorted(self.catalog.list_pipelines(), key=lambda p: p.name)
        page = paginate(pipelines, page_size, page_token, query_key("ListPipelines"))
        return page.items, page.next_page_token

    async def get_schema(self, name: str, version: str | None) -> PipelineVersionSchema:
        """The params and samplesheet schema of a version (``None``: the default version)."""
        return self.catalog.schema(name, version)

    async def validate_run_inputs(
        self,
        *,
        pipeline: str,
        version: str | None,
        params: Mapping[str, Any],
        samplesheet_csv: str,
        user_config: str,
        samplesheet_only: bool,
    ) -> RunInputsReport:
        """Check a run's params, samplesheet and user config together; InvalidArgument lists every problem."""
        schema = self.catalog.schema(pipeline, version)
        # The config's params { } block is validated with the request's params (a name in both is refused),
        # so a platform-owned or forbidden param is refused wherever it is written.
        config, config_problems = await asyncio.to_thread(check_user_config, user_config, self.batch)
        merged, overlap = merge_config_params(params, config)
        config_problems = [*overlap, *config_problems]
        from_config = {name: p for name, p in config.params_dict.items() if name not in params}
        if samplesheet_only and merged:
            raise InvalidArgument(
                "params are not checked with samplesheet_only",
                [FieldViolation("params", "must be empty when samplesheet_only is set"), *config_problems],
            )
        # The request's params reach Nextflow as -params-file, which beats the platform's params.max_* in
        # the rendered config: a cap param above the platform's maxima is refused here, before a run exists.
        caps = cap_param_problems(merged, self.batch) if schema.resource_caps == "params" else []
        caps = [_locate(v, from_config) for v in caps]
        try:
            report = await asyncio.to_thread(
                validate_run_inputs, schema, merged, samplesheet_csv, samplesheet_only=samplesheet_only
            )
        except InvalidArgument as exc:
            # One violation per cap param: the one naming the platform's maximum (it covers the type too).
            located = [_locate(v, from_config) for v in exc.violations if v.field not in {c.field for c in caps}]
            if not config_problems and not caps and located == exc.violations:
                raise
            raise _invalid_run_inputs(schema, [*config_problems, *located, *caps]) from None
        if config_problems or caps:
            raise _invalid_run_inputs(schema, [*config_problems, *caps])
        # Runs fills these params (the manifest's names) with the run's samplesheet and results URIs.
        return replace(report, platform_params=dict(schema.platform_params))

    async def render_config(
        self, *, pipeline: str, version: str | None, params: Mapping[str, Any], user_config: str, run_id: str
    ) -> str:
        """The run's ``nextflow.config``: params, the user's accepted settings, then the platform's block."""
        schema = self.catalog.schema(pipeline, version)
        return await asyncio.to_thread(
            render_config,
            pipeline=pipeline,
            version=schema.version,
            params=params,
            user_config=user_config,
            run_id=run_id,
            settings=self.batch,
            resource_caps=schema.resource_caps,
        )
