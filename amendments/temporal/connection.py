"""Connecting to Temporal, shared by the worker, the starter API, the CLI and the tests.

One data converter (pydantic's, encrypted with ENCRYPTION_KEYS: `amendments/temporal/codec.py`)
and one `connect()` that turns settings into a client, so that
every side of the product speaks the same payloads and a replay never fails for the wrong
reason; and the registration of the product's search attributes on a namespace. Local dev
server, a self-hosted cluster (TLS) and Temporal Cloud (API key) differ only in settings. Not
imported by workflows (they take the keys from `search_attributes`).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from pydantic import SecretStr
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, Interceptor
from temporalio.converter import DataConverter
from temporalio.envconfig import ClientConfig
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from amendments import failures
from amendments.failures import CONNECT_ERROR
from amendments.temporal.codec import PLAIN_DATA_CONVERTER, Keyring, data_converter
from amendments.temporal.search_attributes import SEARCH_ATTRIBUTES

log = logging.getLogger("amendments.temporal.connection")


class ConnectionSettings(Protocol):
    """What connecting reads of the product's settings (`amendments.config.Settings` has it):
    Temporal's own variables where they were given, and the keys payloads are sealed with."""

    @property
    def temporal_address(self) -> str: ...
    @property
    def temporal_namespace(self) -> str: ...
    @property
    def temporal_tls(self) -> bool: ...
    @property
    def temporal_tls_cert(self) -> Path | None: ...
    @property
    def temporal_tls_key(self) -> Path | None: ...
    @property
    def temporal_api_key(self) -> SecretStr | None: ...
    @property
    def temporal_profile(self) -> str | None: ...
    @property
    def temporal_config_file(self) -> Path | None: ...

    @property
    def model_fields_set(self) -> set[str]: ...

    def keyring(self) -> Keyring | None: ...


# Without ENCRYPTION_KEYS: pydantic's JSON (`data_converter(settings.keyring())` otherwise).
DATA_CONVERTER: DataConverter = PLAIN_DATA_CONVERTER


@dataclass(frozen=True)
class ConnectOptions:
    target_host: str
    namespace: str
    tls: bool | TLSConfig
    api_key: str | None
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    profile: str = "default"

    @property
    def auth(self) -> str:
        """How the client authenticates, for a log line (never a secret)."""
        if self.api_key is not None:
            return "API key over TLS"
        if isinstance(self.tls, TLSConfig) and self.tls.client_cert is not None:
            return "mTLS client certificate"
        return "TLS" if self.tls else "none (plaintext)"

    def describe(self) -> str:
        return (
            f"profile {self.profile}, {self.target_host}, namespace {self.namespace}, "
            f"auth {self.auth}"
        )


def connect_options(
    settings: ConnectionSettings, environ: Mapping[str, str] | None = None
) -> ConnectOptions:
    """Where and how to connect, the Temporal way: `temporalio.envconfig` reads the standard
    variables (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS*,
    TEMPORAL_GRPC_META_*) and the TOML profile (TEMPORAL_PROFILE, TEMPORAL_CONFIG_FILE, or the
    default file); the product's settings then override where they were given (so `.env` and
    command-line flags still win). TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY are deprecated aliases
    of TEMPORAL_TLS_CLIENT_CERT_PATH / _KEY_PATH: they work, with a warning. Configuration
    only; no code differs between the dev server, a cluster with (m)TLS and Temporal Cloud."""
    given = settings.model_fields_set
    profile = settings.temporal_profile or "default"
    config = ClientConfig.load_client_connect_config(
        profile=settings.temporal_profile,
        config_file=str(settings.temporal_config_file) if settings.temporal_config_file else None,
        override_env_vars=environ,
    )
    target = settings.temporal_address if "temporal_address" in given else None
    namespace = settings.temporal_namespace if "temporal_namespace" in given else None
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    tls: bool | TLSConfig = config.get("tls", False)
    if settings.temporal_tls_cert is not None and settings.temporal_tls_key is not None:
        warnings.warn(
            "TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY are deprecated: use Temporal's own "
            "TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH",
            FutureWarning,
            stacklevel=2,
        )
        base = tls if isinstance(tls, TLSConfig) else TLSConfig()
        tls = TLSConfig(
            server_root_ca_cert=base.server_root_ca_cert,
            domain=base.domain,
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif not tls and (settings.temporal_tls or api_key or config.get("api_key")):
        tls = True
    return ConnectOptions(
        target_host=target or config.get("target_host") or settings.temporal_address,
        namespace=namespace or config.get("namespace") or settings.temporal_namespace,
        tls=tls,
        api_key=api_key or config.get("api_key"),
        rpc_metadata=dict(config.get("rpc_metadata", {})),
        profile=profile,
    )


class TemporalUnreachable(ConnectionError):
    """Temporal did not answer at the configured address; the message names it."""

    failure_type = CONNECT_ERROR.name


async def connect(
    settings: ConnectionSettings,
    *,
    runtime: Runtime | None = None,
    interceptors: Sequence[Interceptor] = (),
) -> Client:
    """A client for the configured Temporal, with the product's one data converter (and, for a
    worker, the runtime serving its metrics and the tracing interceptor);
    `TemporalUnreachable` when nothing answers there."""
    options = connect_options(settings)
    try:
        return await Client.connect(
            options.target_host,
            namespace=options.namespace,
            data_converter=data_converter(settings.keyring()),
            tls=options.tls,
            api_key=options.api_key,
            rpc_metadata=options.rpc_metadata,
            runtime=runtime,
            interceptors=interceptors,
        )
    except RuntimeError as exc:  # the SDK's only word for it: "Failed client connect: ..."
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemporalUnreachable(
            f"cannot reach Temporal at {options.target_host} ({first}); check TEMPORAL_ADDRESS, "
            f"or {failures.LOCAL_STACK}"
        ) from exc


async def ensure_search_attributes(client: Client, namespace: str) -> list[str]:
    """Register the product's search attributes on the namespace if missing; returns those added.

    Temporal Cloud manages search attributes in its console; where the operator service refuses,
    the error says so.
    """
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = set(existing.custom_attributes) | set(existing.system_attributes)
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type.value)
        for key in SEARCH_ATTRIBUTES
        if key.name not in known
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(search_attributes=missing, namespace=namespace)
        )
    return sorted(missing)
