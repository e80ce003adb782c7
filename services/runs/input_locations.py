"""Where a run's file inputs may come from, and whether they exist, checked before the run is created.

The Pipelines service says which values are paths (path params, the samplesheet's file cells); this module,
which knows the caller, decides whether each one may be read by the run:

* a prefix of ``ARC_INPUT_LOCATIONS`` (``gs://lab-fastq/``; absolute local directories with local storage),
  compared folder-wise (``gs://lab-fastq/`` never matches ``gs://lab-fastq-evil/``) after normalising
  ``.``/``..`` segments, and for local paths after ``realpath`` (a symlink pointing outside is refused);
* the ``results/`` of the caller's own runs (an admin: of any run), under the platform's storage root;
* nothing else: other schemes (``http(s)://``, ``ftp://``, ``file:``), relative paths (Nextflow would
  resolve them against its launch directory), local paths when storage is ``gs://``, and the rest of the
  platform's storage (other users' runs, one's own runs' inputs, work and logs).

Then the paths that must exist are grouped by folder and each folder is listed once, a bounded number at
a time. Every problem comes back in one :class:`InvalidArgument` with a violation per path.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from arc_core.errors import FieldViolation, InvalidArgument
from arc_core.identity import Identity
from arc_core.object_listing import FolderLister, FolderListing
from services.runs.inputs import RUN_ID

MAX_FOLDERS = 1000  # distinct folders listed for one run's inputs (and distinct runs whose results are named)
LIST_CONCURRENCY = 16
MAX_VIOLATIONS = 50
# Status details travel in gRPC trailers (8 KiB default limit at clients): bound what one error carries.
MAX_VIOLATION_BYTES = 6000
MAX_SHOWN_URI = 160

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class InputPath:
    """A path the run's inputs name (from ValidateRunInputs): where it was given, the value, its kind."""

    field: str
    uri: str
    kind: str = "file"  # "file" | "directory" | "path" (either)
    must_exist: bool = True


@dataclass(frozen=True)
class ValidatedInputs:
    """What the Pipelines service found in valid inputs."""

    sample_count: int
    input_paths: tuple[InputPath, ...] = ()
    # The params the platform fills, from the pipeline's manifest: name -> "samplesheet" | "results".
    platform_params: Mapping[str, str] = field(default_factory=dict)


class RunOwnership(Protocol):
    async def runs_visible_to(self, run_ids: Collection[str], user_email: str | None) -> set[str]:
        """The ids among ``run_ids`` that ``user_email`` owns (``None``: that exist at all, for an admin)."""
        ...


@dataclass(frozen=True)
class Placement:
    """Where one input path points: its normalised form, and a refusal or the run whose results it is in."""

    target: str  # gs://BUCKET/PATH (no trailing slash) or a realpath; "" when refused before normalising
    refusal: str = ""
    results_of: str = ""  # a run id: allowed only if the caller may see that run


def _gcs_target(uri: str) -> tuple[str, str]:
    """(``gs://BUCKET/PATH`` with ``.``, ``..`` and empty segments resolved, refusal)."""
    bucket, _, rest = uri[5:].partition("/")
    if not _BUCKET.match(bucket):
        return "", "is not a valid gs:// URI (gs://BUCKET/PATH)"
    parts: list[str] = []
    for segment in rest.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if not parts:
                return "", "climbs out of its bucket with '..'"
            parts.pop()
        else:
            parts.append(segment)
    return "/".join([f"gs://{bucket}", *parts]), ""


def _folder_prefix(location: str) -> str:
    return location if location.endswith("/") else location + "/"


