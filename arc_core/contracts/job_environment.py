"""The orchestrator job's environment: one definition that the executors write and the orchestrator reads.

``JobSpec.environment()`` (services/runs/executors) serialises a :class:`JobEnvironment` with
:meth:`JobEnvironment.to_environ`; the orchestrator loads it with :meth:`JobEnvironment.from_environ`, which
names every problem at once (:class:`JobEnvironmentError`). Values are stripped and an empty value counts as
unset. Nothing is read at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import AliasChoices, Field, field_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from arc_core.nextflow_cache import CLOUD_CACHE_SCHEMES, CLOUD_CACHE_VARIABLE, LOCAL_CACHE_VARIABLE, cache_variable_for

DEFAULT_LOG_SYNC_SECONDS = 5.0
DEFAULT_STOP_GRACE_SECONDS = 25.0
DEFAULT_NEXTFLOW_BIN = "nextflow"
STATE_DIR_VARIABLE = "ARC_ORCHESTRATOR_STATE_DIR"
RUN_TOKEN_VARIABLE = "ARC_RUN_TOKEN"
"""The run-scoped token: never handed on to Nextflow (its tasks must not report for the run)."""
STATUS_ADDRESS_VARIABLE = "ARC_STATUS_ADDRESS"

# The variables a job cannot start without (the cache is one of two: see below).
REQUIRED = (
    "RUN_ID",
    "PIPELINE",
    "PIPELINE_VERSION",
    "RUN_ROOT",
    "CONFIG_GCS_PATH",
    "PARAMS_GCS_PATH",
    "WORK_DIR",
    "NXF_UUID",
    STATUS_ADDRESS_VARIABLE,
    RUN_TOKEN_VARIABLE,
)
# Read as options of `nextflow run` if they started with '-'.
_NO_LEADING_DASH = ("PIPELINE", "PIPELINE_VERSION", "WORK_DIR", "RESUME_SESSION_ID")
# Knobs an executor (or a test) may add; not part of a JobSpec, so written only when set.
_KNOBS = frozenset({"log_sync_seconds", "stop_grace_seconds", "state_dir", "launch_parent", "attempt"})


class JobEnvironmentError(ValueError):
    """The environment is incomplete or malformed; ``problems`` names each thing wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Environ(PydanticBaseSettingsSource):
    """The given mapping as the one settings source: stripped values, empty ones left out."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.environ = environ

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        alias = field.validation_alias
        names = alias.choices if isinstance(alias, AliasChoices) else [alias or field_name]
        for name in names:
            value = self.environ.get(str(name), "").strip()
            if value:
                return value, str(names[0]), False
        return None, str(names[0]), False

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for field_name, field in self.settings_cls.model_fields.items():
            value, key, _ = self.get_field_value(field, field_name)
            if value is not None:
                values[key] = value
        return values


def _env(name: str) -> Any:
    return Field(validation_alias=name)


class JobEnvironment(BaseSettings):
    """What the orchestrator of one run is told (DESIGN.md names, plus what resume and reporting need)."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True, validate_by_name=True)

    run_id: str = _env("RUN_ID")
    pipeline: str = _env("PIPELINE")
    pipeline_version: str = _env("PIPELINE_VERSION")
    run_root: str = _env("RUN_ROOT")
    """The run's root URI: ``gs://bucket/runs/run-…`` or a local directory."""
    config_uri: str = _env("CONFIG_GCS_PATH")
    params_uri: str = _env("PARAMS_GCS_PATH")
    work_dir: str = _env("WORK_DIR")
    session_id: str = _env("NXF_UUID")
    """The Nextflow session pinned for this run."""
    resume_session_id: str | None = Field(default=None, validation_alias="RESUME_SESSION_ID")
    """The parent's session for a recovery (``IS_RECOVERY=true``)."""
    cache_uri: str = Field(validation_alias=AliasChoices(CLOUD_CACHE_VARIABLE, LOCAL_CACHE_VARIABLE))
    """The resume cache: ``NXF_CLOUDCACHE_PATH`` on object storage, ``NXF_CACHE_DIR`` on a local work dir."""
    status_address: str = _env(STATUS_ADDRESS_VARIABLE)
    token: str = _env(RUN_TOKEN_VARIABLE)
    nextflow_bin: str = Field(default=DEFAULT_NEXTFLOW_BIN, validation_alias="ARC_NEXTFLOW_BIN")
    log_sync_seconds: float = Field(default=DEFAULT_LOG_SYNC_SECONDS, gt=0, validation_alias="ARC_LOG_SYNC_SECONDS")
    stop_grace_seconds: float = Field(
        default=DEFAULT_STOP_GRACE_SECONDS, gt=0, validation_alias="ARC_STOP_GRACE_SECONDS"
    )
    state_dir: Path | None = Field(default=None, validation_alias=STATE_DIR_VARIABLE)
    """Where the orchestrator writes ``orchestrator.exit`` (the local executor reads it)."""
    launch_parent: Path | None = Field(default=None, validation_alias="ARC_LAUNCH_DIR")
    """The parent of the launch dir (default: the temp dir)."""
    attempt: int = Field(default=0, ge=0, validation_alias="BATCH_TASK_RETRY_ATTEMPT")
    """0 first, 1.. after a preempted VM (Cloud Batch sets it)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what is passed: an executor builds one from a JobSpec in a process whose own environment
        must not leak into the job's; the orchestrator reads its environment with :meth:`from_environ`."""
        return (init_settings,)

    @field_validator("run_root")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @property
    def is_recovery(self) -> bool:
        return self.resume_session_id is not None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        """Read ``environ`` (``os.environ`` at start-up) and nothing else; raises :class:`JobEnvironmentError`."""
        problems = environment_problems(environ)
        if problems:
            raise JobEnvironmentError(problems)
        # pydantic-settings' per-instance sources: private in 2.x (pinned in requirements.txt), not in its stubs.
        return cls(_build_sources=((_Environ(cls, environ),), {}))  # type: ignore[call-arg]

    def to_environ(self) -> dict[str, str]:
        """The variables, by name; the knobs only when set, ``RESUME_SESSION_ID`` only for a recovery."""
        env = {
            "RUN_ID": self.run_id,
            "PIPELINE": self.pipeline,
            "PIPELINE_VERSION": self.pipeline_version,
            "RUN_ROOT": self.run_root,
            "CONFIG_GCS_PATH": self.config_uri,
            "PARAMS_GCS_PATH": self.params_uri,
            "WORK_DIR": self.work_dir,
            "IS_RECOVERY": "true" if self.is_recovery else "false",
            "NXF_UUID": self.session_id,
            cache_variable_for(self.cache_uri): self.cache_uri,
            STATUS_ADDRESS_VARIABLE: self.status_address,
            RUN_TOKEN_VARIABLE: self.token,
            "ARC_NEXTFLOW_BIN": self.nextflow_bin,
        }
        if self.resume_session_id:
            env["RESUME_SESSION_ID"] = self.resume_session_id
        for name in sorted(_KNOBS & self.model_fields_set):
            value = getattr(self, name)
            if value is not None:
                env[str(type(self).model_fields[name].validation_alias)] = str(value)
        return env


