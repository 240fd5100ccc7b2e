"""Faults the simulator injects on request, as Dintero's outages look from a client: an error
status, latency, a 429 with `Retry-After`, a connection dropped (before or after the write
lands), an "ambiguous" failure (the write lands, the answer is a 5xx), and Checkout operations
answered 202 and completed later (or never).

`Faults` keeps the rules in the order they were added; the first that matches a request fires.
A rule may let a number of matching requests through first (`after`), fire a number of times
(`times`) or at random (`probability`, reproducible with `reseed`).
"""

from __future__ import annotations

import fnmatch
import random
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import JSONResponse, Response

from amendments.simulator.base import SimError


class ConnectionDropped(httpx.RemoteProtocolError):
    """Raised by the app to drop a connection: uvicorn closes the socket, and an in-process
    `httpx.ASGITransport` hands the client the same transport error a real drop would."""


class FaultRule(BaseModel):
    """One fault: which requests it hits, how often, and what it does to them."""

    model_config = ConfigDict(extra="forbid")

    method: str = "*"
    path: str = "*"
    status: int | None = Field(default=None, ge=400, le=599)
    times: int | None = Field(default=None, ge=1)
    after: int = Field(default=0, ge=0)  # let this many matching requests through first
    probability: float | None = Field(default=None, gt=0, le=1)
    latency_ms: int = Field(default=0, ge=0, le=600_000)
    retry_after: int | None = Field(default=None, ge=0)
    mode: Literal["respond", "ambiguous", "drop"] = "respond"
    apply: bool = True  # drop mode only: whether the write lands before the connection drops

    @model_validator(mode="after")
    def _check(self) -> FaultRule:
        if self.times is not None and self.probability is not None:
            raise ValueError("give times or probability, not both")
        if self.mode == "respond" and self.status is None and self.latency_ms == 0:
            raise ValueError("a respond rule needs a status or a latency_ms")
        return self

    def matches(self, method: str, path: str) -> bool:
        return fnmatch.fnmatchcase(method.upper(), self.method.upper()) and fnmatch.fnmatchcase(
            path, self.path
        )


class AcceptRule(BaseModel):
    """Capture, refund or void answered 202 (accepted), completing `complete_ms` later as a
    success or a failure, or never; `times` such answers (none: until cleared)."""

    model_config = ConfigDict(extra="forbid")

    action: Literal["capture", "refund", "void", "*"] = "*"
    times: int | None = Field(default=None, ge=1)
    complete_ms: int = Field(default=200, ge=0, le=600_000)
    outcome: Literal["success", "failure", "never"] = "success"


@dataclass
class Fired:
    rule: FaultRule
    latency: float = 0.0


class Faults:
    """The fault rules in force, and the Checkout operations to answer 202."""

    def __init__(self, seed: int | None = None) -> None:
        self.rules: list[FaultRule] = []
        self.accepting: list[AcceptRule] = []
        self._random = random.Random(seed)

    def add(self, rules: list[FaultRule]) -> None:
        self.rules.extend(rules)

    def clear(self) -> None:
        self.rules.clear()

    def reset(self) -> None:
        self.rules.clear()
        self.accepting.clear()

    def reseed(self, seed: int) -> None:
        """Make fault odds reproducible from here on."""
        self._random = random.Random(seed)

    def fire(self, method: str, path: str) -> Fired | None:
        """The first rule that fires for this request, counting it down."""
        for rule in list(self.rules):
            if not rule.matches(method, path):
                continue
            if rule.after > 0:
                rule.after -= 1
                continue
            if rule.probability is not None and self._random.random() >= rule.probability:
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self.rules.remove(rule)
            return Fired(rule=rule, latency=rule.latency_ms / 1000)
        return None

    def accept(self, action: str) -> AcceptRule | None:
        """The rule that answers this Checkout operation 202, counting it down."""
        for rule in list(self.accepting):
            if rule.action not in (action, "*"):
                continue
            if rule.times is not None:
                rule.times -= 1
                if rule.times == 0:
                    self.accepting.remove(rule)
            return rule
        return None


def answer(
    entry: dict[str, Any], body: Any, status: int, headers: dict[str, str] | None = None
) -> Response:
    """An answer, noted in the request log's entry."""
    entry["status"] = status
    return JSONResponse(body, status_code=status, headers=headers)


def fault_response(entry: dict[str, Any], rule: FaultRule) -> Response:
    """What a rule answers: its status in Dintero's envelope, with `Retry-After` if it has one."""
    status = rule.status or 500
    message = {
        429: "Too many requests",
        503: "Service temporarily unavailable",
    }.get(status, "Injected failure")
    headers = {"Retry-After": str(rule.retry_after)} if rule.retry_after is not None else None
    envelope = SimError(status, "SIMULATED_FAULT", message).envelope()
    return answer(entry, envelope, status, headers)
