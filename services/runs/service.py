"""The Runs domain: create, read, list, cancel, watch, report status. No gRPC here.

Every method takes the caller's :class:`Identity`; a run is visible only to its owner and admins,
and a stranger's run is indistinguishable from a missing one (NotFound).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import yaml

from arc_core.contracts import run_layout as layout
from arc_core.contracts.names import new_run_id
from arc_core.contracts.platform_params import value_key as platform_param_key
from arc_core.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unauthenticated,
    Unavailable,
)
from arc_core.identity import Identity
from arc_core.storage import ObjectInfo, Storage, safe_key
from services.runs import status as st
from services.runs.events import RunEventHub
from services.runs.input_locations import InputChecker, ValidatedInputs
from services.runs.inputs import MAX_NOTE_BYTES, RunInput, check_run_id, check_run_input, default_name
from services.runs.launch import (
    LaunchDocument,
    RelaunchInput,
    ValidationResult,
    check_relaunchable,
    read_launch,
    relaunch_input,
)
from services.runs.launcher import RunLauncher, work_dir_uri
from services.runs.model import Run, RunHistoryEntry, RunLink, RunTimelineEntry, User
from services.runs.paging import MAX_SKIP, PageToken, decode_token, encode_token, page_size_of, parse_filter
from services.runs.progress import ProcessCounts, ProgressFeed
from services.runs.run_update import RunUpdate, check_update, stored_values, update_reason
from services.runs.store import NewRun, RunIdTaken, RunStore
from services.runs.system_info import SystemFigures, SystemInfo, check_preferences

log = logging.getLogger(__name__)

FILE_GROUPS = layout.FILE_GROUPS
USER_CONFIG = layout.USER_CONFIG
EXACT_TOTAL_UP_TO = 10_000
# A name or label search counts exactly only this far: counting a common term's 10,000 matches among a
# million runs reads them all (0.4 s p99 at 1M runs, bench/bench_list_runs_search.py), a page reads 50.
EXACT_SEARCH_TOTAL_UP_TO = 1_000
RUN_ID_ATTEMPTS = 5
USER_TOUCH_SECONDS = 60.0


class PipelinesPort(Protocol):
    """What Runs needs from the Pipelines service."""

    async def validate_run_inputs(
        self,
        identity: Identity,
        *,
        pipeline: str,
        version: str,
        params: dict[str, Any],
        samplesheet_csv: str,
        user_config: str = "",
    ) -> ValidatedInputs:
        """The sample count of valid inputs and the paths they name; raises InvalidArgument with every
        violation otherwise (``user_config``'s syntax and its ``params`` block included)."""
        ...

    async def render_config(
        self, identity: Identity, *, pipeline: str, version: str, run_id: str, user_config: str
    ) -> str:
        """The run's nextflow.config: the platform's executor block, then the user's config."""
        ...


@dataclass(frozen=True)
class Lineage:
    """What a recovery inherits from its parent."""

    parent_run_id: str | None  # the recovered run; None for a relaunch
    notes: str | None
    work_dir: str | None  # the parent's work dir when reused
    session_id: str | None  # the parent's Nextflow session, pinned again when resuming
    resume_session_id: str | None = None
    relaunched_from: str | None = None  # set instead of a recovery's fields for a relaunch


@dataclass(frozen=True)
class RecoveryInput:
    reuse_work_dir: bool = True
    notes: str = ""
    override_params: dict[str, Any] | None = None
    override_config: str | None = None
    request_id: str = ""


@dataclass(frozen=True)
class RunEvent:
    """One WatchRun event: the run as it was right after history entry ``seq``, or task progress."""

    seq: int
    time: datetime
    run: Run | None
    final: bool
    progress: tuple[ProcessCounts, ...] | None = None


@dataclass(frozen=True)
class RunFileInfo:
    path: str
    size: int
    updated_at: datetime
    download_url: str


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


# What a run writes reaches the database through its orchestrator's report: its texts are bounded.
REPORTED_TEXT_LIMITS = {"error_message": 16_384, "error_task": 1_024}
TRUNCATED_MARK = " … [truncated]"


def _bounded_texts(fields: dict[str, object]) -> dict[str, object]:
    """The reported texts cut to their limits (keeping the start, where Nextflow puts the cause)."""
    bounded: dict[str, object] = {}
    for name, limit in REPORTED_TEXT_LIMITS.items():
        value = fields.get(name)
        if isinstance(value, str) and len(value) > limit:
            bounded[name] = value[: limit - len(TRUNCATED_MARK)] + TRUNCATED_MARK
    return bounded


CREATION_WINDOW_SECONDS = 3600.0
VALIDATION_RUN_ID = "run-00000000"  # ValidateRun renders the config as if for a run; nothing is kept


@dataclass(frozen=True)
class UserLimits:
    """Per-user limits on creating runs (``ARC_MAX_ACTIVE_RUNS_PER_USER``, ``ARC_MAX_RUNS_CREATED_PER_HOUR``)."""

    max_active: int = 20
    max_per_hour: int = 100


class RunsService:
    def __init__(
        self,
        *,
        store: RunStore,
        storage: Storage,
        hub: RunEventHub,
        pipelines: PipelinesPort,
        launcher: RunLauncher,
        progress: ProgressFeed | None = None,
        limits: UserLimits | None = None,
        input_checker: InputChecker | None = None,
        system: SystemFigures | None = None,
    ) -> None:
        self.limits = limits or UserLimits()
        self.store = store
        self.storage = storage
        self.hub = hub
        self.pipelines = pipelines
        self.launcher = launcher
        self.progress = progress
        # Where file inputs may come from, and that they exist (None: not checked, for tests of other parts).
        self.input_checker = input_checker
        self._touched: dict[str, float] = {}
        # What GetSystemInfo answers (None: not wired, for tests of other parts).
        self.system = system

    # --- identity and access -------------------------------------------------------------------

    async def touch_user(self, caller: Identity) -> None:
        """Create the caller's user row on first sight; refresh ``last_login_at`` at most once a minute."""
        now = time.monotonic()
        if now - self._touched.get(caller.email, -USER_TOUCH_SECONDS) < USER_TOUCH_SECONDS:
            return
        await self.store.touch_user(caller.email, caller.display_name or caller.email.split("@")[0])
        self._touched[caller.email] = now

    async def _visible_run(self, caller: Identity, run_id: str) -> Run:
        check_run_id(run_id)
        found = await self.store.get_run(run_id)
        if found is None or not caller.can_see(found.user_email):
            raise NotFound(f"run {run_id} not found")
        return found

    # --- create ----------------------------------------------------------------------------------

    async def create_run(self, caller: Identity, run: RunInput) -> Run:
        check_run_input(run)
        return await self._create(caller, run, lineage=None)

    async def _create(self, caller: Identity, run: RunInput, *, lineage: Lineage | None) -> Run:
        """Validate, store inputs, insert (pending), submit (submitted or failed). Nothing half-created."""
        request_id = run.request_id or None
        if request_id:
            existing = await self.store.get_by_request_id(caller.email, request_id)
            if existing is not None:
                return existing
        await self._check_user_limits(caller)
        validated = await self._validated_inputs(caller, run)
        sample_count = validated.sample_count
        token = secrets.token_urlsafe(32)
        # The row first, under a run id nobody has (a clash draws a new id), then the inputs: a clashing
        # id can never touch the run that owns it.
        for _ in range(RUN_ID_ATTEMPTS):
            run_id = new_run_id()
            root = layout.run_root(run_id)
            rendered = await self.pipelines.render_config(
                caller,
                pipeline=run.pipeline,
                version=run.pipeline_version,
                run_id=run_id,
                user_config=run.config_content,
            )
            try:
                row = await self.store.insert_run(
                    NewRun(
                        run_id=run_id,
                        pipeline=run.pipeline,
                        pipeline_version=run.pipeline_version,
                        user_email=caller.email,
                        user_name=caller.display_name or None,
                        gcs_path=self.storage.uri(root),
                        params=run.params,
                        sample_count=sample_count,
                        source_ngs_runs=[s.strip() for s in run.source_ngs_runs] or None,
                        source_project=run.source_project or None,
                        # A resume keeps the parent's session; every other run (a from-scratch recovery
                        # too) gets a session of its own, which its orchestrator reports under.
                        nextflow_session_id=(lineage.session_id if lineage else None) or str(uuid.uuid4()),
                        orchestrator_token_sha256=hash_token(token),
                        request_id=request_id,
                        parent_run_id=lineage.parent_run_id if lineage else None,
                        is_recovery=lineage is not None and lineage.parent_run_id is not None,
                        recovery_notes=lineage.notes if lineage else None,
                        reused_work_dir=lineage.work_dir if lineage else None,
                        name=run.name.strip() or default_name(run.pipeline, sample_count, run.source_project),
                        description=run.description or None,
                        labels=dict(run.labels),
                        relaunched_from=lineage.relaunched_from if lineage else None,
                    ),
                    reason=_creation_reason(caller, lineage),
                )
            except RunIdTaken:
                log.warning("run id %s is taken: drawing another", run_id)
                continue
            break
        else:
            raise Unavailable("could not draw a free run id; try again")
        if row is None:  # a concurrent retry with the same request id won; nothing was written
            existing = await self.store.get_by_request_id(caller.email, request_id or "")
            if existing is None:
                raise FailedPrecondition("a concurrent request with this request id did not complete")
            return existing
        try:
            await self._write_inputs(run_id, run, rendered, validated.platform_params)
        except BaseException as exc:
            await asyncio.shield(self._fail_unstored(run_id, exc))
            raise
        return await self.launcher.submit(row, token, resume_session_id=lineage.resume_session_id if lineage else None)

    async def _validated_inputs(self, caller: Identity, run: RunInput) -> ValidatedInputs:
        """Pipelines' verdict on the inputs (every violation at once), then where their files come from."""
        validated = await self.pipelines.validate_run_inputs(
            caller,
            pipeline=run.pipeline,
            version=run.pipeline_version,
            params=run.params,
            samplesheet_csv=run.samplesheet_csv,
            user_config=run.config_content,
        )
        if self.input_checker is not None:
            await self.input_checker.check(caller, validated.input_paths)
        return validated

    async def _check_user_limits(self, caller: Identity) -> None:
        """RESOURCE_EXHAUSTED (REST 429 with Retry-After) past the user's active-run or hourly creation limit.

        Counted in the database, so every replica sees the same numbers; two creates racing at the limit may
        both pass (a bound, not an exact quota)."""
        active, recent, oldest = await self.store.creation_load(caller.email, CREATION_WINDOW_SECONDS)
        if active >= self.limits.max_active:
            raise ResourceExhausted(
                f"{caller.email} has {active} active runs; the limit is {self.limits.max_active}."
                " Wait for one to finish or cancel one.",
                reason="TOO_MANY_ACTIVE_RUNS",
                retry_after_seconds=60.0,
            )
        if recent >= self.limits.max_per_hour:
            wait = CREATION_WINDOW_SECONDS
            if oldest is not None:
                wait = max(1.0, CREATION_WINDOW_SECONDS - (datetime.now(UTC) - oldest).total_seconds())
            raise ResourceExhausted(
                f"{caller.email} created {recent} runs in the last hour; the limit is {self.limits.max_per_hour}.",
                reason="RUN_CREATION_RATE",
                retry_after_seconds=wait,
            )

    async def _write_inputs(
        self, run_id: str, run: RunInput, rendered_config: str, platform_params: Mapping[str, str]
    ) -> None:
        params = dict(run.params)
        # The params the pipeline's manifest names (Pipelines returns them with the valid inputs) point at
        # the run's storage; users never set them.
        for name, kind in platform_params.items():
            params[name] = self.storage.uri(platform_param_key(run_id, kind))
        files = {
            layout.SAMPLESHEET: run.samplesheet_csv,
            layout.NEXTFLOW_CONFIG: rendered_config,
            # The user's own part, kept so that a recovery can render the config again.
            USER_CONFIG: run.config_content,
            layout.PARAMS_FILE: yaml.safe_dump(params, sort_keys=True, allow_unicode=True),
        }
        written: list[str] = []
        try:
            for name, text in files.items():
                key = layout.inputs_key(run_id, name)
                written.append(key)  # before the write: a write cut short may still leave an object
                await self.storage.write_bytes(key, text.encode())
        except BaseException:
            # Only the objects this request wrote, never a prefix; all at once, and shielded as one so that
            # a cancelled request still cleans up everything it began.
            outcomes = await asyncio.shield(
                asyncio.gather(*(self.storage.delete(key) for key in written), return_exceptions=True)
            )
            for key, outcome in zip(written, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    log.warning("could not delete %s after a failed create: %r", key, outcome)
            raise

    async def _fail_unstored(self, run_id: str, exc: BaseException) -> None:
        """A run whose inputs could not be stored ends ``failed`` with the reason, never left ``pending``.

        Its request id is released: the caller saw an error, so a retry with the same id must make a new
        run rather than answer with this failed one."""
        try:
            await self.store.move(
                run_id,
                st.FAILED,
                reason=f"inputs not stored: {exc!r}",
                actor="runs",
                fields={"error_message": f"Could not store the run's inputs: {exc!r}"},
            )
            await self.store.release_request_id(run_id)
        except Exception as move_exc:
            log.error("could not mark %s failed after its inputs failed to store: %r", run_id, move_exc)

    # --- read ------------------------------------------------------------------------------------

    async def get_run(self, caller: Identity, run_id: str) -> Run:
        return await self._visible_run(caller, run_id)

    async def list_runs(
        self,
        caller: Identity,
        *,
        filter_text: str,
        page_size: int,
        page_token: str,
        skip: int,
        show_purged: bool = False,
    ) -> tuple[list[Run], str, int]:
        run_filter = parse_filter(filter_text, show_purged=show_purged)
        if not caller.is_admin:
            if run_filter.user_email not in (None, caller.email):
                return [], "", 0  # other people's runs are invisible, not forbidden
            run_filter = dataclasses.replace(run_filter, user_email=caller.email)
        limit = page_size_of(page_size)
        if skip < 0 or skip > MAX_SKIP:
            raise InvalidArgument(f"skip must be between 0 and {MAX_SKIP}")
        token = decode_token(page_token, run_filter) if page_token else None
        rows = await self.store.list_runs(
            run_filter,
            after=(token.created_at, token.run_id) if token else None,
            skip=skip,
            limit=limit + 1,
        )
        # Counted once per listing; later pages carry the total in their token. A first page that holds
        # every match is its own count (a rare search term costs no second query).
        if token:
            total = token.total
        elif skip == 0 and len(rows) <= limit:
            total = len(rows)
        else:
            exact_up_to = EXACT_SEARCH_TOTAL_UP_TO if run_filter.searches else EXACT_TOTAL_UP_TO
            total = await self.store.count_runs(run_filter, exact_up_to=exact_up_to)
        next_token = ""
        if len(rows) > limit:
            rows = rows[:limit]
            last = rows[-1]
            next_token = encode_token(PageToken(last.created_at, last.run_id, total), run_filter)
        return rows, next_token, total

    # --- names and labels -------------------------------------------------------------

    async def update_run(self, caller: Identity, run_id: str, update: RunUpdate) -> Run:
        """Change a run's name, description or labels (owner or admin; any status). Records an ``updated``
        action saying what changed; moves no status, so watchers hear nothing."""
        check_update(update)
        found = await self._visible_run(caller, run_id)
        updated, _changed = await self.store.update_names(
            run_id,
            stored_values(found, update),
            actor=caller.email,
            reason_of=lambda changes: update_reason(caller.email, changes),
        )
        return updated

    # --- state moves -----------------------------------------------------------------------------

    async def cancel_run(self, caller: Identity, run_id: str) -> Run:
        found = await self._visible_run(caller, run_id)
        if found.status in (st.COMPLETED, st.FAILED):
            raise FailedPrecondition(
                f"run {run_id} is {found.status}; only an active run can be cancelled",
                reason="RUN_TERMINAL",
                metadata={"current_status": found.status},
            )
        if found.status != st.CANCELLED:
            await self.launcher.cancel_job(found)  # the job first: a cancelled run must not keep running
        result = await self.store.move(run_id, st.CANCELLED, reason=f"cancelled by {caller.email}", actor=caller.email)
        return result.run

    async def recover_run(self, caller: Identity, run_id: str, recovery: RecoveryInput) -> Run:
        """A new run that resumes a failed or cancelled one in its work dir (``-resume <session>``)."""
        parent = await self._visible_run(caller, run_id)
        if parent.status not in (st.FAILED, st.CANCELLED):
            raise FailedPrecondition(
                f"run {run_id} is {parent.status}; only a failed or cancelled run can be recovered",
                reason="RUN_NOT_RECOVERABLE",
                metadata={"current_status": parent.status},
            )
        if parent.purged_at is not None:
            raise run_purged(parent)
        if recovery.reuse_work_dir and parent.work_deleted_at is not None:
            raise await self._work_dir_deleted(parent)
        if len(recovery.notes.encode()) > MAX_NOTE_BYTES:
            raise InvalidArgument(
                "invalid recovery",
                [FieldViolation("notes", f"is over the limit of {MAX_NOTE_BYTES} bytes (4 KB)")],
            )
        lineage = Lineage(parent_run_id=run_id, notes=recovery.notes or None, work_dir=None, session_id=None)
        if recovery.reuse_work_dir:
            work_dir = work_dir_uri(self.storage, parent)
            work_key = self.storage.key_of(work_dir)
            if work_key is None or not await self.storage.has_objects(work_key):
                raise FailedPrecondition(
                    f"the work dir of run {run_id} no longer exists ({work_dir}); work files expire after 30 days."
                    " Recover with reuse_work_dir=false to run again from the start.",
                    reason="WORK_DIR_GONE",
                )
            session = str(parent.nextflow_session_id)
            lineage = Lineage(run_id, recovery.notes or None, work_dir, session_id=session, resume_session_id=session)
        run = RunInput(
            pipeline=parent.pipeline,
            pipeline_version=parent.pipeline_version,
            samplesheet_csv=(await self.storage.read_bytes(layout.inputs_key(run_id, layout.SAMPLESHEET))).decode(),
            config_content=recovery.override_config
            if recovery.override_config is not None
            else await self._read_text(layout.inputs_key(run_id, USER_CONFIG)),
            params=dict(recovery.override_params if recovery.override_params is not None else parent.params),
            source_ngs_runs=list(parent.source_ngs_runs or []),
            source_project=parent.source_project or "",
            request_id=recovery.request_id,
        )
        check_run_input(run)
        return await self._create(caller, run, lineage=lineage)

    async def _read_text(self, key: str) -> str:
        try:
            return (await self.storage.read_bytes(key)).decode()
        except NotFound:
            return ""

    async def issue_orchestrator_token(self, run_id: str) -> str:
        """A fresh run-scoped token for the orchestrator (only its hash is stored)."""
        token = secrets.token_urlsafe(32)
        await self.store.set_token_digest(run_id, hash_token(token))
        return token

    async def report_status(
        self, token: str, run_id: str, target: str, *, at: datetime | None, fields: dict[str, object]
    ) -> Run:
        """The orchestrator's report; authenticated by the token of that one run."""
        check_run_id(run_id)
        digest = await self.store.token_digest(run_id)
        if not token or digest is None or not hmac.compare_digest(digest, hash_token(token)):
            raise Unauthenticated("invalid run token")
        if target not in st.STATUSES or target == st.PENDING:
            raise InvalidArgument(f"status {target!r} cannot be reported")
        fields = {**fields, **_bounded_texts(fields)}
        result = await self.store.move(
            run_id, target, reason="reported by orchestrator", actor="orchestrator", fields=fields, at=at
        )
        return result.run

    # --- files -----------------------------------------------------------------------------------

    async def list_files(self, caller: Identity, run_id: str) -> dict[str, list[RunFileInfo]]:
        if (found := await self._visible_run(caller, run_id)).purged_at is not None:
            raise run_purged(found)
        root = layout.run_root(run_id)
        groups: dict[str, list[RunFileInfo]] = {}
        for group in FILE_GROUPS:
            infos = await self.storage.list(layout.group_prefix(run_id, group))
            groups[group] = [await self._file_info(run_id, root, info) for info in infos]
        return groups

    async def _file_info(self, run_id: str, root: str, info: ObjectInfo) -> RunFileInfo:
        path = info.key[len(root) + 1 :]
        url = await self.storage.download_url(info.key, filename=path.rsplit("/", 1)[-1])
        return RunFileInfo(
            path=path,
            size=info.size,
            updated_at=info.updated_at,
            download_url=url or f"/api/runs/{run_id}/files/{path}",
        )

    async def read_file(self, caller: Identity, run_id: str, path: str) -> tuple[int, AsyncIterator[bytes]]:
        """Size and chunks of one file under the run's inputs/, results/ or logs/."""
        if (found := await self._visible_run(caller, run_id)).purged_at is not None:
            raise run_purged(found)
        relative = safe_key(path)
        if relative.split("/", 1)[0] not in FILE_GROUPS:
            raise NotFound(f"no file {path!r} in run {run_id}")
        key = layout.join(layout.run_root(run_id), relative)
        info = await self.storage.stat(key)
        if info is None:
            raise NotFound(f"no file {path!r} in run {run_id}")
        return info.size, self.storage.iter_chunks(key)

    # --- watch -----------------------------------------------------------------------------------

    async def watch(self, caller: Identity, run_id: str, after_seq: int) -> AsyncIterator[RunEvent]:
        """The current state first (or everything after ``after_seq``), then each change, until terminal.

        Task progress is interleaved while the run goes; a progress event carries the sequence of the last
        status event, so resuming from it neither skips nor repeats a status (progress is a snapshot and is
        simply sent afresh).
        """
        await self._visible_run(caller, run_id)
        sub = self.hub.subscribe(run_id)  # before the first read, so no change can slip between
        progress = self.progress.subscribe(run_id) if self.progress else None  # polled as the service
        try:
            history = await self.hub.events_after(run_id, 0)
            if after_seq <= 0:
                rows = history[-1:]
            elif history and after_seq >= history[-1].seq and st.is_terminal(history[-1].to_status):
                return  # a reconnect after the final event (or past it): nothing more will come
            else:
                rows = [r for r in history if r.seq > after_seq]
            last, last_time, progress_sent = max(after_seq, 0), None, 0
            while True:
                for row in rows:
                    event = _event(row)
                    last, last_time = event.seq, event.time
                    yield event
                    if event.final:
                        return
                sub.wake.clear()
                if progress is not None:
                    progress.changed.clear()
                    if progress.version > progress_sent:
                        progress_sent = progress.version
                        yield RunEvent(
                            seq=last,
                            time=last_time or datetime.now(UTC),
                            run=None,
                            final=False,
                            progress=progress.snapshot,
                        )
                if sub.announced <= last:
                    await _first_of(sub.wake, progress.changed if progress else None)
                rows = await self.hub.events_after(run_id, last, at_least=sub.announced) if sub.announced > last else []
        finally:
            self.hub.unsubscribe(sub)
            if progress is not None:
                self.progress.unsubscribe(progress)  # type: ignore[union-attr]

    # --- history and purge -------------------------------------------------------------

    async def get_history(self, caller: Identity, run_id: str) -> tuple[list[RunTimelineEntry], list[RunLink]]:
        """Every status move and action, oldest first (the creation first), and the linked runs the caller
        may see."""
        found = await self._visible_run(caller, run_id)
        viewer = None if caller.is_admin or caller.is_internal else caller.email
        return await self.store.timeline(run_id), await self.store.links(found, viewer)

    async def purge_run(self, caller: Identity, run_id: str) -> Run:
        """Delete a terminal run's files (inputs, work, results, logs) and keep its row, marked ``purged_at``.

        The row is marked first, in one transaction with its ``purged`` action, and then the objects are
        deleted: from that moment its files answer RUN_PURGED and no recovery can start from them. A purge
        cut short (a crash, storage down) leaves objects behind a purged row; purging again, which is
        otherwise a no-op, deletes whatever is left."""
        found = await self._visible_run(caller, run_id)
        if found.purged_at is None:
            found = await self.store.mark_purged(
                run_id,
                actor=caller.email,
                reason=f"files purged by {caller.email}",
                # The recoveries that resumed in this run's own work dir lose it too (None: it used its parent's).
                own_work_dir=None if found.reused_work_dir else work_dir_uri(self.storage, found),
            )
        root = layout.run_root(run_id)
        if await self.storage.has_objects(root):
            deleted = await self.storage.delete_prefix(root)
            log.info("purge of %s by %s: %d objects deleted", run_id, caller.email, deleted)
        return found

    async def _work_dir_deleted(self, run: Run) -> FailedPrecondition:
        """Why a recovery cannot reuse ``run``'s work dir: when it went, and the reason its history gives."""
        when = run.work_deleted_at.isoformat(timespec="seconds") if run.work_deleted_at else "an unknown time"
        action = await self.store.last_deletion(run.run_id)
        why = action.reason if action is not None else "work dir deleted"
        return FailedPrecondition(
            f"the work dir of run {run.run_id} was deleted at {when}: {why}. Recover with reuse_work_dir=false"
            " to run it again from the start.",
            reason="WORK_DIR_DELETED",
            metadata={"work_deleted_at": when, "deletion_reason": why},
        )

    # --- launch documents, relaunch, validation ---------------------------------------

    async def get_launch(self, caller: Identity, run_id: str) -> LaunchDocument:
        """The run's launch document: the CreateRun request that makes the same run (``RUN_PURGED`` once its
        files are gone)."""
        return await read_launch(self.storage, await self._visible_run(caller, run_id))

    async def relaunch_run(self, caller: Identity, run_id: str, relaunch: RelaunchInput) -> Run:
        """A new run from a terminal run's inputs with the overrides: a fresh session and work dir, not a
        recovery (``relaunched_from`` links it to its source)."""
        source = await self._visible_run(caller, run_id)
        check_relaunchable(source)
        run = relaunch_input(await read_launch(self.storage, source), relaunch)
        check_run_input(run)
        lineage = Lineage(parent_run_id=None, notes=None, work_dir=None, session_id=None, relaunched_from=run_id)
        return await self._create(caller, run, lineage=lineage)

    async def validate_run(self, caller: Identity, run: RunInput) -> ValidationResult:
        """What a create checks (every violation at once), but the per-user limits; nothing is written.

        The limits become warnings: valid inputs that a create would refuse right now."""
        run = dataclasses.replace(run, request_id="")
        check_run_input(run)
        validated = await self._validated_inputs(caller, run)
        # A create renders the config too; the placeholder id only labels the rendered text, which is dropped.
        await self.pipelines.render_config(
            caller,
            pipeline=run.pipeline,
            version=run.pipeline_version,
            run_id=VALIDATION_RUN_ID,
            user_config=run.config_content,
        )
        return ValidationResult(
            sample_count=validated.sample_count,
            name=run.name.strip() or default_name(run.pipeline, validated.sample_count, run.source_project),
            warnings=await self._limit_warnings(caller),
        )

    async def _limit_warnings(self, caller: Identity) -> list[str]:
        active, recent, _ = await self.store.creation_load(caller.email, CREATION_WINDOW_SECONDS)
        warnings = []
        if active >= self.limits.max_active:
            warnings.append(
                f"{caller.email} has {active} active runs, the limit: a create now would be refused until one ends"
            )
        if recent >= self.limits.max_per_hour:
            warnings.append(
                f"{caller.email} created {recent} runs in the last hour, the limit: a create now would be refused"
            )
        return warnings

    # --- who am I, and the system ---------------------------------------------------------

    async def get_current_user(self, caller: Identity) -> User:
        """The caller as they see themselves: their row, stats, runs by status; admin from their identity."""
        user = await self.store.get_user(caller.email)
        if user is None:  # touched on first sight; created here too should the row be gone since
            await self.store.touch_user(caller.email, caller.display_name or caller.email.split("@")[0])
            user = await self.store.get_user(caller.email)
            if user is None:
                raise Unavailable(f"the user {caller.email} could not be recorded; try again")
        return dataclasses.replace(user, is_admin=caller.is_admin)

    async def update_preferences(self, caller: Identity, preferences: dict[str, Any]) -> User:
        """Replace the caller's preferences (a JSON object, at most 16 KB as JSON) and return the caller."""
        checked = check_preferences(preferences)
        await self.get_current_user(caller)  # the row exists before it is updated
        user = await self.store.set_preferences(caller.email, checked)
        if user is None:
            raise Unavailable(f"the user {caller.email} could not be recorded; try again")
        return dataclasses.replace(user, is_admin=caller.is_admin)

    async def get_system_info(self, caller: Identity) -> SystemInfo:
        """The platform's version, executor, storage, Nextflow, runs by status (platform totals: counts
        only, so any signed-in caller may see them), the local queue and the retention setting."""
        if self.system is None:
            raise Unavailable("system information is not configured")
        return await self.system.info()


def run_purged(run: Run) -> FailedPrecondition:
    """The refusal of anything that needs a purged run's files (REST 410 Gone, by its reason RUN_PURGED)."""
    when = run.purged_at.isoformat(timespec="seconds") if run.purged_at else "an unknown time"
    return FailedPrecondition(
        f"run {run.run_id} was purged at {when}: its files are deleted (its record and history stay)",
        reason="RUN_PURGED",
        metadata={"purged_at": when},
    )


def _creation_reason(caller: Identity, lineage: Lineage | None) -> str:
    if lineage is not None and lineage.parent_run_id:
        return f"recovery of {lineage.parent_run_id} by {caller.email}"
    if lineage is not None and lineage.relaunched_from:
        return f"relaunch of {lineage.relaunched_from} by {caller.email}"
    return f"created by {caller.email}"


async def _first_of(*events: asyncio.Event | None) -> None:
    waiters = [asyncio.ensure_future(e.wait()) for e in events if e is not None]
    try:
        await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


def _event(entry: RunHistoryEntry) -> RunEvent:
    return RunEvent(seq=entry.seq, time=entry.created_at, run=entry.run, final=st.is_terminal(entry.to_status))
