"""RenderConfig: a run's ``nextflow.config`` from the Jinja2 template ``templates/nextflow.config.j2``.

Every value placed in the config is rendered here as a Groovy literal (``groovy_literal``): strings are
single-quoted with ``\\``, ``'``, ``$`` and control characters escaped, so a param value can never end its
string, start code, or open a ``${...}`` interpolation. The template itself only positions literals.
Param names must be plain identifiers. The user's config is appended verbatim under a comment; after it a
final platform block writes again the lines that must win (executor, network, resource labels, resource
caps), so nothing in the user's config can change where tasks run, how they are attributed, or their maxima.
The pipeline's own ``errorStrategy``/``maxRetries`` are left alone (nf-core retries only exit codes 130-145
and 104 through its base.config; a global retry would repeat every deterministic failure).
Resource caps: ``resource_caps="params"`` sets ``params.max_cpus/max_memory/max_time`` (nf-core < 3.0),
``"resource_limits"`` sets ``process.resourceLimits`` (Nextflow >= 24.04). A user's cap param above the
platform's maximum is refused; one at or below it is kept.
Output is deterministic: params are sorted by name, maps by key, labels in a fixed order.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from arc_core.errors import FieldViolation, InvalidArgument

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "nextflow.config.j2"
MAX_USER_CONFIG_BYTES = 100 * 1024
APP_LABEL = "arc-reactor"

_IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Groovy keywords and literals (and `class`, special on property access): not usable as bare names.
_GROOVY_RESERVED = frozenset(
    "abstract as assert boolean break byte case catch char class const continue def default do double else "
    "enum extends false final finally float for goto if implements import in instanceof int interface long "
    "native new null package private protected public return short static strictfp super switch "
    "synchronized this threadsafe throw throws transient true try var void volatile while yields record "
    "sealed permits non-sealed trait".split()
)
_ESCAPES = {
    "\\": "\\\\",
    "'": "\\'",
    "$": "\\$",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
}
_ESCAPE_TABLE = str.maketrans(
    {
        **{chr(c): f"\\u{c:04x}" for c in [*range(0x20), 0x7F, 0x85, 0x2028, 0x2029]},
        **_ESCAPES,
    }
)
_LABEL_BAD_RE = re.compile(r"[^a-z0-9_-]")


@dataclass(frozen=True)
class BatchConfigSettings:
    """Executor settings for rendered configs; an empty ``project`` renders the local executor."""

    project: str = ""
    location: str = "us-central1"
    service_account: str = ""
    spot: bool = True
    max_spot_attempts: int = 3
    boot_disk_size: str = "100 GB"
    max_cpus: int = 36
    max_memory: str = "500 GB"
    max_time: str = "48h"
    scratch: bool = True
    # google.batch.network / subnetwork / usePrivateAddress (Nextflow nf-google BatchConfig).
    network: str = ""
    subnetwork: str = ""
    use_private_address: bool = False
    extra_labels: tuple[tuple[str, str], ...] = ()  # more process resource labels, e.g. (("team", "x"),)

    @property
    def executor(self) -> str:
        """``google-batch`` when a project is set, else ``local``."""
        return "google-batch" if self.project else "local"


def groovy_string(value: str) -> str:
    """``value`` as a single-quoted Groovy string literal that cannot be escaped from."""
    return "'" + value.translate(_ESCAPE_TABLE) + "'"


def groovy_literal(value: Any) -> str:
    """A JSON-like value (str, bool, int, float, None, list, dict) as a Groovy literal."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot render {value!r} in a Nextflow config")
        return str(int(value)) if value.is_integer() and abs(value) < 2**53 else repr(value)
    if isinstance(value, str):
        return groovy_string(value)
    if isinstance(value, Mapping):
        if not value:
            return "[:]"
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        return "[" + ", ".join(f"{_groovy_map_key(str(k))}: {groovy_literal(v)}" for k, v in items) + "]"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(groovy_literal(v) for v in value) + "]"
    raise ValueError(f"cannot render a {type(value).__name__} in a Nextflow config")


