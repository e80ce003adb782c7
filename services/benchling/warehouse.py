"""Read-only access to the Benchling warehouse (a PostgreSQL database) through its own asyncpg pool.

Which tables and columns to read comes from a :class:`~services.benchling.mapping.WarehouseMapping`;
every identifier is quoted with :func:`~services.benchling.mapping.quote_ident` and every value is a
query parameter. Archived rows (``archived$ = true``) are hidden here, whatever the views do.

A down or slow warehouse answers :class:`~arc_core.errors.Unavailable` within a bounded time
(connect timeout + statement timeout); the pool is created lazily, so the rest of the platform starts
and keeps working without it.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from arc_core.errors import FieldViolation, InvalidArgument, NotFound, Unavailable
from arc_core.paging import DEFAULT_PAGE_SIZE, bad_position, decode_token, encode_token, page_size_of, query_key
from services.benchling.mapping import TableMapping, WarehouseMapping, load_mapping, quote_ident

log = logging.getLogger(__name__)

DEFAULT_METADATA_TTL = 300.0
UNAVAILABLE_REASON = "BENCHLING_WAREHOUSE_UNAVAILABLE"


@dataclass(frozen=True)
class NgsRun:
    """One NGS run, with its project and instrument resolved to names where the warehouse has them."""

    id: str
    name: str
    project_id: str | None
    project_name: str | None
    instrument_id: str | None
    instrument_name: str | None
    run_date: str | None  # as the warehouse renders it (ISO date for a date column); None if unmapped
    created_at: datetime  # timezone-aware (UTC)
    sample_count: int | None = None  # non-archived samples of the run


@dataclass(frozen=True)
class Sample:
    """One sample of an NGS run: FASTQ paths and metadata (samplesheet key -> value, as text)."""

    id: str
    name: str
    ngs_run_id: str
    ngs_run_name: str
    fastq_1: str | None
    fastq_2: str | None
    expected_cells: int | None
    metadata: Mapping[str, str | None]


@dataclass(frozen=True)
class Project:
    id: str
    name: str


@dataclass(frozen=True)
class Instrument:
    id: str
    name: str


@dataclass(frozen=True)
class Metadata:
    """Filter facets: non-archived projects and instruments, and distinct values of sample metadata."""

    projects: tuple[Project, ...]
    instruments: tuple[Instrument, ...]
    facets: Mapping[str, tuple[str, ...]]  # facet key (e.g. sample_type) -> sorted distinct values
    fetched_at: datetime


def escape_like(text: str) -> str:
    """Escape ``\\``, ``%`` and ``_`` so ``text`` matches literally in ``LIKE ... ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def render_samplesheet(columns: Sequence[str], rows: Iterable[Mapping[str, str | None]]) -> str:
    """Render ``rows`` as a samplesheet CSV with exactly ``columns`` (missing values are empty).

    Values are quoted by the csv module where needed (commas, quotes, line breaks); lines end in ``\\n``.
    """
    columns = list(columns)
    problems = [
        FieldViolation(f"columns[{i}]", "empty column name" if not c else f"duplicate column {c!r}")
        for i, c in enumerate(columns)
        if not c or c in columns[:i]
    ]
    if not columns:
        problems.append(FieldViolation("columns", "at least one column is required"))
    if problems:
        raise InvalidArgument("invalid samplesheet columns", problems)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else str(row.get(c)) for c in columns])
    return buf.getvalue()


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _to_int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        try:
            number = float(text)
        except ValueError:
            return None
        return int(number) if number.is_integer() else None


