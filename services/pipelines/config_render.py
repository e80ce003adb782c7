"""RenderConfig: a run's ``nextflow.config`` from the Jinja2 template ``templates/nextflow.config.j2``.

Every value placed in the config is rendered here as a Groovy literal (``groovy_literal``): strings are
single-quoted with ``\\``, ``'``, ``$`` and control characters escaped, so a value can never end its
string, start code, or open a ``${...}`` interpolation. The template itself only positions literals.
Param names must be plain identifiers.

The user's config is data, never code: ``user_config.parse_user_config`` accepts a strict subset (process
resources, ``errorStrategy``/``maxRetries``/``maxErrors``, ``ext.args``-style strings, ``withName:`` /
``withLabel:`` selectors, ``params``) and refuses everything else with the line and column. What it accepted
is written back here as literals; the user's text itself is never emitted. The platform's block comes last
(executor, ``google.*``, scratch, resource caps, resource labels); since the parser refuses every setting
that block owns, no selector can override it either.
The pipeline's own ``errorStrategy``/``maxRetries`` are left alone (nf-core retries only exit codes 130-145
and 104 through its base.config; a global retry would repeat every deterministic failure).
Resource caps: ``process.resourceLimits`` is always written (Nextflow >= 24.04); with
``resource_caps="params"`` the platform also sets ``params.max_cpus/max_memory/max_time`` (nf-core < 3.0).
The request's params reach Nextflow as ``-params-file``, which beats these ``params.max_*``: so ValidateRunInputs
refuses a cap param above the platform's maximum (``cap_param_problems``) before a run is created, and a
render given one refuses it too; one at or below the maximum is kept.
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

from arc_core.contracts import labels as gcp_labels
from arc_core.contracts.limits import MAX_CONFIG_BYTES
from arc_core.errors import FieldViolation, InvalidArgument
from services.pipelines.user_config import FIELD as USER_CONFIG_FIELD
from services.pipelines.user_config import (
    ResourceMaxima,
    Setting,
    UserConfig,
    duration_seconds,
    memory_bytes,
    parse_user_config,
)

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
TEMPLATE_NAME = "nextflow.config.j2"
MAX_USER_CONFIG_BYTES = MAX_CONFIG_BYTES
APP_LABEL = gcp_labels.APP

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
    max_disk: str = "2 TB"  # the largest ``disk`` a user's config may request
    scratch: bool = True
    # google.batch.network / subnetwork / usePrivateAddress (Nextflow nf-google BatchConfig).
    network: str = ""
    subnetwork: str = ""
    use_private_address: bool = False
    extra_labels: tuple[tuple[str, str], ...] = ()  # more process resource labels, e.g. (("team", "x"),)

    def __post_init__(self) -> None:
        """Refuse maxima that cap nothing (0, negative, NaN, unparseable): at start-up, not per request."""
        if isinstance(self.max_cpus, bool) or not isinstance(self.max_cpus, int) or self.max_cpus < 1:
            raise ValueError(f"max_cpus must be a whole number >= 1, not {self.max_cpus!r}")
        for name, measure, what in (
            ("max_memory", memory_bytes, "a memory size such as '500 GB'"),
            ("max_time", duration_seconds, "a duration such as '48h'"),
            ("max_disk", memory_bytes, "a disk size such as '2 TB'"),
        ):
            value = getattr(self, name)
            amount = measure(value) if isinstance(value, str) else None
            if amount is None or not math.isfinite(amount) or amount < 1:
                raise ValueError(f"{name} must be {what} of at least 1 unit, not {value!r}")

    @property
    def maxima(self) -> ResourceMaxima:
        """The largest request a task may make, for the user-config parser."""
        return ResourceMaxima(cpus=self.max_cpus, memory=self.max_memory, time=self.max_time, disk=self.max_disk)

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


CAP_PARAMS = ("max_cpus", "max_memory", "max_time")
RESOURCE_CAPS_KINDS = ("params", "resource_limits")


def _cpus(value: Any) -> float | None:
    """A ``max_cpus`` param as a number, None when it is not a whole number (``16`` or ``16.0``)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # a whole number too large for a float
        return math.inf
    return number if math.isfinite(number) and number.is_integer() else None


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
        "max_cpus": (_cpus, "whole number of CPUs, e.g. 16,"),
        "max_memory": (lambda v: memory_bytes(v) if isinstance(v, str) else None, "memory size, e.g. '64.GB',"),
        "max_time": (lambda v: duration_seconds(v) if isinstance(v, str) else None, "duration, e.g. '12.h',"),
    }
    for name, (measure, what) in measures.items():
        if params.get(name) is None:
            continue
        value, limit = measure(params[name]), measure(caps[name])
        if value is None or not math.isfinite(value) or value <= 0:
            problems.append(
                FieldViolation(f"params.{name}", f"must be a {what} more than zero and at most {caps[name]!r}")
            )
        elif limit is not None and value > limit:
            problems.append(
                FieldViolation(f"params.{name}", f"{params[name]!r} is above the platform's maximum {caps[name]!r}")
            )
        else:
            caps[name] = int(params[name]) if name == "max_cpus" else params[name]
    return caps, problems


