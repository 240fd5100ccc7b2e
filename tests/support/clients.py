"""The Dintero client as the tests make it: the demo account, a secret that must never show
anywhere, and a client over the simulator (in process, or over its socket)."""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from amendments.dintero import DinteroClient, build_http
from amendments.domain.ids import DEMO_ACCOUNT_ID

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
