"""The Benchling service's domain: warehouse reads and samplesheets built from NGS runs.

Plain async code (no ``grpc``): the warehouse, the Pipelines port, and the samplesheet builder. The gRPC
face (``servicer.py``) only translates between protobuf and this code.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from arc_core.errors import FieldViolation, InvalidArgument, Unavailable
from arc_core.identity import Identity
from services.benchling.clients import SamplesheetColumn
from services.benchling.warehouse import Metadata, NgsRun, Sample, Warehouse, render_samplesheet

READY_TIMEOUT = 2.0

# Where ValidateRunInputs locates a problem with one column: "samplesheet[row 3].sample_type".
_COLUMN_VIOLATION = re.compile(r"^samplesheet\[(?:row \d+|header)\]\.(?P<column>.+)$")


class PipelinesPort(Protocol):
    """What the samplesheet builder needs from the Pipelines service."""

    async def samplesheet_columns(
        self, identity: Identity, *, pipeline: str, version: str
    ) -> tuple[str, list[SamplesheetColumn]]: ...

    async def validate_samplesheet(
        self, identity: Identity, *, pipeline: str, version: str, samplesheet_csv: str
    ) -> int: ...


@dataclass(frozen=True)
class BuiltSamplesheet:
    """A validated samplesheet and where its samples came from."""

    csv: str
    sample_count: int
    source_ngs_runs: list[str]
    source_project: str | None
    omitted_columns: list[str]


def sheet_columns(columns: Sequence[SamplesheetColumn], rows: Sequence[Mapping[str, str]]) -> list[str]:
    """The pipeline's columns a built sheet gets, in schema order: every required one, and the optional
    ones the warehouse has a value for (columns the pipeline does not declare are never written)."""
    return [c.name for c in columns if c.required or any(row.get(c.name) for row in rows)]


def violated_columns(violations: Iterable[FieldViolation]) -> set[str]:
    """The samplesheet columns named by ValidateRunInputs' violations."""
    return {m["column"] for v in violations if (m := _COLUMN_VIOLATION.match(v.field))}


class BenchlingService:
    """Read-only warehouse access plus samplesheets validated by the Pipelines service."""

    def __init__(self, warehouse: Warehouse, pipelines: PipelinesPort, *, ready_timeout: float = READY_TIMEOUT):
        self.warehouse = warehouse
        self.pipelines = pipelines
        self.ready_timeout = ready_timeout
        self._pings = 0

    @property
    def query_count(self) -> int:
        """Warehouse queries made for callers (readiness pings left out), for tests and benchmarks."""
        return self.warehouse.query_count - self._pings

    async def ready(self) -> bool:
        """True when the warehouse answers within ``ready_timeout`` (polled into the health status)."""
        # Counted before the ping starts: its query is counted in the same step, so query_count stays exact.
        self._pings += 1
        try:
            async with asyncio.timeout(self.ready_timeout):
                await self.warehouse.ping()
        except (Unavailable, TimeoutError):
            return False
        return True

    async def list_ngs_runs(
        self,
        *,
        project: str,
        instrument: str,
        created_after: datetime | None,
        created_before: datetime | None,
        name_contains: str,
        page_size: int,
        page_token: str,
    ) -> tuple[list[NgsRun], str]:
        """Non-archived NGS runs, newest first, one page and the next token (``Warehouse.list_ngs_runs``)."""
        return await self.warehouse.list_ngs_runs(
            project=project,
            instrument=instrument,
            created_after=created_after,
            created_before=created_before,
            name_contains=name_contains,
            page_size=page_size,
            page_token=page_token,
        )

    async def list_ngs_run_samples(self, ngs_run: str) -> list[Sample]:
        """Non-archived samples of one NGS run (by name or id); an unknown run is NotFound."""
        return await self.warehouse.list_ngs_run_samples(ngs_run)

    async def get_metadata(self) -> Metadata:
        """Projects, instruments and facets (cached by the warehouse)."""
        return await self.warehouse.get_metadata()

    async def build_samplesheet(
        self, identity: Identity, *, pipeline: str, version: str, ngs_runs: Sequence[str]
    ) -> BuiltSamplesheet:
        """The samplesheet of ``pipeline`` for the samples of ``ngs_runs``, validated by Pipelines.

        Optional columns whose warehouse values the pipeline rejects are left out (and listed), so a
        tenant's metadata never blocks a launch; problems in required columns are InvalidArgument.
        """
        if not pipeline.strip():
            raise InvalidArgument("pipeline is required", [FieldViolation("pipeline", "is required")])
        version, columns = await self.pipelines.samplesheet_columns(identity, pipeline=pipeline, version=version)
        rows, project = await self.warehouse.build_samplesheet_rows(ngs_runs)
        sources = list(dict.fromkeys(ngs_runs))
        if not rows:
            raise InvalidArgument(
                "the NGS runs have no samples",
                [FieldViolation("ngs_runs", f"{', '.join(sources)}: no (non-archived) samples in the warehouse")],
            )
        required = {c.name for c in columns if c.required}
        chosen = sheet_columns(columns, rows)
        omitted: list[str] = []
        while True:  # each pass drops at least one column, so this ends
            text = render_samplesheet(chosen, rows)
            try:
                count = await self.pipelines.validate_samplesheet(
                    identity, pipeline=pipeline, version=version, samplesheet_csv=text
                )
            except InvalidArgument as exc:
                bad = violated_columns(exc.violations)
                drop = [c for c in chosen if c in bad and c not in required]
                if not drop:
                    raise InvalidArgument(
                        f"the samples of {', '.join(sources)} do not make a valid {pipeline} {version}"
                        f" samplesheet: {exc.message}",
                        exc.violations,
                        reason="SAMPLESHEET_INVALID",
                    ) from None
                chosen = [c for c in chosen if c not in drop]
                omitted.extend(drop)
                continue
            return BuiltSamplesheet(text, count, sources, project, omitted)
