"""Dintero's callback signature (`Dintero-Signature`), computed and checked in one place.

Once a merchant has created a signature secret (`POST /v1/admin/signature`), Dintero signs each
callback: `Dintero-Signature: t=<unix seconds>,v0-hmac-sha256=<hex>`, an HMAC-SHA256 with the
secret over

    <t>\\n<account id>\\n<METHOD>\\n<hostname, no port>\\n<path>\\n<query>

where the query is the URL's parameters sorted by name (stably: repeated names keep their
order) and encoded as the web's `URLSearchParams` encodes them (spaces as `+`). The body is not
signed. Dintero recommends refusing a timestamp more than five minutes from now, either way
(docs.dintero.com, "Validating callbacks", with a published test vector that
`tests/payments/test_signature.py` reproduces).

The receiver (`amendments/payments/checkout/receiver.py`) verifies with `verify`; the simulator
signs its callbacks with `sign`. Comparison is in constant time; the secret is never part of a
message.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from urllib.parse import quote_plus, urlsplit

TOLERANCE_SECONDS = 300
HEADER = "Dintero-Signature"
_HEADER = re.compile(r"^t=(?P<t>\d{1,12}),v0-hmac-sha256=(?P<sig>[0-9a-fA-F]{64})$")


def _form_encode(value: str) -> str:
    """As `URLSearchParams` serializes: letters, digits and `*-._` kept, a space as `+`,
    everything else percent-encoded (`~` too, which Python keeps)."""
    return quote_plus(value, safe="*").replace("~", "%7E")


def canonical_query(params: Iterable[tuple[str, str]]) -> str:
    ordered = sorted(params, key=lambda pair: pair[0])  # sorted() is stable
    return "&".join(f"{_form_encode(k)}={_form_encode(v)}" for k, v in ordered)


def payload(
    timestamp: int, account_id: str, method: str, url: str, params: Iterable[tuple[str, str]]
) -> str:
    """The signed text for a callback to `url` (its hostname and path) with `params`."""
    parts = urlsplit(url)
    return "\n".join(
        (
            str(timestamp),
            account_id,
            method.upper(),
            parts.hostname or "",
            parts.path or "/",
            canonical_query(params),
        )
    )


def digest(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def sign(
    secret: str,
    timestamp: int,
    account_id: str,
    method: str,
    url: str,
    params: Iterable[tuple[str, str]],
) -> str:
    """The header value Dintero sends."""
    text = payload(timestamp, account_id, method, url, params)
    return f"t={timestamp},v0-hmac-sha256={digest(secret, text)}"


class SignatureRefused(ValueError):
    """Why a callback's signature is not accepted (never the secret or the expected value)."""


def verify(
    header: str | None,
    *,
    secret: str,
    account_id: str,
    method: str,
    url: str,
    params: Iterable[tuple[str, str]],
    now: float,
    tolerance: float = TOLERANCE_SECONDS,
) -> None:
    """Accept the header, or raise `SignatureRefused` saying why: missing, malformed, stale (more
    than `tolerance` seconds from `now`, either way) or not matching."""
    if not header:
        raise SignatureRefused(f"the {HEADER} header is missing")
    match = _HEADER.fullmatch(header.strip())
    if match is None:
        raise SignatureRefused(f"the {HEADER} header is not t=<seconds>,v0-hmac-sha256=<hex>")
    timestamp = int(match["t"])
    if abs(now - timestamp) > tolerance:
        raise SignatureRefused(
            f"the signature's time is {int(now - timestamp)} s from now (at most {tolerance:g})"
        )
    expected = digest(secret, payload(timestamp, account_id, method, url, params))
    if not hmac.compare_digest(expected, match["sig"].lower()):
        raise SignatureRefused("the signature does not match")
