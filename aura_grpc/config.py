"""One configuration object, read once at start-up from a file and the environment.

Precedence: environment (`AURA_*`, nested with `__`) over the YAML file named by
`AURA_CONFIG` (or `--config`) over defaults. Unknown keys are rejected and every
problem is reported at once, by pydantic's validation error.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)


class ConfigError(Exception):
    """The configuration cannot be used; the message lists every problem."""


class VerifierSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Per-type options handed to each verifier's `from_options`.
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Extra types from outside AURA: type name -> "package.module:Class".
    extra: dict[str, str] = Field(default_factory=dict)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AURA_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    profile: Literal["dev", "prod"] = "dev"
    state_dir: Path = Path(".aura")
    # Kept out of repr: a PostgreSQL URL may carry a password.
    database_url: str = Field("", repr=False)
    backend_socket: str = ""
    # Backend processes behind Envoy, sharing only the database; 0 = one per
    # core. Each binds its own socket (backend-<i>.sock) when there are several.
    workers: int = Field(0, ge=0, le=64)

    api_host: str = "127.0.0.1"
    api_port: int = Field(8443, ge=1, le=65535)
    device_port: int = Field(8444, ge=1, le=65535)
    envoy_admin_port: int = Field(9901, ge=1, le=65535)

    # Device (mTLS) listener: connections live at most this long, so a revoked
    # certificate cannot outlive its CRL on a kept-alive connection.
    device_max_connection_seconds: float = Field(300, gt=0, le=86400)
    # The protected service behind `/upstream/` on the device listener
    # (host:port), and the org whose certificates may reach it.
    upstream_address: str = Field("127.0.0.1:9", pattern=r"^[A-Za-z0-9.-]+:\d{1,5}$")
    upstream_allowed_org: str = ""
    # Fallback re-read of CAs and CRLs for Envoy, on top of the change hook.
    edge_poll_seconds: float = Field(30, gt=0, le=3600)
    # How often each worker asks the database whether another worker changed a
    # CA or CRL (revocations reach every worker's checks within this bound).
    edge_watch_seconds: float = Field(0.25, gt=0, le=60)

    nonce_ttl_seconds: int = Field(300, ge=5, le=3600)
    issue_ticket_ttl_seconds: int = Field(600, ge=5, le=86400)
    freshness_hours: float = Field(24, gt=0, le=24 * 30)
    # How long an issuance held by policy waits for a decision.
    approval_ttl_hours: float = Field(72, gt=0, le=24 * 30)

    trust_domain: str = Field("aura.local", pattern=r"^[a-z0-9.-]{1,253}$")
    max_cert_days: int = Field(397, ge=1, le=3650)
    crl_period_hours: float = Field(24, gt=0, le=24 * 30)
    # How often to look for CRLs past half their period (they are then re-signed).
    crl_check_seconds: float = Field(60, gt=0, le=3600)
    public_base_url: str = ""
    master_key_file: Path | None = None
    # Where CA private keys live: "sealed" under the master key (dev only) or on a
    # PKCS#11 token named by each CA's key_ref (an HSM; SoftHSM2 in tests).
    ca_key_backend: Literal["sealed", "pkcs11"] = "sealed"
    pkcs11_module: Path | None = None
    pkcs11_token_label: str = ""
    pkcs11_pin: SecretStr = SecretStr("")
    pkcs11_pin_file: Path | None = None
    pkcs11_pool_size: int = Field(4, ge=1, le=64)
    ca_key_algorithm: Literal["ed25519", "p256"] = "ed25519"

    verifiers: VerifierSettings = Field(default_factory=VerifierSettings)

    # Token buckets on challenge, attest and issue (docs/hardening.md): calls a
    # second and burst, per org and per source address; a rate of 0 turns one
    # off. Generous by default: they stop floods, not busy fleets.
    rate_limit_org_per_second: float = Field(5000, ge=0)
    rate_limit_org_burst: int = Field(10000, ge=1)
    rate_limit_source_per_second: float = Field(5000, ge=0)
    rate_limit_source_burst: int = Field(10000, ge=1)

    # Prometheus /metrics on 127.0.0.1 at this port; 0 turns it off.
    metrics_port: int = Field(9464, ge=0, le=65535)
    # How often the fleet gauges (stale devices, CRL lifetimes) are recomputed.
    metrics_refresh_seconds: float = Field(15, gt=0, le=3600)
    # "json": one JSON object per log line (for log shippers); "text" for people.
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _prod_needs_explicit_secrets(self) -> Settings:
        if self.profile == "prod" and self.ca_key_backend != "pkcs11":
            raise ValueError(
                "the prod profile keeps CA keys on an HSM: set ca_key_backend: pkcs11"
            )
        if self.ca_key_backend == "pkcs11":
            missing = [
                name
                for name, value in (
                    ("pkcs11_module", self.pkcs11_module),
                    ("pkcs11_token_label", self.pkcs11_token_label),
                    ("pkcs11_pin or pkcs11_pin_file", self._has_pin),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"ca_key_backend pkcs11 needs {', '.join(missing)}")
        return self

    @property
    def _has_pin(self) -> bool:
        return bool(self.pkcs11_pin.get_secret_value()) or bool(self.pkcs11_pin_file)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.state_dir / 'aura.db'}"

    @property
    def resolved_backend_socket(self) -> str:
        return self.backend_socket or str((self.state_dir / "backend.sock").resolve())

    @property
    def resolved_workers(self) -> int:
        return self.workers or os.cpu_count() or 1

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or self.state_dir / "master.key"

    @property
    def resolved_public_base_url(self) -> str:
        return self.public_base_url or f"https://{self.api_host}:{self.api_port}"


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read the file (if any), then the environment, and validate everything."""
    path = path or (
        Path(os.environ["AURA_CONFIG"]) if "AURA_CONFIG" in os.environ else None
    )
    document: dict[str, Any] = {}
    if path is not None:
        try:
            document = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"cannot read {path}: {exc}") from exc
        if not isinstance(document, dict):
            raise ConfigError(f"{path} must hold a mapping of settings")

    env_only = Settings.model_fields.keys() & {
        k.removeprefix("AURA_").lower().split("__")[0]
        for k in os.environ
        if k.startswith("AURA_")
    }
    for key in env_only:
        document.pop(key, None)  # the environment wins over the file

    try:
        return Settings(**{**document, **overrides})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'config'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
