"""Payload encryption without a server: keys parsed (errors name the entry, never the key),
payloads sealed with a fresh nonce under the current key and opened with the key they name,
plain payloads let through, failures encoded; and the codec server over HTTP (in process):
encode/decode, the bearer token, CORS for the UI's origin only, no payload in its logs."""

from __future__ import annotations

import base64
import logging

import httpx
import pytest
from google.protobuf import json_format
from pydantic import ValidationError
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.exceptions import ApplicationError

from amendments import failures
from amendments.config import Settings
from amendments.dintero.errors import BadRequest
from amendments.domain.models import AmendOrderInput
from amendments.ops.codec_server import codec_app
from amendments.temporal.codec import (
    ENCODING,
    EncryptionCodec,
    EncryptionKeysError,
    UnknownEncryptionKey,
    data_converter,
    parse_keys,
)
from tests.support.keys import KEY_1, KEY_2, ROTATED, keyring

SECRET = b"PID-SECRET-4242 Lamp XL"
RAW_KEY = KEY_1.split(":", 1)[1]


def plain(data: bytes = SECRET) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=b'"' + data + b'"')


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("nocolon", "entry 1: expected key_id:base64key"),
        (f"{KEY_1},bad id:{RAW_KEY}", "entry 2: the key id must be"),
        (f"{KEY_1},{KEY_1}", "entry 2: key id 'test-1' is listed twice"),
        ("k:not-base64!", "entry 1 (k): the key is not base64"),
        ("k:" + base64.b64encode(b"short").decode(), "an AES-256 key is 32 bytes, this one is 5"),
    ],
)
def test_malformed_keys_are_named_without_the_key(text: str, says: str) -> None:
    with pytest.raises(EncryptionKeysError) as caught:
        parse_keys(text)
    assert says in str(caught.value)
    assert RAW_KEY not in str(caught.value)


def test_the_setting_is_checked_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCRYPTION_KEYS", "k:not-base64!")
    with pytest.raises(ValidationError, match="encryption_keys"):
        Settings(_env_file=None)
    monkeypatch.setenv("ENCRYPTION_KEYS", ROTATED)
    settings = Settings(_env_file=None)
    found = settings.keyring()
    assert found is not None
    assert (found.current, found.ids) == ("test-2", ("test-2", "test-1"))
    assert RAW_KEY not in repr(settings)
    assert RAW_KEY not in repr(found)


async def test_sealed_under_the_current_key_opened_after_rotation() -> None:
    [sealed] = await EncryptionCodec(keyring(KEY_1)).encode([plain()])
    assert sealed.metadata["encoding"] == ENCODING
    assert sealed.metadata["encryption-key-id"] == b"test-1"
    assert SECRET not in sealed.SerializeToString()
    [opened] = await EncryptionCodec(keyring(ROTATED)).decode([sealed])
    assert opened == plain()
    with pytest.raises(UnknownEncryptionKey, match="key 'test-1', which is not in ENCRYPTION_KEYS"):
        await EncryptionCodec(keyring(KEY_2)).decode([sealed])


async def test_each_payload_gets_a_fresh_nonce_and_tampering_is_refused() -> None:
    codec = EncryptionCodec(keyring())
    first, second = await codec.encode([plain(), plain()])
    assert first.data != second.data
    altered = Payload()
    altered.CopyFrom(first)
    altered.data = first.data[:-1] + bytes([first.data[-1] ^ 1])
    with pytest.raises(UnknownEncryptionKey, match="does not open"):
        await codec.decode([altered])
    forged = Payload()
    forged.CopyFrom(first)
    forged.metadata["encryption-key-id"] = b"test-2"  # the key id is bound to the payload
    with pytest.raises(UnknownEncryptionKey):
        await EncryptionCodec(keyring(ROTATED)).decode([forged])


async def test_plain_payloads_pass_through() -> None:
    """A backend without the key starts an amendment with plain JSON: it is read as sent."""
    payloads = [plain()]
    assert await EncryptionCodec(keyring()).decode(payloads) == payloads


async def test_the_converter_encrypts_values_and_failures() -> None:
    converter = data_converter(keyring())
    value = AmendOrderInput.model_validate(
        {"order_id": "O1", "amendment_id": "a1", "add": [{"id": "LAMP-XL", "quantity": 1,
         "gross_amount": 25000, "description": "Lamp XL"}]}
    )  # fmt: skip
    [payload] = await converter.encode([value])
    assert b"LAMP-XL" not in payload.SerializeToString()
    [back] = await converter.decode([payload], [AmendOrderInput])
    assert back == value
    failure = Failure()
    await converter.encode_failure(
        ApplicationError(
            "Dintero answered 400: PID-SECRET-4242 refused",
            type=failures.kind_of(BadRequest("")),
        ),
        failure,
    )
    assert b"PID-SECRET-4242" not in failure.SerializeToString()
    assert failure.message == "Encoded failure"
    decoded = await converter.decode_failure(failure)
    assert "PID-SECRET-4242" in str(decoded)
    assert data_converter(None).payload_codec is None


# --- the codec server ----------------------------------------------------------------------

UI = "http://127.0.0.1:8233"


TOKEN = "tok-123"


def server(token: str | None = TOKEN) -> httpx.AsyncClient:
    app = codec_app(keyring(ROTATED), token=token, origins=[UI])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://codec")


def body(*payloads: Payload) -> str:
    return json_format.MessageToJson(Payloads(payloads=list(payloads)))


async def test_the_codec_server_encodes_and_decodes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": "Bearer tok-123", "Content-Type": "application/json"}
    async with server() as http:
        sealed = await http.post("/encode", content=body(plain()), headers=auth)
        assert sealed.status_code == 200, sealed.text
        encoded = json_format.Parse(sealed.text, Payloads())
        assert encoded.payloads[0].metadata["encryption-key-id"] == b"test-2"
        opened = await http.post("/decode", content=sealed.text, headers=auth)
        assert opened.status_code == 200, opened.text
        assert json_format.Parse(opened.text, Payloads()).payloads[0] == plain()
        [old] = await EncryptionCodec(keyring(KEY_1)).encode([plain()])  # under the old key
        assert (await http.post("/decode", content=body(old), headers=auth)).status_code == 200
        bad = await http.post("/decode", content="{nope", headers=auth)
        assert bad.status_code == 400
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "PID-SECRET" not in logged
    assert base64.b64encode(SECRET).decode()[:12] not in logged
    assert RAW_KEY not in logged


async def test_the_codec_server_needs_its_token() -> None:
    async with server() as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "tok-123"}):
            answer = await http.post("/decode", content=body(plain()), headers=headers)
            assert answer.status_code == 401
            assert "PID-SECRET" not in answer.text
    async with server(token=None) as http:
        assert (await http.post("/decode", content=body(plain()))).status_code == 200


async def test_cors_is_answered_for_the_uis_origin_only() -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-namespace",
    }
    async with server() as http:
        allowed = await http.options("/decode", headers={"Origin": UI, **preflight})
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == UI
        assert "POST" in allowed.headers["access-control-allow-methods"]
        other = await http.options(
            "/decode", headers={"Origin": "https://evil.example", **preflight}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
