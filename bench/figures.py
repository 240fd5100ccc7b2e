"""The benchmark's figures as typed records: what `throughput` measures, what `report` prints,
and the JSON that `--json` writes (its keys unchanged: `per_second_at_50`, `minimum_calls`...).

Pure data: no measuring and no printing here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Figures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Trio(Figures):
    """One figure for the product, the naive peer (the same calls without the product's
    guarantees), the Temporal floor and the plain script."""

    product: float
    naive: float
    floor: float
    plain: float


class Latency(Figures):
    """p50, p95 and p99 in ms, for each of the four."""

    product: tuple[float, float, float]
    naive: tuple[float, float, float]
    floor: tuple[float, float, float]
    plain: tuple[float, float, float]


class History(Figures):
    events: int
    kib: float


class AtConcurrency(Figures):
    concurrency: int
    per_second: Trio
    cpu_ms_per_amendment: dict[str, dict[str, float]]  # product/floor/plain -> process -> ms
    calls_per_amendment: float


class BranchFigures(Figures):
    history: dict[str, History]  # product, naive, floor
    actions: dict[str, int]  # Temporal Cloud Actions per run: product, naive, floor
    latency_ms: Latency
    runs: tuple[AtConcurrency, ...]
    minimum_calls: int
    # Every single amendment's latency in ms (product, naive, floor, plain): the plots' raw
    # data; the JSON keeps the percentiles only.
    latency_samples_ms: dict[str, tuple[float, ...]] = {}

    def as_json(self) -> dict[str, Any]:
        rows: dict[str, Any] = {
            "history": {name: h.model_dump() for name, h in self.history.items()},
            "actions": dict(self.actions),
            "latency_ms": self.latency_ms.model_dump(),
        }
        for run in self.runs:
            rows[f"per_second_at_{run.concurrency}"] = run.per_second.model_dump()
            rows[f"cpu_ms_per_amendment_at_{run.concurrency}"] = run.cpu_ms_per_amendment
            rows[f"calls_per_amendment_at_{run.concurrency}"] = run.calls_per_amendment
        rows["minimum_calls"] = self.minimum_calls
        return rows


class Throughput(Figures):
    branches: dict[str, BranchFigures]
    worker_peak_rss_mib: float
    floor_worker_peak_rss_mib: float

    def as_json(self) -> dict[str, Any]:
        return {
            **{name: figures.as_json() for name, figures in self.branches.items()},
            "worker_peak_rss_mib": self.worker_peak_rss_mib,
            "floor_worker_peak_rss_mib": self.floor_worker_peak_rss_mib,
        }
