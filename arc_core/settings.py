"""One settings class for every deployment, read from the environment (and `.env`).

Nothing reads ``os.environ`` at import time: call :func:`load_settings` at start-up.
"""

from __future__ import annotations

import ipaddress
import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ARC_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "ARC_DATABASE_URL"),
        description="The platform's PostgreSQL; unset = embedded PostgreSQL under data_dir.",
    )
    data_dir: Path = Field(default=Path(".arc"), description="Embedded database, local storage, run folders.")
    bind_host: str = Field(default="127.0.0.1", description="Interface the servers listen on.")
    grpc_port: int = 50051
    http_port: int = 8080
    storage_root: str | None = Field(default=None, description="A local directory or gs://BUCKET.")
    executor: Literal["local", "batch"] = "local"
    nextflow_bin: str = "nextflow"
    nextflow_version: str = Field(
        default="24.04.4",
        description="The Nextflow version Batch runs use (the orchestrator image's); local: found with"
        " `ARC_NEXTFLOW_BIN -version` at start-up instead.",
    )
    auth_mode: Literal["dev", "iap"] = "dev"
    environment: Literal["development", "production"] = "development"
    admin_emails: Annotated[frozenset[str], NoDecode] = frozenset()
    allow_insecure_dev_auth: bool = Field(
        default=False,
        description="Dev identity (a header anyone can set) on a non-loopback bind: only when explicitly true.",
    )

    # Identity (iap mode).
    iap_audience: str = Field(
        default="", description="Expected `aud` of the IAP JWT (/projects/N/global/backendServices/M)."
    )
    iap_certs_url: str = "https://www.gstatic.com/iap/verify/public_key-jwk"
    iap_hosted_domain: str = Field(default="", description="Required `hd` claim, e.g. example.com; empty = any.")
    id_token_audience: str = Field(default="", description="Audience of Google ID tokens from service accounts.")
    id_token_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    service_account_emails: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Service accounts allowed to call with an ID token (admins only if in admin_emails).",
    )
    internal_service_accounts: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="The platform's own services' accounts (e.g. the Runs service's): with an ID token they may"
        " read any run, on the internal methods only (arc_core/service_identity.py); never admins.",
    )
    service_credential_secret: SecretStr = Field(
        default=SecretStr(""),
        description="A secret shared by the pods of one deployment, to sign process credentials between"
        " processes (the dev overlay); empty = a random key per process (services in one process only).",
    )

    # Where the services are, for their clients. Unset = this process's gRPC port on loopback.
    runs_address: str | None = None
    logs_address: str | None = None
    pipelines_address: str | None = None
    benchling_address: str | None = None

    # Database pool.
    db_pool_min: int = 1
    db_pool_max: int = 10

    # Google Cloud (production backends).
    gcp_project: str = ""
    gcp_region: str = "us-central1"
    gcs_signing_service_account: str = Field(
        default="", description="Service account that signs V4 URLs through IAM when the key is not local."
    )
    signed_url_minutes: int = 60
    tasks_service_account: str = Field(default="", description="Service account of Nextflow's task VMs.")
    task_logs: Literal["auto", "local", "cloud"] = Field(
        default="auto", description="Task stdout/stderr: work-dir files or Cloud Logging; auto = cloud on gs://."
    )
    logging_emulator_host: str = Field(
        default="", description="host:port of a plain-text Cloud Logging API (tests); empty = Google's endpoint."
    )

    # Executors (ARC_LOCAL_*, ARC_ORCHESTRATOR_*, ARC_BATCH_*).
    gateway_rpc_timeout_seconds: float = Field(
        default=30.0, gt=0, description="Deadline of each unary call from the gateway to a service."
    )
    max_active_runs_per_user: int = Field(
        default=20, ge=1, description="Runs a user may have pending, submitted or running at once."
    )
    max_runs_created_per_hour: int = Field(
        default=100, ge=1, description="Runs (recoveries included) a user may create in any hour."
    )
    local_max_concurrent_runs: int = Field(default=2, ge=1, description="Local orchestrators running at once.")
    local_cancel_grace_seconds: float = Field(default=10.0, ge=0, description="SIGTERM to SIGKILL on cancel.")
    orchestrator_image: str = Field(default="", description="Container image of the orchestrator (batch).")
    orchestrator_service_account: str = Field(default="", description="Service account of the orchestrator VM.")
    batch_api_endpoint: str = Field(
        default="", description="Cloud Batch API endpoint override; http://HOST:PORT = a plaintext local fake."
    )
    batch_network: str = Field(
        default="", description="VPC network of the orchestrator's and the tasks' VMs (projects/P/global/networks/N)."
    )
    batch_subnetwork: str = Field(
        default="", description="Subnetwork of those VMs (projects/P/regions/R/subnetworks/S)."
    )
    batch_no_external_ip: bool = Field(
        default=False, description="VMs get no external IP (the subnet needs Private Google Access / Cloud NAT)."
    )
    # The largest request one task may make (process.resourceLimits, and the cap on a user's config).
    task_max_cpus: int = Field(default=36, ge=1, description="Most CPUs one task may request.")
    task_max_memory: str = Field(default="500 GB", description="Most memory one task may request ('500 GB').")
    task_max_time: str = Field(default="48h", description="Longest time one task may request ('48h').")
    task_max_disk: str = Field(default="2 TB", description="Largest disk one task may request ('2 TB').")

    # Runs: how orchestrators reach ReportRunStatus, and the reconciler.
    status_address: str = Field(
        default="",
        description="host:port orchestrators report to (the status port); unset = 127.0.0.1:<the status port>.",
    )
    status_port: int = Field(
        default=50052,
        description="Runs' status port: ReportRunStatus and health only, for orchestrators (0 = any free port).",
    )
    progress_interval_seconds: float = Field(
        default=2.0, gt=0, description="How often WatchRun refreshes task progress while someone watches."
    )
    reconcile_interval_seconds: float = Field(default=30.0, gt=0, description="Seconds between reconciler passes.")
    reconcile_grace_seconds: float = Field(
        default=60.0, ge=0, description="Quiet time before the reconciler settles a run whose job has ended."
    )
    # Runs: work-dir retention (services/runs/retention.py).
    work_retention_days: int = Field(
        default=30, ge=0, description="Work dirs of runs terminal for longer are deleted (0 = never)."
    )
    retention_interval_seconds: float = Field(default=3600.0, gt=0, description="Seconds between retention passes.")
    input_locations: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(),
        description="Comma-separated prefixes file inputs may come from (gs://BUCKET/[PATH/], or absolute local"
        " directories with local storage), besides the caller's own runs' results/; unset = see"
        " resolved_input_locations.",
    )

    # Pipelines.
    catalog_dir: Path | None = Field(default=None, description="Pipeline catalog folder; unset = the bundled one.")

    # Benchling warehouse (ARC_BENCHLING_*).
    benchling_warehouse_url: str | None = Field(
        default=None,
        description="DSN of the Benchling warehouse (PostgreSQL, read-only use); unset = a demo warehouse"
        " seeded in the platform database.",
    )
    benchling_mapping_file: Path | None = Field(
        default=None, description="Warehouse mapping YAML; unset = services/benchling/mapping.default.yaml."
    )
    benchling_demo_fastq_dir: Path | None = Field(
        default=None,
        description="Demo warehouse only: where its placeholder FASTQ files are written; unset = data_dir/demo-fastq.",
    )
    benchling_connect_timeout: float = Field(default=5.0, gt=0, description="Seconds to connect to the warehouse.")
    benchling_statement_timeout: float = Field(default=10.0, gt=0, description="Seconds one warehouse query may take.")

    @field_validator("admin_emails", "service_account_emails", "internal_service_accounts", mode="before")
    @classmethod
    def _split_emails(cls, value: Any) -> object:
        if isinstance(value, str):
            value = value.split(",")
        return frozenset(str(e).strip().lower() for e in value if str(e).strip())

    @field_validator("input_locations", mode="before")
    @classmethod
    def _split_input_locations(cls, value: Any) -> object:
        if isinstance(value, str):
            value = value.split(",")
        return tuple(dict.fromkeys(normalize_input_location(str(v)) for v in value if str(v).strip()))

    @model_validator(mode="after")
    def _refuse_dev_auth_in_production(self) -> Settings:
        if self.environment == "production" and self.auth_mode == "dev":
            raise ValueError("ARC_AUTH_MODE=dev is refused when ARC_ENVIRONMENT=production; use iap")
        if self.auth_mode == "dev" and not _is_loopback(self.bind_host) and not self.allow_insecure_dev_auth:
            raise ValueError(
                f"ARC_AUTH_MODE=dev takes the caller from a header anyone can send, so it is refused on"
                f" ARC_BIND_HOST={self.bind_host} (not loopback); use iap, bind to 127.0.0.1, or set"
                " ARC_ALLOW_INSECURE_DEV_AUTH=true where only trusted callers reach the port"
            )
        if self.auth_mode == "iap" and not self.iap_audience:
            raise ValueError("ARC_AUTH_MODE=iap needs ARC_IAP_AUDIENCE")
        return self

    @model_validator(mode="after")
    def _refuse_batch_with_local_storage(self) -> Settings:
        if self.executor == "batch" and not (self.storage_root or "").startswith("gs://"):
            raise ValueError(
                "ARC_EXECUTOR=batch needs ARC_STORAGE_ROOT=gs://BUCKET: the orchestrator and Nextflow's task VMs"
                f" run on Cloud Batch and cannot see a local directory ({self.storage_root or 'unset'})"
            )
        return self

    @model_validator(mode="after")
    def _refuse_local_inputs_with_gcs_storage(self) -> Settings:
        local = [loc for loc in self.input_locations if not loc.startswith("gs://")]
        if local and (self.storage_root or "").startswith("gs://"):
            raise ValueError(
                f"ARC_INPUT_LOCATIONS: local directories ({', '.join(local)}) are refused with"
                f" ARC_STORAGE_ROOT={self.storage_root}: runs on the cloud cannot see them"
            )
        return self

    @model_validator(mode="after")
    def _refuse_input_locations_over_storage(self) -> Settings:
        """An input location that holds the platform's storage (or lies inside it) would let inputs name
        other users' runs: only the caller's own results/ may be read from there."""
        root = self.resolved_storage_root
        root = root if root.startswith("gs://") else normalize_input_location(root)
        root = root.rstrip("/") + "/"
        for location in self.input_locations:
            if root.startswith(location) or location.startswith(root):
                raise ValueError(
                    f"ARC_INPUT_LOCATIONS: {location} overlaps the platform's storage ({root}); runs read"
                    " from there only the results/ of their owner's runs, which are always allowed"
                )
        return self

    @cached_property
    def resolved_storage_root(self) -> str:
        if self.storage_root:
            return self.storage_root
        return str((self.data_dir / "storage").resolve())

    @cached_property
    def resolved_input_locations(self) -> tuple[str, ...]:
        """``ARC_INPUT_LOCATIONS``, or the embedded default: with local storage, the demo warehouse's FASTQ
        folder and ``data_dir/inputs``; with gs:// storage, nothing (only the caller's own results)."""
        if self.input_locations:
            return self.input_locations
        if self.resolved_storage_root.startswith("gs://"):
            return ()
        demo = self.benchling_demo_fastq_dir or self.data_dir / "demo-fastq"
        return tuple(normalize_input_location(str(p.resolve())) for p in (demo, self.data_dir / "inputs"))

    def service_address(self, service: Literal["runs", "logs", "pipelines", "benchling"]) -> str:
        explicit = getattr(self, f"{service}_address")
        return explicit or f"127.0.0.1:{self.grpc_port}"


