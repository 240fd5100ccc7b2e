"""Settings: the environment names of docs/configuration.md, and Temporal Cloud / TLS as
configuration only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from temporalio.client import Client
from temporalio.service import TLSConfig

from amendments.config import Settings, SettingsError
from amendments.temporal.connection import connect, connect_options


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


def test_the_old_mtls_names_still_work_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "client.pem").write_bytes(b"CERT")
    (tmp_path / "client.key").write_bytes(b"KEY")
    monkeypatch.setenv("TEMPORAL_TLS_CERT", str(tmp_path / "client.pem"))
    monkeypatch.setenv("TEMPORAL_TLS_KEY", str(tmp_path / "client.key"))
    with pytest.warns(FutureWarning, match="TEMPORAL_TLS_CLIENT_CERT_PATH"):
        options = connect_options(Settings(_env_file=None))
    assert isinstance(options.tls, TLSConfig)
    assert (options.tls.client_cert, options.tls.client_private_key) == (b"CERT", b"KEY")
    assert options.auth == "mTLS client certificate"


def test_plain_tls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEMPORAL_TLS", "true")
    options = connect_options(Settings(_env_file=None))
    assert options.tls
    assert options.auth == "TLS"


class Connected(dict[str, Any]):
    """What `Client.connect` was called with."""


@pytest.fixture
def connected(monkeypatch: pytest.MonkeyPatch) -> Connected:
    seen = Connected()

    async def fake_connect(target_host: str, **kwargs: Any) -> object:
        seen.update(kwargs, target_host=target_host)
        return object()

    monkeypatch.setattr(Client, "connect", fake_connect)
    return seen


def certificates(tmp_path: Path) -> dict[str, Path]:
    files = {"cert": b"CLIENT-CERT", "key": b"CLIENT-KEY", "ca": b"SERVER-CA"}
    for name, content in files.items():
        (tmp_path / f"{name}.pem").write_bytes(content)
    return {name: tmp_path / f"{name}.pem" for name in files}


async def test_a_toml_profile_with_mtls_reaches_the_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, connected: Connected
) -> None:
    """Temporal's own config file and profile (as the `temporal` CLI and every SDK read them):
    address, namespace, mTLS paths, server CA and name, gRPC metadata."""
    files = certificates(tmp_path)
    config = tmp_path / "temporal.toml"
    config.write_text(
        f"""
[profile.default]
address = "localhost:7233"

[profile.prod]
address = "temporal.shop.example:7233"
namespace = "payments"

[profile.prod.tls]
client_cert_path = "{files["cert"]}"
client_key_path = "{files["key"]}"
server_ca_cert_path = "{files["ca"]}"
server_name = "temporal.shop.example"

[profile.prod.grpc_meta]
x-tenant = "shop"
"""
    )
    for name in ("TEMPORAL_ADDRESS", "TEMPORAL_NAMESPACE", "TEMPORAL_API_KEY", "TEMPORAL_TLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(config))
    monkeypatch.setenv("TEMPORAL_PROFILE", "prod")
    settings = Settings(_env_file=None)
    await connect(settings)
    assert connected["target_host"] == "temporal.shop.example:7233"
    assert connected["namespace"] == "payments"
    tls = connected["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.client_private_key) == (b"CLIENT-CERT", b"CLIENT-KEY")
    assert (tls.server_root_ca_cert, tls.domain) == (b"SERVER-CA", "temporal.shop.example")
    assert connected["rpc_metadata"] == {"x-tenant": "shop"}
    options = connect_options(settings)
    assert options.describe() == (
        "profile prod, temporal.shop.example:7233, namespace payments, auth mTLS client certificate"
    )
    # The product's own settings, where given, still win over the profile.
    await connect(Settings(_env_file=None, temporal_namespace="other"))
    assert connected["namespace"] == "other"


async def test_the_standard_variables_reach_the_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, connected: Connected
) -> None:
    files = certificates(tmp_path)
    monkeypatch.setenv("TEMPORAL_CONFIG_FILE", str(tmp_path / "none.toml"))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "cluster.example:7233")
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_CERT_PATH", str(files["cert"]))
    monkeypatch.setenv("TEMPORAL_TLS_CLIENT_KEY_PATH", str(files["key"]))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH", str(files["ca"]))
    monkeypatch.setenv("TEMPORAL_TLS_SERVER_NAME", "cluster.example")
    monkeypatch.setenv("TEMPORAL_GRPC_META_X_TENANT", "shop")
    await connect(Settings(_env_file=None))
    assert connected["target_host"] == "cluster.example:7233"
    tls = connected["tls"]
    assert isinstance(tls, TLSConfig)
    assert (tls.client_cert, tls.server_root_ca_cert, tls.domain) == (
        b"CLIENT-CERT",
        b"SERVER-CA",
        "cluster.example",
    )
    assert connected["rpc_metadata"] == {"x-tenant": "shop"}


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


def test_a_worker_version_only_with_a_build_id(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).deployment_version is None  # versioning off, as before
    monkeypatch.setenv("TEMPORAL_WORKER_BUILD_ID", "2026-12-07.1")
    version = Settings(_env_file=None).deployment_version
    assert version is not None
    assert (version.deployment_name, version.build_id) == ("order-amendments", "2026-12-07.1")
    monkeypatch.setenv("TEMPORAL_DEPLOYMENT_NAME", "amendments-eu")
    version = Settings(_env_file=None).deployment_version
    assert version is not None
    assert version.to_canonical_string() == "amendments-eu.2026-12-07.1"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("TEMPORAL_WORKER_BUILD_ID", "v1:hotfix"),  # ':' joins deployment and build
        ("TEMPORAL_WORKER_BUILD_ID", ""),
        ("TEMPORAL_DEPLOYMENT_NAME", "order.amendments"),  # '.' is Temporal's separator too
        ("TEMPORAL_DEPLOYMENT_NAME", "order amendments"),
    ],
)
def test_a_malformed_version_name_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match=variable.lower()):
        Settings(_env_file=None)
