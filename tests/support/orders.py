"""Orders and amendments as the tests write them: the guide's chair (CHAIR) and the chair it is
swapped for (LUX), an item of any price, a reversal, and a swap of a line."""

from __future__ import annotations

from typing import Any

CHAIR = {
    "id": "175938",
    "quantity": 2,
    "gross_amount": 39800,
    "tax_lines": [{"amount": 7960, "percentage": 25}],
    "description": "Stablestol for utendørsbruk",
    "description_alias": "Stablestol",
}
LUX = {
    "id": "003929",
    "quantity": 1,
    "gross_amount": 39800,
    "tax_lines": [{"amount": 7960, "percentage": 25}],
    "description": "Stablestol for innendørsbruk",
    "description_alias": "Stablestol Lux",
}


def item(product: str, gross: int, quantity: int = 1) -> dict[str, Any]:
    """A new line of `product` at `gross` (tax 25% of it, rounded down to a fifth)."""
    return {
        "id": product,
        "quantity": quantity,
        "gross_amount": gross,
        "tax_lines": [{"amount": gross // 5, "percentage": 25}],
        "description": f"Product {product}",
    }


def rev(
    line_id: int, quantity: int | None = None, reason: str = "Replace item", **extra: Any
) -> dict[str, Any]:
    """Reverse `quantity` units of a line (None: all that remains of it)."""
    return {"line_id": line_id, "quantity": quantity, "reason": reason, **extra}


def swap(order_id: str, amendment_id: str, *add: dict[str, Any], line: int = 1) -> dict[str, Any]:
    """A line reversed in full (line 1 unless named), `add` added (LUX when none is given: an
    even swap of CHAIR's line)."""
    return {
        "order_id": order_id,
        "amendment_id": amendment_id,
        "reverse": [rev(line, reason="Swap")],
        "add": list(add) or [LUX],
    }
