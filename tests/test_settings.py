"""Settings: the environment names of the README's "Configuration", and Temporal Cloud / TLS as
configuration only."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from temporalio.service import TLSConfig

from amendments.config import Settings, SettingsError
from amendments.connection import connect_options


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(_env_file=None)
    assert (settings.temporal_address, settings.temporal_namespace, settings.task_queue) == (
        "localhost:7233",
        "default",
        "order-amendments",
    )
    assert settings.dintero_base_url == "https://api.dintero.com"
    options = connect_options(settings)
    assert (options.tls, options.api_key) == (False, None)
    with pytest.raises(SettingsError, match="DINTERO_ACCOUNT_ID, DINTERO_CLIENT_ID"):
        settings.dintero_credentials()


def test_temporal_cloud_with_an_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_ADDRESS", "payments.a1b2c.tmprl.cloud:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "payments.a1b2c")
    monkeypatch.setenv("TEMPORAL_API_KEY", "cloud-key")
    settings = Settings(_env_file=None)
    options = connect_options(settings)
    assert options.target_host == "payments.a1b2c.tmprl.cloud:7233"
    assert options.namespace == "payments.a1b2c"
    assert options.tls is True
    assert options.api_key == "cloud-key"
    assert "cloud-key" not in repr(settings)


def test_mtls_with_certificate_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "client.pem").write_bytes(b"CERT")
    (tmp_path / "client.key").write_bytes(b"KEY")
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "client.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(tmp_path / "client.key"))
    options = connect_options(Settings(_env_file=None))
    assert isinstance(options.tls, TLSConfig)
    assert (options.tls.client_cert, options.tls.client_private_key) == (b"CERT", b"KEY")


def test_plain_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    assert connect_options(Settings(_env_file=None)).tls is True


def test_half_an_mtls_pair_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "client.pem"))
    with pytest.raises(ValidationError, match="TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together"):
        Settings(_env_file=None)


def test_dotenv_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("TASK_QUEUE=from-dotenv\nDINTERO_ACCOUNT_ID=P87654321\n")
    monkeypatch.chdir(tmp_path)
    settings = Settings()
    assert settings.task_queue == "from-dotenv"
    assert settings.dintero_account_id == "P87654321"


def test_secrets_stay_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DINTERO_CLIENT_SECRET", "very-secret")
    settings = Settings(_env_file=None)
    assert "very-secret" not in repr(settings)
    assert "very-secret" not in str(settings.model_dump())
