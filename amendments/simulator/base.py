"""What every part of the simulator shares: its error (Dintero's envelope), strict request
bodies, and the time stamps it writes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class SimError(Exception):
    def __init__(
        self, status: int, code: str, message: str, errors: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors or []

    def envelope(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "errors": self.errors}}


def now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def parse(model: type[M], body: Any) -> M:
    """Validate a request body, or raise a 400 naming every bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors(include_url=False)
        ]
        summary = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors[:5])
        raise SimError(400, "BAD_REQUEST", f"invalid request body: {summary}", errors) from None


def bad(message: str, field_name: str, code: str = "BAD_REQUEST") -> SimError:
    return SimError(400, code, message, [{"field": field_name, "message": message}])
