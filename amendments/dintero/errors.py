"""The Dintero client's one error hierarchy, and the single place that maps a response to it.

Every failure the client can raise is a `DinteroError`; callers decide what to do from two
attributes only, `retryable` and `retry_after`, never from status codes. The client retries
nothing itself: Temporal is the only retry engine, and activities translate these errors to
`ApplicationError(type=<class name>, non_retryable=not retryable, next_retry_delay=retry_after)`.

    DinteroError                       retryable
    ├── DinteroTransportError          yes   connection refused/reset/dropped, before any status
    │   └── DinteroTimeout             yes   connect/read/write/pool timeout
    ├── DinteroInvalidResponse         no    a 2xx whose body does not match the wire model
    ├── DinteroAuthError               no    the token endpoint refused the credentials
    ├── OperationPending               yes   Checkout accepted an operation (202) that has not
    │                                        completed yet
    └── DinteroHTTPError               by status
        ├── DinteroRetryableError      yes
        │   ├── RequestTimeout         408
        │   ├── Conflict               409   (documented on payment operations, cause unstated)
        │   ├── RateLimited            429   (honours Retry-After)
        │   └── ServerError            5xx
        └── DinteroClientError         no
            ├── BadRequest             400
            ├── Unauthorized           401   (after one token refresh)
            ├── Forbidden              403
            └── NotFound               404   (any other 4xx is a plain DinteroClientError)

Messages are built from the method, path and Dintero's error envelope
(`{"error": {"code", "message", "errors"}}`); they never carry credentials or tokens.
"""

from __future__ import annotations

import email.utils
import json
import time
from typing import Any, ClassVar

import httpx


class DinteroError(Exception):
    """Base of everything the Dintero client raises."""

    retryable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        errors: list[Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.errors = errors or []
        self.retry_after = retry_after

    @property
    def type_name(self) -> str:
        """The name activities use as `ApplicationError.type`."""
        return type(self).__name__


class DinteroTransportError(DinteroError):
    retryable = True


class DinteroTimeout(DinteroTransportError):
    retryable = True


class DinteroInvalidResponse(DinteroError):
    retryable = False


class DinteroAuthError(DinteroError):
    retryable = False


class OperationPending(DinteroError):
    """Checkout accepted a capture, refund or void (202) and has not completed it yet: a retry
    (Temporal's) looks at the transaction again."""

    retryable = True


class DinteroHTTPError(DinteroError):
    """An error status from the API; the subclass says whether repeating may help."""


class DinteroRetryableError(DinteroHTTPError):
    retryable = True


class RequestTimeout(DinteroRetryableError):
    pass


class Conflict(DinteroRetryableError):
    pass


class RateLimited(DinteroRetryableError):
    pass


class ServerError(DinteroRetryableError):
    pass


class DinteroClientError(DinteroHTTPError):
    retryable = False


class BadRequest(DinteroClientError):
    pass


class Unauthorized(DinteroClientError):
    pass


class Forbidden(DinteroClientError):
    pass


class NotFound(DinteroClientError):
    pass


_BY_STATUS: dict[int, type[DinteroHTTPError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    408: RequestTimeout,
    409: Conflict,
    429: RateLimited,
}


def error_class_for_status(status: int) -> type[DinteroHTTPError]:
    """The one mapping from an HTTP error status to an error class."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    if status >= 400:
        return DinteroClientError
    raise ValueError(f"status {status} is not an error status")


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date); None if absent or bad."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


def error_from_response(response: httpx.Response) -> DinteroHTTPError:
    """Build the typed error for an error response, with Dintero's envelope in the message."""
    code: str | None = None
    detail: str | None = None
    errors: list[Any] = []
    try:
        body = json.loads(response.content) if response.content else None
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        envelope = body["error"]
        code = envelope.get("code") if isinstance(envelope.get("code"), str) else None
        detail = envelope.get("message") if isinstance(envelope.get("message"), str) else None
        errors = envelope.get("errors") if isinstance(envelope.get("errors"), list) else []
    request = response.request
    where = f"{request.method} {request.url.path}"
    text = detail or response.reason_phrase or "no message"
    message = f"Dintero answered {response.status_code} to {where}: {text}"
    if code:
        message += f" ({code})"
    cls = error_class_for_status(response.status_code)
    return cls(
        message,
        status=response.status_code,
        code=code,
        errors=errors,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def error_from_transport(exc: httpx.TransportError, request: httpx.Request | None) -> DinteroError:
    """Wrap an httpx transport failure; the request may or may not have reached Dintero."""
    where = f"{request.method} {request.url.path}" if request is not None else "request"
    kind = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return DinteroTimeout(f"Dintero did not answer {where} in time ({kind})")
    return DinteroTransportError(f"no answer from Dintero to {where} ({kind})")
