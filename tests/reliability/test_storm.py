"""The fault storm: hundreds of amendments of every branch at once while the simulator injects
faults of every mode on over 20% of reads and writes. Every amendment completes, each planned
record exists exactly once, every ledger is exact; the extra calls are reported.

Larger by hand (with no time limit): pytest tests/reliability/test_storm.py --storm-size 2000
--storm-seed 7 --timeout 0 -s
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from temporalio.client import WorkflowHandle

from amendments.api.starter import send_authorization_outcome, start_amendment
from amendments.simulator import FaultRule
from tests.support.harness import Harness
from tests.support.paths import ARTIFACTS
from tests.support.reliability import bounded, cases, problems_with

# First match wins; together they hit about a quarter of all requests. The client's timeout in
# the harness is 2 s, so 2.5 s of latency is a timeout (and the write may still land).
STORM = [
    FaultRule(method="POST", path="*", status=502, mode="ambiguous", probability=0.06),
    FaultRule(method="PUT", path="*", status=502, mode="ambiguous", probability=0.06),
    FaultRule(method="GET", path="*", status=503, probability=0.05),
    FaultRule(path="*", mode="drop", probability=0.04),
    FaultRule(path="*", status=503, probability=0.06),
    FaultRule(path="*", status=429, retry_after=1, probability=0.05),
    FaultRule(path="*", latency_ms=2500, probability=0.02),
    FaultRule(path="*", status=500, probability=0.03),
]


@pytest.mark.timeout(1200)  # 200 amendments: about 2 minutes on a quiet machine, 4 on a busy one
async def test_fault_storm(harness: Harness, request: pytest.FixtureRequest) -> None:
    size = int(request.config.getoption("--storm-size"))
    seed = int(request.config.getoption("--storm-seed"))
    storm = cases(size)
    order_ids = await bounded(
        (harness.place(*c.items, capture=c.captured) for c in storm), limit=40
    )

    sim = harness.sim
    sim.reseed(seed)
    sim.add_faults([rule.model_copy() for rule in STORM])
    mark = harness.mark()
    began = time.monotonic()

    async def start(index: int) -> WorkflowHandle[Any, Any]:
        c, order_id = storm[index], order_ids[index]
        handle = await start_amendment(
            harness.client, c.request(order_id, f"storm-{index}"), task_queue=harness.task_queue
        )
        for payment_id, amount, success in c.outcomes:
            await send_authorization_outcome(
                harness.client,
                order_id,
                {"payment_id": payment_id, "amount": amount, "success": success},
            )
        return handle

    # Every amendment runs at once on the server; the driver waits on at most 200 results at a
    # time (each wait is a long poll, and the server caps those per namespace).
    handles = await bounded((start(i) for i in range(size)), limit=200)
    await bounded((handle.result() for handle in handles), limit=200)
    elapsed = time.monotonic() - began
    sim.faults.clear()

    problems = [
        p for i, c in enumerate(storm) for p in problems_with(sim, order_ids[i], f"storm-{i}", c)
    ]
    assert problems == []

    log = [r for r in sim.requests[mark:] if not str(r["path"]).endswith("/auth/token")]
    writes = [r for r in log if r["method"] in ("POST", "PUT")]
    reads = [r for r in log if r["method"] == "GET"]
    faulted_writes = sum(1 for r in writes if r.get("fault"))
    faulted_reads = sum(1 for r in reads if r.get("fault"))
    minimum = sum(c.minimum_calls for c in storm)
    modes = Counter(str(r.get("fault")) for r in log if r.get("fault"))
    report = {
        "amendments": size,
        "seed": seed,
        "branches": dict(Counter(c.kind for c in storm)),
        "seconds": round(elapsed, 1),
        "dintero_calls": len(log),
        "minimum_calls": minimum,
        "extra_calls": len(log) - minimum,
        "extra_calls_per_amendment": round((len(log) - minimum) / size, 2),
        "faulted_writes": f"{faulted_writes}/{len(writes)} ({faulted_writes / len(writes):.0%})",
        "faulted_reads": f"{faulted_reads}/{len(reads)} ({faulted_reads / len(reads):.0%})",
        "faults_by_mode": dict(modes),
        "statuses": dict(Counter(str(r["status"]) for r in log)),
    }
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"storm-{size}.json").write_text(json.dumps(report, indent=2))
    print("\nfault storm:", json.dumps(report, indent=2))
    assert faulted_writes / len(writes) >= 0.20
    assert faulted_reads / len(reads) >= 0.20
    assert set(modes) == {"ambiguous", "drop", "respond", "latency"}
