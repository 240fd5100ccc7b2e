"""Settings from the environment and `.env`, read with pydantic-settings in entry points only.

Nothing here is read at import time: `Settings()` is built in `main()` functions, so tests and
libraries never pick up a developer's environment by accident. Secrets are `SecretStr`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from amendments.dintero.auth import validate_account_id
from amendments.dintero.client import DEFAULT_BASE_URL


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: SecretStr | None = None
    task_queue: str = Field(default="order-amendments", min_length=1)

    dintero_base_url: str = DEFAULT_BASE_URL
    dintero_account_id: str | None = None
    dintero_client_id: str | None = None
    dintero_client_secret: SecretStr | None = None
    # Below the activities' 15 s start-to-close, so a slow Dintero surfaces as a typed timeout.
    dintero_timeout_seconds: float = Field(default=10.0, gt=0, le=14)

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS)")
        return self

    @field_validator("dintero_account_id")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        return validate_account_id(value) if value else None

    def dintero_credentials(self) -> tuple[str, str, SecretStr]:
        """Account id, client id and secret, or a SettingsError naming what is missing."""
        missing = [
            name
            for name, value in (
                ("DINTERO_ACCOUNT_ID", self.dintero_account_id),
                ("DINTERO_CLIENT_ID", self.dintero_client_id),
                ("DINTERO_CLIENT_SECRET", self.dintero_client_secret),
            )
            if not value
        ]
        if missing:
            raise SettingsError(f"missing setting(s): {', '.join(missing)}")
        account_id, client_id, secret = (
            self.dintero_account_id,
            self.dintero_client_id,
            self.dintero_client_secret,
        )
        assert account_id is not None
        assert client_id is not None
        assert secret is not None
        return account_id, client_id, secret
