"""The domain's errors: a refused amendment (naming field and reason), an amendment found half
applied, and a ledger breach. They say what is wrong; the failure vocabulary
(`amendments/failures.py`) says under which name it is published and what the operator does
next."""

from __future__ import annotations

import re
from typing import Any

from pydantic import ValidationError


class AmendmentRejected(ValueError):
    """The amendment cannot be applied; nothing was written. `field` is a JSON path like
    `reverse.0.quantity`; `reason` says why in a sentence."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> AmendmentRejected:
        """The first problem pydantic found, with its field path; the rest in the reason."""
        problems = [_located(error) for error in exc.errors(include_url=False)]
        field, reason = problems[0]
        if len(problems) > 1:
            reason += " (also: " + "; ".join(f"{f}: {r}" for f, r in problems[1:4]) + ")"
        return cls(field, reason)

    def details(self) -> dict[str, Any]:
        return {"field": self.field, "reason": self.reason}


def _located(error: Any) -> tuple[str, str]:
    """Field path and reason; a model-level check phrased "<field>: <reason>" names its field."""
    path = [str(part) for part in error["loc"]]
    message = str(error["msg"]).removeprefix("Value error, ")
    head, sep, rest = message.partition(": ")
    if error["type"] == "value_error" and sep and re.fullmatch(r"[a-z_]+(\.[a-z_0-9]+)*", head):
        path.append(head)
        message = rest
    return ".".join(path) or "input", _plain(error["type"], error.get("ctx") or {}, message)


def _items(count: int) -> str:
    return f"{count} item" if count == 1 else f"{count} items"


def _plain(kind: str, ctx: dict[str, Any], message: str) -> str:
    """pydantic's reason in the words of this product's contract (a person reads it)."""
    words: dict[str, str] = {
        "missing": "is required",
        "extra_forbidden": "is not a field of this input",
        "int_type": "must be a whole number (amounts are integers in minor units)",
        "int_parsing": "must be a whole number (amounts are integers in minor units)",
        "int_from_float": "must be a whole number (amounts are integers in minor units)",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "string_type": "must be text",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "finite_number": "must be a finite number",
        "dict_type": "must be a JSON object",
        "model_type": "must be a JSON object",
        "model_attributes_type": "must be a JSON object",
        "tuple_type": "must be a list",
        "list_type": "must be a list",
    }
    if kind in words:
        return words[kind]
    if kind == "string_too_short":
        length = int(ctx.get("min_length", 1))
        return "must not be empty" if length == 1 else f"must be at least {length} characters"
    if kind == "string_too_long":
        return f"must be at most {ctx.get('max_length')} characters"
    if kind == "string_pattern_mismatch":
        return f"has characters that are not allowed (it must match {ctx.get('pattern')})"
    if kind == "too_short":
        return f"must list at least {_items(int(ctx.get('min_length', 1)))}"
    if kind == "too_long":
        return f"may list at most {_items(int(ctx.get('max_length', 0)))}"
    bounds = {
        "greater_than": ("must be greater than", "gt"),
        "greater_than_equal": ("must be at least", "ge"),
        "less_than": ("must be less than", "lt"),
        "less_than_equal": ("must be at most", "le"),
    }
    if kind in bounds:
        phrase, key = bounds[kind]
        return f"{phrase} {ctx.get(key)}"
    if kind == "literal_error":
        return f"must be one of {ctx.get('expected')}"
    return message


class LedgerViolation(AssertionError):
    """The order's records break a money invariant; `problems` lists each one."""

    def __init__(self, order_id: str, problems: list[str]) -> None:
        super().__init__(f"order {order_id}: " + "; ".join(problems))
        self.order_id = order_id
        self.problems = problems


class AmendmentPartlyApplied(RuntimeError):
    """Some of the amendment's records are on the order, and the order does not balance: an earlier
    run stopped half way, and must be resumed (replayed), not planned again."""

    def __init__(self, amendment_id: str, order_id: str, problem: str, workflow_id: str) -> None:
        super().__init__(
            f"amendment {amendment_id} is partly applied on order {order_id} ({problem})"
        )
        self.workflow_id = workflow_id  # the run to resume