class InputLocationPolicy:
    """Decides, path by path, whether a value points into an allowed place (no I/O but ``realpath``)."""

    def __init__(self, allowed: Sequence[str], storage_root: str) -> None:
        self.storage_is_local = not storage_root.startswith("gs://")
        if self.storage_is_local:
            self.storage_prefix = _folder_prefix(os.path.realpath(storage_root))
        else:
            target, refusal = _gcs_target(storage_root)
            if refusal:
                raise ValueError(f"storage root {storage_root!r} {refusal}")
            self.storage_prefix = _folder_prefix(target)
        # Local locations are ignored with gs:// storage (the settings refuse that combination anyway).
        self.allowed = tuple(_folder_prefix(loc) for loc in allowed if loc.startswith("gs://") or self.storage_is_local)

    def describe_allowed(self) -> str:
        places = ", ".join(self.allowed)
        return f"{places}, or the results/ of your own runs" if places else "the results/ of your own runs"

    def place(self, uri: str) -> Placement:
        """Blocking for local paths (``realpath``): call it in a worker thread."""
        if _CONTROL.search(uri):
            return Placement("", "contains control characters")
        if uri != uri.strip():
            return Placement("", "starts or ends with whitespace")
        if uri.startswith("gs://"):
            target, refusal = _gcs_target(uri)
            if refusal:
                return Placement("", refusal)
        elif scheme := _SCHEME.match(uri):
            name = scheme.group(1).lower()
            if name == "gs":
                return Placement("", "is not a valid gs:// URI (gs://BUCKET/PATH)")
            if name in ("http", "https", "ftp", "ftps", "sftp"):
                why = f"{name}:// downloads are not allowed"
            else:
                why = f"the scheme {name}: is not allowed"
            return Placement("", f"{why}; copy the file to an allowed location ({self.describe_allowed()})")
        elif not self.storage_is_local:
            return Placement("", f"is a local path, which runs cannot read here; use gs:// ({self.describe_allowed()})")
        elif not uri.startswith("/"):
            return Placement(
                "",
                "is a relative path (Nextflow would resolve it against its launch directory);"
                f" give an absolute path in an allowed location ({self.describe_allowed()})",
            )
        else:
            target = os.path.realpath(uri)
        return self._classify(target)

    def _classify(self, target: str) -> Placement:
        as_folder = _folder_prefix(target)
        root = self.storage_prefix
        if as_folder.startswith(root) and (target.startswith("gs://") != self.storage_is_local):
            parts = target[len(root) :].split("/")
            if len(parts) >= 3 and parts[0] == "runs" and RUN_ID.match(parts[1]) and parts[2] == "results":
                return Placement(target, results_of=parts[1])
            return Placement(target, "is in the platform's own storage; only the results/ of your own runs may be used")
        if any(as_folder.startswith(loc) for loc in self.allowed):
            return Placement(target)
        return Placement(target, f"is not in an allowed input location ({self.describe_allowed()})")


def _shown(uri: str) -> str:
    if len(uri) <= MAX_SHOWN_URI:
        return uri
    half = (MAX_SHOWN_URI - 1) // 2
    return f"{uri[:half]}…{uri[-half:]}"


def _split(target: str) -> tuple[str, str]:
    """(folder with a trailing slash, name) of a normalised target; name "" for a bucket or ``/``."""
    if target.startswith("gs://") and target.count("/") == 2:
        return target + "/", ""
    folder, _, name = target.rpartition("/")
    return folder + "/", name


def _existence_problem(kind: str, name: str, listing: FolderListing) -> str:
    if listing.unreadable:
        return f"cannot be checked: {listing.unreadable}"
    if not name:  # a bucket or the root itself: it exists if anything is in it
        return "" if listing.files or listing.folders else "does not exist (or is empty)"
    is_file, is_folder = name in listing.files, name in listing.folders
    if kind == "file":
        return "" if is_file else ("is a folder, not a file" if is_folder else "does not exist")
    if kind == "directory":
        return "" if is_folder else ("is a file, not a folder" if is_file else "does not exist")
    return "" if is_file or is_folder else "does not exist"