_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$")


def normalize_input_location(value: str) -> str:
    """``gs://BUCKET[/PATH]/`` (a bucket is required) or an absolute local directory, ending with ``/``.

    The trailing slash makes a prefix a folder: ``gs://lab-fastq/`` never matches ``gs://lab-fastq-evil/``.
    """
    text = value.strip()
    if text.startswith("gs://"):
        bucket, _, path = text[5:].partition("/")
        parts = [p for p in path.split("/") if p]
        if not _BUCKET_RE.match(bucket) or any(p in (".", "..") for p in parts):
            raise ValueError(f"ARC_INPUT_LOCATIONS: {value!r} must be gs://BUCKET/ or gs://BUCKET/PATH/")
        return "/".join([f"gs://{bucket}", *parts]) + "/"
    if "://" in text or text.startswith("gs:"):
        raise ValueError(f"ARC_INPUT_LOCATIONS: {value!r}: only gs:// prefixes and local directories are accepted")
    text = os.path.expanduser(text)
    if not os.path.isabs(text):
        raise ValueError(f"ARC_INPUT_LOCATIONS: {value!r}: a local directory must be an absolute path")
    path = os.path.realpath(text)  # symlinks resolved: inputs are compared after realpath too
    return path.rstrip("/") + "/"


def _is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; ``overrides`` win (used by tests and the CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