def _groovy_map_key(key: str) -> str:
    return key if _IDENTIFIER_RE.match(key) and key not in _GROOVY_RESERVED else groovy_string(key)


def gcp_label_value(value: str) -> str:
    """``value`` made a valid GCP label value: lowercase, ``[a-z0-9_-]``, at most 63 characters."""
    return _LABEL_BAD_RE.sub("_", value.lower())[:63]


def gcp_label_key(key: str) -> str:
    """``key`` made a valid GCP label key: like a value, non-empty and starting with a letter."""
    cleaned = _LABEL_BAD_RE.sub("-", key.lower())
    if not cleaned or not cleaned[0].isalpha():
        cleaned = "x-" + cleaned
    return cleaned[:63]


_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*\.?\s*([KMGTP]?)B\s*$", re.IGNORECASE)
_MEMORY_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}
_TIME_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*\.?\s*(ms|s|m|h|d|day|days)\s*", re.IGNORECASE)
_TIME_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "day": 86400, "days": 86400}
CAP_PARAMS = ("max_cpus", "max_memory", "max_time")
RESOURCE_CAPS_KINDS = ("params", "resource_limits")


def memory_bytes(value: str) -> float | None:
    """``'64 GB'`` / ``'64.GB'`` in bytes, None when it is not a Nextflow memory unit."""
    m = _MEMORY_RE.match(value)
    return float(m[1]) * _MEMORY_UNITS[m[2].upper()] if m else None


def duration_seconds(value: str) -> float | None:
    """``'48h'`` / ``'2.d 3.h'`` in seconds, None when it is not a Nextflow duration."""
    text = value.strip()
    if not text:
        return None
    total, pos = 0.0, 0
    while pos < len(text):
        m = _TIME_PART_RE.match(text, pos)
        if not m:
            return None
        total += float(m[1]) * _TIME_UNITS[m[2].lower()]
        pos = m.end()
    return total


def _cap_params(
    params: Mapping[str, Any], settings: BatchConfigSettings
) -> tuple[dict[str, Any], list[FieldViolation]]:
    """The effective ``max_*`` params: the platform's maxima, or a user's value at or below them."""
    caps: dict[str, Any] = {
        "max_cpus": settings.max_cpus,
        "max_memory": settings.max_memory,
        "max_time": settings.max_time,
    }
    problems: list[FieldViolation] = []
    measures = {
        "max_cpus": (lambda v: float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None, "CPUs"),
        "max_memory": (lambda v: memory_bytes(v) if isinstance(v, str) else None, "memory, e.g. '64.GB'"),
        "max_time": (lambda v: duration_seconds(v) if isinstance(v, str) else None, "duration, e.g. '12.h'"),
    }
    for name, (measure, what) in measures.items():
        if params.get(name) is None:
            continue
        value, limit = measure(params[name]), measure(caps[name])
        if value is None:
            problems.append(FieldViolation(f"params.{name}", f"must be a {what}"))
        elif limit is not None and value > limit:
            problems.append(
                FieldViolation(f"params.{name}", f"{params[name]!r} is above the platform's maximum {caps[name]!r}")
            )
        else:
            caps[name] = int(params[name]) if name == "max_cpus" else params[name]
    return caps, problems