class InputChecker:
    """Checks a run's input paths: allowed places first, then existence, one listing per folder."""

    def __init__(
        self,
        *,
        policy: InputLocationPolicy,
        lister: FolderLister,
        runs: RunOwnership,
        max_folders: int = MAX_FOLDERS,
        concurrency: int = LIST_CONCURRENCY,
    ) -> None:
        self.policy = policy
        self.lister = lister
        self.runs = runs
        self.max_folders = max_folders
        self.concurrency = concurrency

    async def check(self, caller: Identity, paths: Sequence[InputPath]) -> None:
        """Raise one InvalidArgument naming every refused or missing path; return when all are fine."""
        if not paths:
            return
        places = await asyncio.to_thread(lambda: [self.policy.place(p.uri) for p in paths])
        problems: list[tuple[int, FieldViolation]] = []
        general: list[FieldViolation] = []

        run_ids = {pl.results_of for pl in places if pl.results_of}
        visible: set[str] = set()
        if len(run_ids) > self.max_folders:
            general.append(
                FieldViolation("inputs", f"name the results of {len(run_ids)} runs; at most {self.max_folders}")
            )
        elif run_ids:
            visible = await self.runs.runs_visible_to(sorted(run_ids), None if caller.is_admin else caller.email)

        to_check: dict[str, list[tuple[int, str, str]]] = {}
        for i, (path, place) in enumerate(zip(paths, places, strict=True)):
            refusal = place.refusal
            if not refusal and place.results_of and place.results_of not in visible:
                refusal = "is not in the results/ of one of your runs"
            if refusal:
                problems.append((i, FieldViolation(path.field, f"{_shown(path.uri)} {refusal}")))
            elif path.must_exist and not general:
                folder, name = _split(place.target)
                to_check.setdefault(folder, []).append((i, name, path.kind))

        if len(to_check) > self.max_folders:
            general.append(
                FieldViolation(
                    "inputs",
                    f"the input files are spread over {len(to_check)} folders; at most {self.max_folders} can be"
                    " checked: keep them in fewer folders",
                )
            )
        elif to_check:
            listings = await self._list_all(list(to_check))
            for folder, entries in to_check.items():
                for i, name, kind in entries:
                    problem = _existence_problem(kind, name, listings[folder])
                    if problem:
                        problems.append((i, FieldViolation(paths[i].field, f"{_shown(paths[i].uri)} {problem}")))

        if problems or general:
            problems.sort(key=lambda item: item[0])
            violations = general + [v for _, v in problems]
            raise InvalidArgument(
                f"{len(violations)} input path{'s' if len(violations) != 1 else ''} refused or missing",
                _capped(violations),
                reason="INPUT_PATHS_REFUSED",
                metadata={"violation_count": str(len(violations))},
            )

    async def _list_all(self, folders: list[str]) -> dict[str, FolderListing]:
        gate = asyncio.Semaphore(self.concurrency)

        async def one(folder: str) -> FolderListing:
            async with gate:
                return await self.lister.list_folder(folder)

        tasks = [asyncio.ensure_future(one(folder)) for folder in folders]
        try:
            results = await asyncio.gather(*tasks)
        except BaseException:
            for task in tasks:  # the first failure (e.g. Unavailable) wins; the rest are not waited for
                task.cancel()
            raise
        return dict(zip(folders, results, strict=True))


def _capped(violations: list[FieldViolation]) -> list[FieldViolation]:
    """At most MAX_VIOLATIONS (and about MAX_VIOLATION_BYTES), the last entry saying how many more."""

    def cost(v: FieldViolation) -> int:
        return len(v.field.encode()) + len(v.description.encode()) + 8

    if len(violations) <= MAX_VIOLATIONS and sum(map(cost, violations)) <= MAX_VIOLATION_BYTES:
        return violations
    kept: list[FieldViolation] = []
    size = 0
    for v in violations[: MAX_VIOLATIONS - 1]:
        size += cost(v)
        if size > MAX_VIOLATION_BYTES - 100:
            break
        kept.append(v)
    kept.append(FieldViolation("inputs", f"... and {len(violations) - len(kept)} more problems not shown"))
    return kept