def cap_param_problems(params: Mapping[str, Any], settings: BatchConfigSettings) -> list[FieldViolation]:
    """Violations of the ``max_*`` params in ``params`` that are above the platform's maxima or not readable."""
    return _cap_params(params, settings)[1]


def resource_labels(*, run_id: str, pipeline: str, version: str, settings: BatchConfigSettings) -> dict[str, str]:
    """The process resource labels, sanitised to GCP label rules, in a fixed order."""
    labels = {
        gcp_labels.RUN_ID_KEY: gcp_labels.label_value(run_id),
        gcp_labels.APP_KEY: APP_LABEL,
        gcp_labels.PIPELINE_KEY: gcp_labels.label_value(pipeline),
        "pipeline-version": gcp_labels.label_value(version),
    }
    extra = ((gcp_labels.label_key(k), gcp_labels.label_value(v)) for k, v in settings.extra_labels)
    for key, value in sorted(extra):
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


def check_user_config(user_config: str, settings: BatchConfigSettings) -> tuple[UserConfig, list[FieldViolation]]:
    """The user's config parsed (see ``user_config``), or the violations that refuse it."""
    size = len(user_config.encode("utf-8", "surrogatepass"))
    if size > MAX_USER_CONFIG_BYTES:
        return UserConfig(), [
            FieldViolation(USER_CONFIG_FIELD, f"is {size} bytes; the limit is {MAX_USER_CONFIG_BYTES} (100 KB)")
        ]
    return parse_user_config(user_config, settings.maxima)


def merge_config_params(params: Mapping[str, Any], config: UserConfig) -> tuple[dict[str, Any], list[FieldViolation]]:
    """``params`` with the config's ``params`` block; a name set in both is a violation (not merged)."""
    merged = dict(params)
    problems: list[FieldViolation] = []
    for name, param in sorted(config.params_dict.items()):
        if name in params:
            problems.append(
                FieldViolation(
                    f"params.{name}",
                    "set both in params and in the config's params block"
                    f" (user_config line {param.line}, column {param.column})",
                )
            )
            continue
        merged[name] = param.value
    return merged, problems


def _last_wins(settings: tuple[Setting, ...]) -> list[Setting]:
    """One setting per name, the last written (as Nextflow applies them), in first-written order."""
    by_name: dict[str, Setting] = {}
    for setting in settings:
        by_name[setting.name] = setting
    return list(by_name.values())


def render_user_settings(config: UserConfig) -> list[str]:
    """The accepted process settings and selectors as config lines of literals (params are rendered apart)."""
    lines = [f"process.{s.name} = {groovy_literal(s.value)}" for s in _last_wins(config.process)]
    if config.selectors:
        lines.append("process {")
        for selector in config.selectors:
            lines.append(f"    {selector.kind}: {groovy_string(selector.pattern)} {{")
            lines.extend(f"        {s.name} = {groovy_literal(s.value)}" for s in _last_wins(selector.settings))
            lines.append("    }")
        lines.append("}")
    return lines


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
    wants them in the config), with the user config's ``params`` block. Raises InvalidArgument for a param
    name that is not an identifier, a value that has no Groovy form, a param set both in ``params`` and in
    the config, or a user config over 100 KB or outside the accepted subset (``check_user_config``).
    """
    if resource_caps not in RESOURCE_CAPS_KINDS:
        raise ValueError(f"resource_caps must be one of {RESOURCE_CAPS_KINDS}, not {resource_caps!r}")
    config, config_problems = check_user_config(user_config or "", settings)
    params, overlap = merge_config_params(params, config)
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
            continue  # rendered, checked against the maxima, in the platform block
        if not _IDENTIFIER_RE.match(name) or name in _GROOVY_RESERVED:
            problems.append(
                FieldViolation(f"params.{name}", "parameter names must be identifiers ([A-Za-z_][A-Za-z0-9_]*)")
            )
            continue
        try:
            rendered_params.append((name, groovy_literal(value)))
        except ValueError as exc:
            problems.append(FieldViolation(f"params.{name}", str(exc)))
    problems.extend(overlap)
    problems.extend(config_problems)
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
            user_settings=render_user_settings(config),
        )
    )
    return text.rstrip("\n") + "\n"
