"""Settings from the environment and `.env`, read with pydantic-settings in entry points only.

Nothing here is read at import time: settings are loaded in `main()` functions, so tests and
libraries never pick up a developer's environment by accident. Secrets are `SecretStr`.

One loader, `load_settings`, and one rule for the local stack's defaults: when no Dintero
credentials are set at all, the commands that write nothing to Dintero themselves (the `amend`
client commands: their only Dintero call is the dry run) fall back to the local stack's
simulator (`http://127.0.0.1:8700`, account `T12345678`, as `amend dev` serves it). A worker,
`python worker.py` or `amend worker`, writes to Dintero and never falls back: without
credentials it refuses to start, naming the variables.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from temporalio.common import WorkerDeploymentVersion

from amendments import failures
from amendments.dintero.accounts import (
    Account,
    Accounts,
    AccountsFileError,
    SecretSource,
    accounts_of,
    read_accounts_file,
)
from amendments.dintero.auth import validate_account_id
from amendments.dintero.client import DEFAULT_BASE_URL
from amendments.domain.ids import DEMO_ACCOUNT_ID
from amendments.payments.checkout.client import DEFAULT_CHECKOUT_URL
from amendments.temporal.codec import Keyring, parse_keys

LOCAL_SIMULATOR_URL = "http://127.0.0.1:8700"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", frozen=True)

    # Where and how to connect: Temporal's own conventions first (`temporalio.envconfig`: the
    # TEMPORAL_* variables every SDK and the `temporal` CLI read, and TOML profiles), these where
    # given (`amendments/temporal/connection.py`). TEMPORAL_TLS_CERT / _KEY are deprecated
    # aliases of TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH.
    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    temporal_tls: bool = False
    temporal_tls_cert: Path | None = None
    temporal_tls_key: Path | None = None
    temporal_api_key: SecretStr | None = None
    temporal_profile: str | None = None
    temporal_config_file: Path | None = None
    task_queue: str = Field(default="order-amendments", min_length=1)
    # Worker Deployment Versioning (the variables Temporal's Worker Controller sets on worker
    # pods): a worker with a build id runs as that version of the deployment; without one it is
    # unversioned, as before.
    temporal_deployment_name: str = Field(
        default="order-amendments", min_length=1, max_length=200, pattern=r"^[^.:\s]+$"
    )
    temporal_worker_build_id: str | None = Field(
        default=None, min_length=1, max_length=200, pattern=r"^[^:\s]+$"
    )

    # Payload encryption (`amendments/temporal/codec.py`): `key_id:base64key,...`, the first
    # current.
    encryption_keys: SecretStr | None = None
    # `amend codec-server`: the bearer token it requires (none: open), and the UI origins it
    # answers CORS for (comma-separated; none: no browser).
    codec_server_token: SecretStr | None = None
    codec_cors_origins: str | None = None

    dintero_base_url: str = DEFAULT_BASE_URL
    dintero_account_id: str | None = None
    dintero_client_id: str | None = None
    dintero_client_secret: SecretStr | None = None
    # More accounts (many merchants in one deployment): a TOML file of accounts and partners
    # (`amendments/dintero/accounts.py`); the single-account settings above name the default.
    dintero_accounts_file: Path | None = None
    # Below the activities' 15 s start-to-close, so a slow Dintero surfaces as a typed timeout.
    dintero_timeout_seconds: float = Field(default=10.0, gt=0, le=14)

    # Who moves the money (`amendments/payments/port.py`): nobody (record what another system did),
    # or Dintero Checkout (refunds executed, top-ups collected by payment link and captured).
    payments: Literal["record-only", "dintero-checkout"] = "record-only"
    dintero_checkout_base_url: str = DEFAULT_CHECKOUT_URL
    dintero_checkout_profile_id: str | None = None
    callback_base_url: str | None = None  # the public address of `amend callbacks`
    # Set once the merchant has created a signature secret with Dintero: every callback must
    # then carry a valid `Dintero-Signature`, checked before anything else.
    dintero_signature_secret: SecretStr | None = None

    # Watching it run (`amendments/worker/telemetry.py`): each off unless set.
    metrics_bind_address: str | None = Field(default=None, pattern=r"^[^\s:]*:\d{1,5}$")
    metrics_visibility_seconds: float = Field(default=30.0, gt=0)  # the waiting-top-ups gauge
    otel_exporter_otlp_endpoint: str | None = None
    log_format: Literal["text", "json"] = "text"

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.temporal_tls_cert is None) != (self.temporal_tls_key is None):
            raise ValueError("TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (mTLS)")
        return self

    @field_validator("encryption_keys")
    @classmethod
    def _keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip():
            parse_keys(value.get_secret_value())
            return value
        return None

    @property
    def deployment_version(self) -> WorkerDeploymentVersion | None:
        """The version this worker runs as, or None when versioning is off (no build id)."""
        if self.temporal_worker_build_id is None:
            return None
        return WorkerDeploymentVersion(self.temporal_deployment_name, self.temporal_worker_build_id)

    def keyring(self) -> Keyring | None:
        """The encryption keys, or None when payloads go to Temporal unencrypted."""
        if self.encryption_keys is None:
            return None
        return parse_keys(self.encryption_keys.get_secret_value())

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
            raise SettingsError(
                f"missing setting(s): {', '.join(missing)}; a worker never falls back to the "
                f"local simulator: set them (see .env.example), or {failures.LOCAL_STACK}"
            )
        account_id, client_id, secret = (
            self.dintero_account_id,
            self.dintero_client_id,
            self.dintero_client_secret,
        )
        assert account_id is not None
        assert client_id is not None
        assert secret is not None
        return account_id, client_id, secret

    def accounts(self) -> Accounts:
        """Every account this deployment serves: the single-account settings' (the default)
        and the accounts file's; a SettingsError names what is wrong or missing."""
        single = None
        if self.dintero_account_id or self.dintero_client_id or self.dintero_client_secret:
            account_id, client_id, secret = self.dintero_credentials()
            signing = self.dintero_signature_secret
            single = Account(
                account_id=account_id,
                client_id=client_id,
                secret=SecretSource("DINTERO_CLIENT_SECRET", value=secret),
                checkout_profile_id=self.dintero_checkout_profile_id,
                signature_secret=SecretSource("DINTERO_SIGNATURE_SECRET", value=signing)
                if signing is not None
                else None,
            )
        if self.dintero_accounts_file is None:
            if single is None:
                self.dintero_credentials()  # raises, naming the settings
            return accounts_of(None, single)
        path = self.dintero_accounts_file
        try:
            return accounts_of(read_accounts_file(path), single, where=str(path))
        except AccountsFileError as exc:
            raise SettingsError(str(exc)) from None