class _Sql:
    """The SQL statements for one mapping, built once from quoted identifiers.

    Only identifiers from the mapping (through ``quote_ident``) and fixed SQL are interpolated;
    every value is a ``$n`` parameter.
    """

    def __init__(self, m: WarehouseMapping) -> None:
        q = quote_ident
        runs, samples, projects, instruments = m.ngs_runs, m.samples, m.projects, m.instruments

        def table(t: TableMapping) -> str:
            return f"{q(m.schema)}.{q(t.table)}"

        def live(alias: str, t: TableMapping) -> str:
            return "TRUE" if t.archived is None else f"NOT coalesce({alias}.{q(t.archived)}, false)"

        def col(alias: str, column: str | None) -> str:
            return "NULL::text" if column is None else f"{alias}.{q(column)}::text"

        self.run_live = live("r", runs)
        self.run_id = f"r.{q(runs.id)}::text"
        self.run_name = f"r.{q(runs.name)}::text"
        self.run_project = f"r.{q(runs.project)}::text"
        self.run_instrument = f"r.{q(runs.instrument)}::text"
        self.run_created = f"r.{q(runs.created_at)}"
        self.project_name = f"p.{q(projects.name)}::text"
        self.instrument_name = f"i.{q(instruments.name)}::text"
        self.runs_from = (
            f"SELECT {self.run_id} AS id, {self.run_name} AS name,"  # noqa: S608
            f" {self.run_project} AS project_id, {self.project_name} AS project_name,"
            f" {self.run_instrument} AS instrument_id, {self.instrument_name} AS instrument_name,"
            f" {col('r', runs.run_date)} AS run_date, {self.run_created}::timestamptz AS created_at,"
            f" (SELECT count(*) FROM {table(samples)} AS c WHERE {live('c', samples)}"
            f" AND c.{q(samples.ngs_run)}::text = {self.run_id})::int AS sample_count"
            f" FROM {table(runs)} AS r"
            f" LEFT JOIN {table(projects)} AS p ON p.{q(projects.id)}::text = {self.run_project}"
            f" LEFT JOIN {table(instruments)} AS i ON i.{q(instruments.id)}::text = {self.run_instrument}"
        )
        self.resolve_runs = (
            f"{self.runs_from} WHERE {self.run_live}"
            f" AND ({self.run_name} = ANY($1::text[]) OR {self.run_id} = ANY($1::text[]))"
        )

        self.metadata_keys = list(samples.metadata)
        meta_cols = "".join(f", {col('s', column)} AS m{i}" for i, column in enumerate(samples.metadata.values()))
        self.samples_of_runs = (
            f"SELECT s.{q(samples.id)}::text AS id, s.{q(samples.name)}::text AS name,"  # noqa: S608
            f" s.{q(samples.ngs_run)}::text AS ngs_run_id, {col('s', samples.fastq_1)} AS fastq_1,"
            f" {col('s', samples.fastq_2)} AS fastq_2, {col('s', samples.expected_cells)} AS expected_cells"
            f"{meta_cols}"
            f" FROM {table(samples)} AS s"
            f" WHERE {live('s', samples)} AND s.{q(samples.ngs_run)}::text = ANY($1::text[])"
            f" ORDER BY s.{q(samples.name)}, s.{q(samples.id)}"
        )

        # One statement for all of GetMetadata, so a refresh is exactly one warehouse query.
        parts = [
            f"(SELECT 'project'::text AS kind, NULL::text AS facet, p.{q(projects.id)}::text AS id,"  # noqa: S608
            f" {self.project_name} AS name FROM {table(projects)} AS p WHERE {live('p', projects)})",
            f"(SELECT 'instrument'::text, NULL::text, i.{q(instruments.id)}::text, {self.instrument_name}"  # noqa: S608
            f" FROM {table(instruments)} AS i WHERE {live('i', instruments)})",
        ]
        for n, facet in enumerate(m.facets, start=1):
            value = f"s.{q(samples.metadata[facet])}::text"
            parts.append(
                f"(SELECT DISTINCT 'facet'::text, ${n}::text, NULL::text, {value}"  # noqa: S608
                f" FROM {table(samples)} AS s JOIN {table(runs)} AS r"
                f" ON {self.run_id} = s.{q(samples.ngs_run)}::text"
                f" WHERE {live('s', samples)} AND {self.run_live} AND {value} <> '')"
            )
        self.metadata = " UNION ALL ".join(parts)
        self.facets = list(m.facets)