def environment_problems(environ: Mapping[str, str]) -> list[str]:
    """Every problem of ``environ`` as a job environment, in words an operator can act on."""

    def get(name: str) -> str:
        return environ.get(name, "").strip()

    problems = [f"{name} is not set" for name in REQUIRED if not get(name)]
    cloud_cache = get(CLOUD_CACHE_VARIABLE)
    if not (cloud_cache or get(LOCAL_CACHE_VARIABLE)):
        problems.append(f"neither {CLOUD_CACHE_VARIABLE} nor {LOCAL_CACHE_VARIABLE} is set")
    elif cloud_cache and not cloud_cache.startswith(CLOUD_CACHE_SCHEMES):
        # Nextflow 24.04.4 refuses it at launch (Session.cloudCachePath): say so before starting it.
        problems.append(f"{CLOUD_CACHE_VARIABLE} must be a gs://, s3:// or az:// path, not {cloud_cache!r}")
    if get("IS_RECOVERY").lower() == "true" and not get("RESUME_SESSION_ID"):
        problems.append("IS_RECOVERY is true but RESUME_SESSION_ID is not set")
    problems += [f"{name} must not start with '-'" for name in _NO_LEADING_DASH if get(name).startswith("-")]
    for name in ("ARC_LOG_SYNC_SECONDS", "ARC_STOP_GRACE_SECONDS"):
        raw = get(name)
        if raw and not _positive(raw):
            problems.append(f"{name} must be a positive number of seconds, not {raw!r}")
    attempt = get("BATCH_TASK_RETRY_ATTEMPT")
    if attempt and not attempt.isdigit():
        problems.append(f"BATCH_TASK_RETRY_ATTEMPT must be a whole number, not {attempt!r}")
    return problems


def _positive(raw: str) -> bool:
    try:
        return float(raw) > 0
    except ValueError:
        return False
