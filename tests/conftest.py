"""Shared fixtures: a fresh simulator per test, in-process and over a socket, with clients."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from pydantic import SecretStr

from amendments.dintero import DinteroClient, build_http
from amendments.simulator import DEMO_ACCOUNT_ID, BackgroundServer, Simulator

ACCOUNT = DEMO_ACCOUNT_ID
SECRET = SecretStr("s3cr3t-value-never-logged")


def make_client(
    base_url: str, transport: httpx.AsyncBaseTransport | None = None, **kwargs: object
) -> DinteroClient:
    http = build_http(
        base_url=base_url,
        account_id=ACCOUNT,
        client_id="client-1",
        client_secret=SECRET,
        transport=transport,
        **kwargs,  # type: ignore[arg-type]
    )
    return DinteroClient(http, ACCOUNT)


@pytest.fixture
def sim() -> Simulator:
    return Simulator()


@pytest.fixture
async def client(sim: Simulator) -> AsyncIterator[DinteroClient]:
    client = make_client("http://dintero.test", httpx.ASGITransport(app=sim))
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def served() -> Iterator[tuple[Simulator, str]]:
    """One simulator served by uvicorn on a free port for the whole session."""
    simulator = Simulator()
    with BackgroundServer(simulator) as url:
        yield simulator, url


@pytest.fixture
def socket_sim(served: tuple[Simulator, str]) -> Simulator:
    simulator, _ = served
    simulator.reset()
    return simulator


@pytest.fixture
async def socket_client(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> AsyncIterator[DinteroClient]:
    _, url = served
    client = make_client(url)
    yield client
    await client.aclose()
