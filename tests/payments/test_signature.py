"""`Dintero-Signature` as Dintero computes it, held to vectors the product's code did not make:
the one Dintero publishes (docs.dintero.com, `POST /v1/admin/signature`: secret `123`, time
1582236537, account `P00000000`, `GET https://example.com/callback?B=123&A=992`), and others
computed here with `hmac` directly from the documented recipe (sorted query, spaces as `+`,
hostname without port)."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from amendments.payments.checkout import signature

PUBLISHED = "6bed2ab1b919d460ef7465a20dc6c97260dca73fab6647106ca525f0908df64a"


def by_hand(secret: str, text: str) -> str:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_dintero_s_published_vector() -> None:
    header = signature.sign(
        "123", 1582236537, "P00000000", "GET", "https://example.com/callback",
        [("B", "123"), ("A", "992")],
    )  # fmt: skip
    assert header == f"t=1582236537,v0-hmac-sha256={PUBLISHED}"
    signature.verify(
        header,
        secret="123",
        account_id="P00000000",
        method="GET",
        url="https://example.com/callback",
        params=[("B", "123"), ("A", "992")],
        now=1582236537 + 299,
    )


def test_the_query_is_sorted_stably_and_encoded_as_url_search_params_are() -> None:
    params = [
        ("time", "2026-12-03T10:00:00.5Z"),
        ("merchant_reference", "shop-K3X9/ticket 4711/1"),
        ("b", "2"),
        ("b", "1"),  # a repeated name keeps its order
        ("session_id", "T12345678.abc~def*x"),
    ]
    text = (
        "1764756000\nT12345678\nPOST\nshop.example\n/amend/callbacks/dintero\n"
        "b=2&b=1&merchant_reference=shop-K3X9%2Fticket+4711%2F1"
        "&session_id=T12345678.abc%7Edef*x&time=2026-12-03T10%3A00%3A00.5Z"
    )
    header = signature.sign(
        "s3cret", 1764756000, "T12345678", "post",
        "https://shop.example:8443/amend/callbacks/dintero?ignored=1", params,
    )  # fmt: skip
    assert header == f"t=1764756000,v0-hmac-sha256={by_hand('s3cret', text)}"


@pytest.mark.parametrize(
    ("header", "now", "why"),
    [
        (None, 1000, "missing"),
        ("v0-hmac-sha256=" + "0" * 64, 1000, "not t=<seconds>"),
        ("t=1000,v0-hmac-sha256=" + "0" * 64, 1000, "does not match"),
        (f"t=1000,v0-hmac-sha256={PUBLISHED}", 1000 + 301, "from now"),
        (f"t=1000,v0-hmac-sha256={PUBLISHED}", 1000 - 301, "from now"),
    ],
)
def test_refusals_say_why(header: str | None, now: float, why: str) -> None:
    with pytest.raises(signature.SignatureRefused, match=why):
        signature.verify(
            header,
            secret="123",
            account_id="P00000000",
            method="GET",
            url="https://example.com/callback",
            params=[("A", "992"), ("B", "123")],
            now=now,
        )
