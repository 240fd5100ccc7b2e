"""The status-to-class table, transport errors, Retry-After and Dintero's envelope in messages."""

from __future__ import annotations

import httpx
import pytest

from amendments.dintero import errors as e


def response(
    status: int, body: bytes = b"", headers: dict[str, str] | None = None
) -> httpx.Response:
    request = httpx.Request("POST", "https://api.dintero.com/v1/accounts/T12345678/shopping/x")
    return httpx.Response(status, content=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "cls", "retryable"),
    [
        (400, e.BadRequest, False),
        (401, e.Unauthorized, False),
        (403, e.Forbidden, False),
        (404, e.NotFound, False),
        (405, e.DinteroClientError, False),
        (408, e.RequestTimeout, True),
        (409, e.Conflict, True),
        (410, e.DinteroClientError, False),
        (422, e.DinteroClientError, False),
        (429, e.RateLimited, True),
        (500, e.ServerError, True),
        (502, e.ServerError, True),
        (503, e.ServerError, True),
        (504, e.ServerError, True),
        (599, e.ServerError, True),
    ],
)
def test_status_table(status: int, cls: type[e.DinteroHTTPError], retryable: bool) -> None:
    error = e.error_from_response(response(status))
    assert type(error) is cls
    assert error.retryable is retryable
    assert error.status == status
    assert error.type_name == cls.__name__


def test_non_error_status_is_refused() -> None:
    with pytest.raises(ValueError, match="not an error status"):
        e.error_class_for_status(204)


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), e.DinteroTransportError),
        (httpx.RemoteProtocolError("dropped"), e.DinteroTransportError),
        (httpx.ReadError("reset"), e.DinteroTransportError),
        (httpx.ReadTimeout("slow"), e.DinteroTimeout),
        (httpx.ConnectTimeout("slow"), e.DinteroTimeout),
        (httpx.PoolTimeout("busy"), e.DinteroTimeout),
    ],
)
def test_transport_errors_are_retryable(
    exc: httpx.TransportError, cls: type[e.DinteroError]
) -> None:
    request = httpx.Request("GET", "https://api.dintero.com/v1/x")
    error = e.error_from_transport(exc, request)
    assert type(error) is cls
    assert error.retryable
    assert "GET /v1/x" in error.message


def test_envelope_goes_into_the_message() -> None:
    body = (
        b'{"error": {"code": "AMOUNT_EXCEEDS_AUTHORIZED", "message": "too much",'
        b' "errors": [{"field": "items.0.amount"}]}}'
    )
    error = e.error_from_response(response(400, body))
    assert error.message == (
        "Dintero answered 400 to POST /v1/accounts/T12345678/shopping/x: too much "
        "(AMOUNT_EXCEEDS_AUTHORIZED)"
    )
    assert error.code == "AMOUNT_EXCEEDS_AUTHORIZED"
    assert error.errors == [{"field": "items.0.amount"}]


def test_a_body_without_envelope_uses_the_reason_phrase() -> None:
    error = e.error_from_response(response(502, b"<html>bad gateway</html>"))
    assert error.message.endswith(": Bad Gateway")
    assert error.code is None


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("7", 7.0),
        ("0", 0.0),
        ("soon", None),
        ("Thu, 01 Jan 1970 00:01:40 GMT", 40.0),
        ("Thu, 01 Jan 1970 00:00:10 GMT", 0.0),
    ],
)
def test_retry_after(header: str | None, seconds: float | None) -> None:
    assert e.parse_retry_after(header, now=60.0) == seconds


def test_retry_after_reaches_the_error() -> None:
    error = e.error_from_response(response(429, headers={"Retry-After": "3"}))
    assert isinstance(error, e.RateLimited)
    assert error.retry_after == 3.0
