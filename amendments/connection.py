"""Connecting to Temporal, shared by the worker, the starter API, the CLI and the tests.

One data converter (pydantic's) and one `connect()` that turns settings into a client, so that
every side of the product speaks the same payloads and a replay never fails for the wrong
reason; and the registration of the product's search attributes on a namespace. Local dev
server, a self-hosted cluster (TLS) and Temporal Cloud (API key) differ only in settings. Not
imported by workflows (they take the keys from `search_attributes`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import (
    AddSearchAttributesRequest,
    ListSearchAttributesRequest,
)
from temporalio.client import Client, Interceptor
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter
from temporalio.runtime import Runtime
from temporalio.service import TLSConfig

from amendments.config import Settings
from amendments.search_attributes import SEARCH_ATTRIBUTES

DATA_CONVERTER: DataConverter = pydantic_data_converter


@dataclass(frozen=True)
class ConnectOptions:
    target_host: str
    namespace: str
    tls: bool | TLSConfig
    api_key: str | None


def connect_options(settings: Settings) -> ConnectOptions:
    """Where and how to connect: the local dev server, a cluster with (m)TLS, or Temporal Cloud
    with an API key (which implies TLS). Configuration only; no code differs between them."""
    tls: bool | TLSConfig = False
    if settings.temporal_tls_cert is not None and settings.temporal_tls_key is not None:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif settings.temporal_tls or settings.temporal_api_key is not None:
        tls = True
    api_key = settings.temporal_api_key.get_secret_value() if settings.temporal_api_key else None
    return ConnectOptions(settings.temporal_address, settings.temporal_namespace, tls, api_key)


class TemporalUnreachable(ConnectionError):
    """Temporal did not answer at the configured address; the message names it."""


async def connect(
    settings: Settings,
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
            data_converter=DATA_CONVERTER,
            tls=options.tls,
            api_key=options.api_key,
            runtime=runtime,
            interceptors=interceptors,
        )
    except RuntimeError as exc:  # the SDK's only word for it: "Failed client connect: ..."
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise TemporalUnreachable(
            f"cannot reach Temporal at {options.target_host} ({first}); check TEMPORAL_ADDRESS, "
            "or start the local stack with `amend dev`"
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