def resource_labels(*, run_id: str, pipeline: str, version: str, settings: BatchConfigSettings) -> dict[str, str]:
    """The process resource labels, sanitised to GCP label rules, in a fixed order."""
    labels = {
        "run-id": gcp_label_value(run_id),
        "app": APP_LABEL,
        "pipeline": gcp_label_value(pipeline),
        "pipeline-version": gcp_label_value(version),
    }
    for key, value in sorted((gcp_label_key(k), gcp_label_value(v)) for k, v in settings.extra_labels):
        labels.setdefault(key, value)
    return labels


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(  # noqa: S701 - renders Groovy, not HTML; values are escaped by `groovy`
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["groovy"] = groovy_literal
    env.filters["groovy_key"] = _groovy_map_key
    return env


# Settings the final platform block re-asserts for the whole run, but that a `withName:`/`withLabel:` selector
# in a user's config would still replace for the processes it names (selectors win over process-wide values):
# the labels that cost attribution and the task-log filter depend on, and where and how tasks run.
_PLATFORM_OWNED_RE = re.compile(r"\b(resourceLabels|executor)\b")


def _platform_owned_settings(user_config: str) -> list[FieldViolation]:
    """A violation for each line of the user's config that names a platform-owned setting."""
    problems = []
    for number, line in enumerate(user_config.splitlines(), 1):
        found = _PLATFORM_OWNED_RE.search(line.split("//", 1)[0])
        if found:
            problems.append(
                FieldViolation(
                    "user_config",
                    f"line {number}: {found[1]} is set by the platform (the run's labels and executor) and cannot"
                    " be changed in a run's config",
                )
            )
    return problems


def render_config(
    *,
    pipeline: str,
    version: str,
    params: Mapping[str, Any],
    user_config: str,
    run_id: str,
    settings: BatchConfigSettings,
    resource_caps: str = "resource_limits",
) -> str:
    """The run's ``nextflow.config`` text.

    ``resource_caps`` (the catalog's, see ``RESOURCE_CAPS_KINDS``) chooses how the platform's maxima apply.

    ``params`` are rendered as ``params.<name> = <literal>`` (the caller includes ``input``/``outdir`` if it
    wants them in the config). Raises InvalidArgument for a param name that is not an identifier, a value
    that has no Groovy form, or a user config over 100 KB.
    """
    if resource_caps not in RESOURCE_CAPS_KINDS:
        raise ValueError(f"resource_caps must be one of {RESOURCE_CAPS_KINDS}, not {resource_caps!r}")
    problems: list[FieldViolation] = []
    cap_params: list[tuple[str, str]] = []
    if resource_caps == "params":
        caps, cap_problems = _cap_params(params, settings)
        problems.extend(cap_problems)
        cap_params = [(name, groovy_literal(caps[name])) for name in CAP_PARAMS]
    rendered_params: list[tuple[str, str]] = []
    for name in sorted(params):
        value = params[name]
        if resource_caps == "params" and name in CAP_PARAMS:
            continue  # rendered, checked against the maxima, in the platform blocks
        if not _IDENTIFIER_RE.match(name) or name in _GROOVY_RESERVED:
            problems.append(
                FieldViolation(f"params.{name}", "parameter names must be identifiers ([A-Za-z_][A-Za-z0-9_]*)")
            )
            continue
        try:
            rendered_params.append((name, groovy_literal(value)))
        except ValueError as exc:
            problems.append(FieldViolation(f"params.{name}", str(exc)))
    user_config = user_config or ""
    problems.extend(_platform_owned_settings(user_config))
    size = len(user_config.encode("utf-8", "surrogatepass"))
    if size > MAX_USER_CONFIG_BYTES:
        problems.append(
            FieldViolation("user_config", f"is {size} bytes; the limit is {MAX_USER_CONFIG_BYTES} (100 KB)")
        )
    if problems:
        raise InvalidArgument("cannot render nextflow.config", problems)

    labels = resource_labels(run_id=run_id, pipeline=pipeline, version=version, settings=settings)
    text = (
        _environment()
        .get_template(TEMPLATE_NAME)
        .render(
            run_id=run_id,
            pipeline=pipeline,
            version=version,
            params=rendered_params,
            settings=settings,
            resource_caps=resource_caps,
            cap_params=cap_params,
            resource_limits={
                "cpus": settings.max_cpus,
                "memory": settings.max_memory,
                "time": settings.max_time,
            },
            labels=labels,
            user_config=user_config.rstrip("\n"),
        )
    )
    return text.rstrip("\n") + "\n"