def checkout_settings(settings: Settings) -> tuple[str, str]:
    """The Checkout profile id and the receiver's public address, or a SettingsError naming
    what `PAYMENTS=dintero-checkout` is missing."""
    missing = [
        name
        for name, value in (
            ("DINTERO_CHECKOUT_PROFILE_ID", settings.dintero_checkout_profile_id),
            ("CALLBACK_BASE_URL", settings.callback_base_url),
        )
        if not value
    ]
    if missing:
        raise SettingsError(f"PAYMENTS=dintero-checkout needs {', '.join(missing)}")
    assert settings.dintero_checkout_profile_id is not None
    assert settings.callback_base_url is not None
    return settings.dintero_checkout_profile_id, settings.callback_base_url.rstrip("/")


def load_settings(*, local_defaults: bool, **overrides: Any) -> Settings:
    """The environment and `.env`, then `overrides` (command-line flags); with `local_defaults`
    and no Dintero credentials at all, the local stack's simulator and account (module doc)."""
    base = Settings(**overrides)
    if not local_defaults or (
        base.dintero_account_id
        or base.dintero_client_id
        or base.dintero_client_secret
        or base.dintero_accounts_file
    ):
        return base
    local: dict[str, Any] = {
        "dintero_account_id": DEMO_ACCOUNT_ID,
        "dintero_client_id": "local",
        "dintero_client_secret": SecretStr("local-secret"),
    }
    if "dintero_base_url" not in base.model_fields_set:
        local["dintero_base_url"] = LOCAL_SIMULATOR_URL
    return base.model_copy(update=local)
