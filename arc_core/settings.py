"""One settings class for every deployment, read from the environment (and `.env`).

Nothing reads ``os.environ`` at import time: call :func:`load_settings` at start-up.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
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
    auth_mode: Literal["dev", "iap"] = "dev"
    environment: Literal["development", "production"] = "development"
    admin_emails: Annotated[frozenset[str], NoDecode] = frozenset()

    # Identity (iap mode).
    iap_audience: str = Field(
        default="", description="Expected `aud` of the IAP JWT (/projects/N/global/backendServices/M)."
    )
    iap_certs_url: str = "https://www.gstatic.com/iap/verify/public_key-jwk"
    iap_hosted_domain: str = Field(default="", description="Required `hd` claim, e.g. example.com; empty = any.")
    id_token_audience: str = Field(default="", description="Audience of Google ID tokens from service accounts.")
    id_token_certs_url: str = "https://www.googleapis.com/oauth2/v1/certs"
    service_account_emails: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(), description="Service accounts allowed to call with an ID token (treated as admins)."
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

    # Pipelines.
    catalog_dir: Path | None = Field(default=None, description="Pipeline catalog folder; unset = the bundled one.")

    @field_validator("admin_emails", "service_account_emails", mode="before")
    @classmethod
    def _split_emails(cls, value: object) -> object:
        if isinstance(value, str):
            value = value.split(",")
        return frozenset(str(e).strip().lower() for e in value if str(e).strip())  # type: ignore[union-attr]

    @model_validator(mode="after")
    def _refuse_dev_auth_in_production(self) -> Settings:
        if self.environment == "production" and self.auth_mode == "dev":
            raise ValueError("ARC_AUTH_MODE=dev is refused when ARC_ENVIRONMENT=production; use iap")
        if self.auth_mode == "iap" and not self.iap_audience:
            raise ValueError("ARC_AUTH_MODE=iap needs ARC_IAP_AUDIENCE")
        return self

    @cached_property
    def resolved_storage_root(self) -> str:
        if self.storage_root:
            return self.storage_root
        return str((self.data_dir / "storage").resolve())

    def service_address(self, service: Literal["runs", "logs", "pipelines", "benchling"]) -> str:
        explicit = getattr(self, f"{service}_address")
        return explicit or f"127.0.0.1:{self.grpc_port}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; ``overrides`` win (used by tests and the CLI)."""
    return Settings(**overrides)  # type: ignore[arg-type]
