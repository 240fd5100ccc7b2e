"""The codec server: the Temporal UI and the `temporal` CLI show decoded payloads through it.

`amend codec-server` serves Temporal's remote codec protocol: `POST /encode` and `POST /decode`
take `{"payloads": [...]}` (protobuf JSON of `temporal.api.common.v1.Payloads`) and answer the
same, run through the keys of `ENCRYPTION_KEYS` (`amendments/temporal/codec.py`). Browsers
reach it from the UI's origin: the CORS preflight is answered for `CODEC_CORS_ORIGINS` only
(starlette's `CORSMiddleware`). With `CODEC_SERVER_TOKEN` set, every request must carry
`Authorization: Bearer <token>` (compared in constant time), else 401 before anything is read.
Nothing here logs a payload or a key: errors name what went wrong, never the data.
"""

from __future__ import annotations

import hmac
import logging

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads

from amendments.temporal.codec import EncryptionCodec, Keyring, UnknownEncryptionKey

log = logging.getLogger("amendments.ops.codec_server")


def codec_app(keyring: Keyring | None, *, token: str | None, origins: list[str]) -> Starlette:
    """The app; without keys, plain payloads pass through and encrypted ones are refused (so
    that a stack that does not encrypt can still point its UI here)."""
    codec = EncryptionCodec(keyring or Keyring({}))

    def refused(request: Request) -> Response | None:
        if token is None:
            return None
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return None
        return JSONResponse({"error": "a bearer token is required"}, status_code=401)

    async def payloads_of(request: Request) -> Payloads | Response:
        try:
            return json_format.Parse(await request.body(), Payloads())
        except (json_format.ParseError, UnicodeDecodeError):
            return JSONResponse(
                {"error": 'the body must be {"payloads": [...]} (Temporal\'s Payloads JSON)'},
                status_code=400,
            )

    async def encode(request: Request) -> Response:
        answer = refused(request) or await payloads_of(request)
        if isinstance(answer, Response):
            return answer
        encoded = await codec.encode(list(answer.payloads))
        return _json(Payloads(payloads=encoded))

    async def decode(request: Request) -> Response:
        answer = refused(request) or await payloads_of(request)
        if isinstance(answer, Response):
            return answer
        try:
            decoded = await codec.decode(list(answer.payloads))
        except UnknownEncryptionKey as exc:
            return JSONResponse({"error": str(exc)}, status_code=422)
        return _json(Payloads(payloads=decoded))

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok", "current_key": keyring.current if keyring else None})

    return Starlette(
        routes=[
            Route("/encode", encode, methods=["POST"]),
            Route("/decode", decode, methods=["POST"]),
            Route("/healthz", health, methods=["GET"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["POST"],
                allow_headers=["Content-Type", "X-Namespace", "Authorization"],
                allow_credentials=True,
            )
        ],
    )


def _json(payloads: Payloads) -> Response:
    return Response(
        json_format.MessageToJson(payloads), media_type="application/json", status_code=200
    )


def origins_of(setting: str | None) -> list[str]:
    return [origin.strip().rstrip("/") for origin in (setting or "").split(",") if origin.strip()]
