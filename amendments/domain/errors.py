"""The domain's errors: a refused amendment (naming field and reason) and a ledger breach."""

from __future__ import annotations

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
        errors = exc.errors(include_url=False)
        first = errors[0]
        field = ".".join(str(part) for part in first["loc"]) or "input"
        reason = _clean(first["msg"])
        if len(errors) > 1:
            others = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'input'}: {_clean(e['msg'])}"
                for e in errors[1:4]
            )
            reason += f" (also: {others})"
        return cls(field, reason)

    def details(self) -> dict[str, Any]:
        return {"field": self.field, "reason": self.reason}


def _clean(message: str) -> str:
    return message.removeprefix("Value error, ")


class LedgerViolation(AssertionError):
    """The order's records break a money invariant; `problems` lists each one."""

    def __init__(self, order_id: str, problems: list[str]) -> None:
        super().__init__(f"order {order_id}: " + "; ".join(problems))
        self.order_id = order_id
        self.problems = problems