class Warehouse:
    """The Benchling warehouse, read-only, over a lazily created asyncpg pool.

    ``query_count`` counts the SQL statements sent (attempted), for tests and benchmarks.
    """

    def __init__(
        self,
        dsn: str,
        mapping: WarehouseMapping | None = None,
        *,
        connect_timeout: float = 5.0,
        statement_timeout: float = 10.0,
        pool_max_size: int = 10,
        metadata_ttl: float = DEFAULT_METADATA_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.mapping = mapping if mapping is not None else load_mapping()
        self._sql = _Sql(self.mapping)
        self._dsn = dsn
        self._connect_timeout = connect_timeout
        self._statement_timeout = statement_timeout
        self._pool_max_size = pool_max_size
        self._metadata_ttl = metadata_ttl
        self._clock = clock
        self.query_count = 0
        self._pool: asyncpg.Pool | None = None
        self._pool_lock = asyncio.Lock()
        self._closed = False
        self._metadata: tuple[Metadata, float] | None = None  # (value, expires at on self._clock)
        self._metadata_task: asyncio.Task[Metadata] | None = None

    @property
    def timeout_bound(self) -> float:
        """Upper bound, in seconds, of one warehouse query (connect + statement)."""
        return self._connect_timeout + self._statement_timeout

    # -- connection handling ------------------------------------------------------------------------

    async def _get_pool(self) -> asyncpg.Pool:
        if self._closed:
            raise _unavailable("the client is closed")
        if self._pool is None:
            async with self._pool_lock:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn,
                        min_size=0,  # connect on first use: a down warehouse must not block start-up
                        max_size=self._pool_max_size,
                        timeout=self._connect_timeout,
                        command_timeout=self._statement_timeout + 1.0,
                        server_settings={
                            "default_transaction_read_only": "on",
                            "statement_timeout": str(max(1, int(self._statement_timeout * 1000))),
                            "idle_in_transaction_session_timeout": "60000",
                            "application_name": "arc-reactor-benchling",
                            "TimeZone": "UTC",
                        },
                    )
        return self._pool

    async def _fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        """Run one read query; every failure to get an answer becomes :class:`Unavailable`."""
        self.query_count += 1
        try:
            async with asyncio.timeout(self.timeout_bound):
                pool = await self._get_pool()
                async with pool.acquire() as conn:
                    return await conn.fetch(sql, *args)
        except TimeoutError:
            raise _unavailable(f"no answer within {self.timeout_bound:g} s") from None
        except (
            asyncpg.UndefinedTableError,
            asyncpg.UndefinedColumnError,
            asyncpg.InvalidSchemaNameError,
        ) as exc:
            raise _unavailable(f"{exc} (check the warehouse mapping)") from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise _unavailable(str(exc) or type(exc).__name__) from exc

    async def ping(self) -> None:
        """Check the warehouse answers (for readiness probes); raises :class:`Unavailable`."""
        await self._fetch("SELECT 1")

    async def close(self) -> None:
        """Close the pool (bounded: terminates connections that do not close in time)."""
        self._closed = True
        task, self._metadata_task = self._metadata_task, None
        if task is not None:
            task.cancel()
        pool, self._pool = self._pool, None
        if pool is not None:
            try:
                await asyncio.wait_for(pool.close(), timeout=5.0)
            except (TimeoutError, asyncpg.InterfaceError, OSError):
                pool.terminate()

    # -- NGS runs ------------------------------------------------------------------------------------

    async def list_ngs_runs(
        self,
        *,
        project: str | None = None,
        instrument: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        name_contains: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        page_token: str | None = None,
    ) -> tuple[list[NgsRun], str]:
        """Non-archived NGS runs, newest first; returns ``(runs, next_page_token)`` ("" on the last page).

        ``project`` / ``instrument`` match an id or a name; ``created_after`` is inclusive and
        ``created_before`` exclusive (naive datetimes are UTC); ``name_contains`` matches a literal
        substring, case-insensitively. Paging is ``arc_core.paging``'s: ``page_size`` 0 means the default,
        above the cap it is capped; a ``page_token`` is only valid with the filters it was issued for.
        """
        violations: list[FieldViolation] = []
        try:
            page_size = page_size_of(page_size)
        except InvalidArgument as exc:
            violations.extend(exc.violations)
            page_size = DEFAULT_PAGE_SIZE
        after = _as_utc(created_after) if created_after is not None else None
        before = _as_utc(created_before) if created_before is not None else None
        if after is not None and before is not None and after >= before:
            violations.append(FieldViolation("created_before", "must be later than created_after"))
        project = project or None
        instrument = instrument or None
        name_contains = name_contains or None
        fingerprint = query_key(
            "ListNgsRuns",
            project,
            instrument,
            after and after.isoformat(),
            before and before.isoformat(),
            name_contains,
        )
        cursor = None
        if page_token:
            try:
                cursor = _decode_token(page_token, fingerprint)
            except InvalidArgument as exc:
                violations.extend(exc.violations)
        if violations:
            raise InvalidArgument("invalid ListNgsRuns request", violations)

        sql = self._sql
        where = [sql.run_live]
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if project is not None:
            p = arg(project)
            where.append(f"({sql.run_project} = {p}::text OR {sql.project_name} = {p}::text)")
        if instrument is not None:
            i = arg(instrument)
            where.append(f"({sql.run_instrument} = {i}::text OR {sql.instrument_name} = {i}::text)")
        if after is not None:
            where.append(f"{sql.run_created} >= {arg(after)}::timestamptz")
        if before is not None:
            where.append(f"{sql.run_created} < {arg(before)}::timestamptz")
        if name_contains is not None:
            where.append(f"{sql.run_name} ILIKE '%' || {arg(escape_like(name_contains))}::text || '%' ESCAPE '\\'")
        if cursor is not None:
            t, i = arg(cursor[0]), arg(cursor[1])
            where.append(f"({sql.run_created}, {sql.run_id}) < ({t}::timestamptz, {i}::text)")
        query = (
            f"{sql.runs_from} WHERE {' AND '.join(where)}"
            f" ORDER BY {sql.run_created} DESC, {sql.run_id} DESC LIMIT {arg(page_size + 1)}"
        )
        rows = await self._fetch(query, *args)
        runs = [_run(r) for r in rows[:page_size]]
        next_token = ""
        if len(rows) > page_size:
            last = runs[-1]
            next_token = _encode_token(last.created_at, last.id, fingerprint)
        return runs, next_token

    async def _resolve_runs(self, names: Sequence[str]) -> list[NgsRun]:
        """The non-archived runs named (by name or id) in ``names``, in order, without repeats."""
        wanted = list(dict.fromkeys(names))
        violations = [
            FieldViolation(f"ngs_runs[{i}]", "must not be empty")
            for i, n in enumerate(names)
            if not isinstance(n, str) or not n.strip()
        ]
        if not names:
            violations.append(FieldViolation("ngs_runs", "at least one NGS run is required"))
        if violations:
            raise InvalidArgument("invalid NGS run names", violations)
        rows = await self._fetch(self._sql.resolve_runs, wanted)
        found = [_run(r) for r in rows]
        resolved: list[NgsRun] = []
        missing: list[str] = []
        ambiguous: list[FieldViolation] = []
        for name in wanted:
            by_id = [r for r in found if r.id == name]
            matches = by_id or [r for r in found if r.name == name]
            if not matches:
                missing.append(name)
            elif len(matches) > 1:
                ids = ", ".join(sorted(r.id for r in matches))
                ambiguous.append(FieldViolation("ngs_runs", f"{name!r} names several NGS runs ({ids}); use the run id"))
            elif matches[0] not in resolved:
                resolved.append(matches[0])
        if missing:
            label = "NGS run not found" if len(missing) == 1 else "NGS runs not found"
            raise NotFound(f"{label}: {', '.join(repr(n) for n in missing)}", metadata={"ngs_runs": ",".join(missing)})
        if ambiguous:
            raise InvalidArgument("ambiguous NGS run name", ambiguous)
        return resolved

    async def _samples_of(self, runs: Sequence[NgsRun]) -> list[Sample]:
        rows = await self._fetch(self._sql.samples_of_runs, [r.id for r in runs])
        names = {r.id: r.name for r in runs}
        by_run: dict[str, list[Sample]] = {r.id: [] for r in runs}
        for row in rows:
            by_run[row["ngs_run_id"]].append(
                Sample(
                    id=row["id"],
                    name=row["name"],
                    ngs_run_id=row["ngs_run_id"],
                    ngs_run_name=names[row["ngs_run_id"]],
                    fastq_1=row["fastq_1"],
                    fastq_2=row["fastq_2"],
                    expected_cells=_to_int(row["expected_cells"]),
                    metadata={k: row[f"m{i}"] for i, k in enumerate(self._sql.metadata_keys)},
                )
            )
        # Runs in the order asked for; samples by name within a run.
        return [s for r in runs for s in by_run[r.id]]

    async def list_ngs_run_samples(self, ngs_run_name: str) -> list[Sample]:
        """Non-archived samples of one non-archived NGS run (by name or id); unknown run: NotFound."""
        runs = await self._resolve_runs([ngs_run_name])
        return await self._samples_of(runs)

    async def build_samplesheet_rows(self, ngs_run_names: Sequence[str]) -> tuple[list[dict[str, str]], str | None]:
        """Samplesheet rows for the samples of these runs, and the runs' common project name (or None).

        Each row has ``sample``, ``fastq_1``, ``fastq_2``, ``expected_cells`` and the mapping's metadata
        keys (missing values are ""); render it with :func:`render_samplesheet` for a pipeline's columns.
        Every unknown run is named in one NotFound.
        """
        runs = await self._resolve_runs(list(ngs_run_names))
        samples = await self._samples_of(runs)
        rows: list[dict[str, str]] = []
        for s in samples:
            cells = str(s.expected_cells) if s.expected_cells is not None else ""
            row = {"sample": s.name, "fastq_1": s.fastq_1 or "", "fastq_2": s.fastq_2 or "", "expected_cells": cells}
            row.update({k: v or "" for k, v in s.metadata.items()})
            rows.append(row)
        project_ids = {r.project_id for r in runs}
        source_project = None
        if len(project_ids) == 1 and None not in project_ids:
            source_project = runs[0].project_name or runs[0].project_id
        return rows, source_project

    # -- metadata (cached, single-flight) -------------------------------------------------------------

    async def get_metadata(self) -> Metadata:
        """Projects, instruments and facets; cached for the TTL. Concurrent misses share one query."""
        cached = self._metadata
        if cached is not None and self._clock() < cached[1]:
            return cached[0]
        task = self._metadata_task
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh_metadata())
            task.add_done_callback(_consume_exception)
            self._metadata_task = task
        # shield: a caller that gives up must not cancel the fetch the others are waiting for.
        return await asyncio.shield(task)

    def invalidate_metadata(self) -> None:
        """Drop the cached metadata; the next call fetches it again."""
        self._metadata = None

    async def _refresh_metadata(self) -> Metadata:
        try:
            rows = await self._fetch(self._sql.metadata, *self._sql.facets)
            projects: list[Project] = []
            instruments: list[Instrument] = []
            facets: dict[str, set[str]] = {f: set() for f in self._sql.facets}
            for row in rows:
                if row["kind"] == "project":
                    projects.append(Project(row["id"], row["name"] or row["id"]))
                elif row["kind"] == "instrument":
                    instruments.append(Instrument(row["id"], row["name"] or row["id"]))
                else:
                    facets[row["facet"]].add(row["name"])
            metadata = Metadata(
                projects=tuple(sorted(projects, key=lambda p: (p.name.casefold(), p.id))),
                instruments=tuple(sorted(instruments, key=lambda i: (i.name.casefold(), i.id))),
                facets={k: tuple(sorted(v, key=str.casefold)) for k, v in facets.items()},
                fetched_at=datetime.now(UTC),
            )
            self._metadata = (metadata, self._clock() + self._metadata_ttl)
            return metadata
        finally:
            self._metadata_task = None


