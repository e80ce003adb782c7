"""The orchestrator's configuration: the job environment of ``arc_core.contracts.job_environment``.

The orchestrator runs on a bare VM (Cloud Batch) or as a child of the local executor, never inside the
platform, so it reads its own small environment (exactly what ``JobSpec.environment()`` gives, plus a few
optional knobs) instead of the platform's settings class. Nothing is read at import time:
:meth:`OrchestratorConfig.from_env` is called once at start-up and names every missing variable at once.
"""

from __future__ import annotations

from collections.abc import Mapping

from arc_core.contracts.job_environment import JobEnvironment, JobEnvironmentError


class ConfigError(ValueError):
    """The environment is incomplete or malformed."""


class OrchestratorConfig(JobEnvironment):
    """The job environment, plus what the orchestrator derives from it."""

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
        try:
            return cls.from_environ(env)
        except JobEnvironmentError as exc:
            raise ConfigError("the orchestrator's environment is incomplete: " + "; ".join(exc.problems)) from exc
