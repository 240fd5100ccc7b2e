"""The benchmark runs and reports every figure (no timing is asserted: figures are for reading).
When nothing fails, an amendment makes exactly the minimum number of Dintero calls."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_reports_every_figure(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "--mode",
            "all",
            "--amendments",
            "6",
            "--concurrency",
            "3",
            "--latency-runs",
            "3",
            "--waiting",
            "5",
            "--logs",
            str(tmp_path),
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["machine"]["cores"] >= 1
    for branch, minimum in (("even", 12), ("refund", 13)):
        rows = report["throughput"][branch]
        assert rows["minimum_calls"] == minimum
        assert rows["calls_per_amendment_at_3"] == minimum
        assert set(rows["per_second_at_3"]) == {"product", "floor", "plain"}
        assert all(value > 0 for value in rows["per_second_at_3"].values())
        assert len(rows["latency_ms"]["product"]) == 3
    assert report["throughput"]["worker_peak_rss_mib"] > 0
    waiting = report["waiting"]
    assert waiting["amendments"] == 5
    assert waiting["worker_rss_mib_while_waiting"] > 0
    assert waiting["server_rss_mib_while_waiting"] > 0