def _unavailable(detail: str) -> Unavailable:
    message = f"Benchling warehouse unavailable: {detail}"
    log.warning("%s", message)
    return Unavailable(message, reason=UNAVAILABLE_REASON)


def _consume_exception(task: asyncio.Task[Any]) -> None:
    """Mark a shared task's exception as retrieved (its waiters may all have gone)."""
    if not task.cancelled():
        task.exception()


def _run(row: asyncpg.Record) -> NgsRun:
    return NgsRun(
        id=row["id"],
        name=row["name"],
        project_id=row["project_id"],
        project_name=row["project_name"],
        instrument_id=row["instrument_id"],
        instrument_name=row["instrument_name"],
        run_date=row["run_date"],
        created_at=_as_utc(row["created_at"]),
        sample_count=row["sample_count"],
    )


def _encode_token(created_at: datetime, run_id: str, query: str) -> str:
    """The keyset position after ``(created_at, run_id)`` in the shared token format."""
    return encode_token(query, {"t": _as_utc(created_at).isoformat(), "i": run_id})


def _decode_token(token: str, query: str) -> tuple[datetime, str]:
    position = decode_token(token, query)
    try:
        created_at = datetime.fromisoformat(position["t"])
        run_id = position["i"]
    except (KeyError, TypeError, ValueError):
        raise bad_position() from None
    if created_at.tzinfo is None or not isinstance(run_id, str):
        raise bad_position()
    return created_at, run_id
