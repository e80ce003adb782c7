"""The orchestrator's environment: exactly what ``JobSpec.environment()`` gives, plus a few optional knobs.

The orchestrator runs on a bare VM (Cloud Batch) or as a child of the local executor, never inside the
platform, so it reads its own small environment instead of the platform's settings class. Nothing is
read at import time: :meth:`OrchestratorConfig.from_env` is called once at start-up and names every
missing variable at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from arc_core.nextflow_cache import CLOUD_CACHE_SCHEMES

REQUIRED = (
    "RUN_ID",
    "PIPELINE",
    "PIPELINE_VERSION",
    "RUN_ROOT",
    "CONFIG_GCS_PATH",
    "PARAMS_GCS_PATH",
    "WORK_DIR",
    "NXF_UUID",
    "ARC_STATUS_ADDRESS",
    "ARC_RUN_TOKEN",
)

DEFAULT_LOG_SYNC_SECONDS = 5.0
DEFAULT_STOP_GRACE_SECONDS = 25.0


class ConfigError(ValueError):
    """The environment is incomplete or malformed."""


@dataclass(frozen=True)
class OrchestratorConfig:
    run_id: str
    pipeline: str
    pipeline_version: str
    run_root: str  # gs://bucket/runs/run-… or a local directory
    config_uri: str
    params_uri: str
    work_dir: str
    session_id: str  # NXF_UUID: the session of a new run
    resume_session_id: str | None  # the parent's session for a recovery
    cache_uri: str  # NXF_CLOUDCACHE_PATH (object storage) or NXF_CACHE_DIR (a local work dir)
    status_address: str
    token: str
    nextflow_bin: str = "nextflow"
    # Optional knobs (not part of JobSpec.environment(); executors may add them).
    log_sync_seconds: float = DEFAULT_LOG_SYNC_SECONDS  # ARC_LOG_SYNC_SECONDS
    stop_grace_seconds: float = DEFAULT_STOP_GRACE_SECONDS  # ARC_STOP_GRACE_SECONDS
    state_dir: Path | None = None  # ARC_ORCHESTRATOR_STATE_DIR: where orchestrator.exit is written
    launch_parent: Path | None = None  # ARC_LAUNCH_DIR: parent of the launch dir (default: the temp dir)
    attempt: int = 0  # BATCH_TASK_RETRY_ATTEMPT: 0 first, 1.. after a preempted VM (Cloud Batch sets it)

    @property
    def is_recovery(self) -> bool:
        return self.resume_session_id is not None

    @property
    def resume_session(self) -> str | None:
        """The session ``-resume`` continues: a recovery's parent session, or after a preemption (a retried
        attempt of the same job) the run's own pinned session in its own work dir; None for a first start."""
        if self.resume_session_id:
            return self.resume_session_id
        return self.session_id if self.attempt > 0 else None

    @property
    def expected_session_id(self) -> str:
        """The session Nextflow will run: the parent's for a recovery, else the pinned one."""
        return self.resume_session_id or self.session_id

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OrchestratorConfig:
        """Read and check the environment; raises :class:`ConfigError` naming every problem."""
        problems = [f"{name} is not set" for name in REQUIRED if not env.get(name, "").strip()]
        is_recovery = env.get("IS_RECOVERY", "false").strip().lower() == "true"
        resume = env.get("RESUME_SESSION_ID", "").strip() or None
        cache_uri = env.get("NXF_CLOUDCACHE_PATH", "").strip() or env.get("NXF_CACHE_DIR", "").strip()
        if not cache_uri:
            problems.append("neither NXF_CLOUDCACHE_PATH nor NXF_CACHE_DIR is set")
        elif env.get("NXF_CLOUDCACHE_PATH", "").strip() and not cache_uri.startswith(CLOUD_CACHE_SCHEMES):
            # Nextflow 24.04.4 refuses it at launch (Session.cloudCachePath): say so before starting it.
            problems.append(f"NXF_CLOUDCACHE_PATH must be a gs://, s3:// or az:// path, not {cache_uri!r}")
        if is_recovery and resume is None:
            problems.append("IS_RECOVERY is true but RESUME_SESSION_ID is not set")
        for name in ("PIPELINE", "PIPELINE_VERSION", "WORK_DIR", "RESUME_SESSION_ID"):
            if env.get(name, "").strip().startswith("-"):  # would be read as an option of `nextflow run`
                problems.append(f"{name} must not start with '-'")
        log_sync = _positive_float(env, "ARC_LOG_SYNC_SECONDS", DEFAULT_LOG_SYNC_SECONDS, problems)
        grace = _positive_float(env, "ARC_STOP_GRACE_SECONDS", DEFAULT_STOP_GRACE_SECONDS, problems)
        attempt_text = env.get("BATCH_TASK_RETRY_ATTEMPT", "").strip() or "0"
        if not attempt_text.isdigit():
            problems.append(f"BATCH_TASK_RETRY_ATTEMPT must be a whole number, not {attempt_text!r}")
        if problems:
            raise ConfigError("the orchestrator's environment is incomplete: " + "; ".join(problems))
        state_dir = env.get("ARC_ORCHESTRATOR_STATE_DIR", "").strip()
        launch_parent = env.get("ARC_LAUNCH_DIR", "").strip()
        return cls(
            run_id=env["RUN_ID"].strip(),
            pipeline=env["PIPELINE"].strip(),
            pipeline_version=env["PIPELINE_VERSION"].strip(),
            run_root=env["RUN_ROOT"].strip().rstrip("/"),
            config_uri=env["CONFIG_GCS_PATH"].strip(),
            params_uri=env["PARAMS_GCS_PATH"].strip(),
            work_dir=env["WORK_DIR"].strip(),
            session_id=env["NXF_UUID"].strip(),
            resume_session_id=resume,
            cache_uri=cache_uri,
            status_address=env["ARC_STATUS_ADDRESS"].strip(),
            token=env["ARC_RUN_TOKEN"].strip(),
            nextflow_bin=env.get("ARC_NEXTFLOW_BIN", "").strip() or "nextflow",
            log_sync_seconds=log_sync,
            stop_grace_seconds=grace,
            state_dir=Path(state_dir) if state_dir else None,
            launch_parent=Path(launch_parent) if launch_parent else None,
            attempt=int(attempt_text),
        )


def _positive_float(env: Mapping[str, str], name: str, default: float, problems: list[str]) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        problems.append(f"{name} must be a positive number of seconds, not {raw!r}")
        return default
    return value
