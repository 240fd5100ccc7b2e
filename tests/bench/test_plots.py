"""`--plots DIR`: a PNG per figure group the run measured, titled with its machine and command
(the figures are made up; the drawing is under test). The real run's plots: test_bench.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.plots import write_plots
from tests.bench.test_bench import assert_png, figures

pytestmark = pytest.mark.timeout(120)


def test_every_figure_group_is_drawn(tmp_path: Path) -> None:
    result = figures()
    throughput = result["throughput"]
    samples = dict.fromkeys(("product", "naive", "floor", "plain"), (400.0, 450.0, 460.0, 700.0))
    branch = throughput.branches["even"].model_copy(update={"latency_samples_ms": samples})
    result["throughput"] = throughput.model_copy(update={"branches": {"even": branch}})
    result["machine"] = {"cores": 2, "memory_gib": 23.4, "python": "3.11.2", "machine": "x86_64"}
    result["command"] = "python -m bench --mode all --plots plots"
    result["waiting"] = {
        "amendments": 10000,
        "worker_rss_mib_while_waiting": 1800.0,
        "worker_peak_rss_mib": 1900.0,
        "server_rss_mib_while_waiting": 700.0,
    }
    trickle = {"trickle_alone_ms": [250.0, 260.0], "trickle_during_burst_ms": [900.0, 5000.0]}
    result["fairness"] = {"burst": 1000, "trickle": 2, "every_seconds": 1.5,
                          "on": trickle, "off": trickle}  # fmt: skip
    written = write_plots(result, tmp_path / "plots")
    names = ("latency", "throughput", "cpu", "waiting", "fairness")
    assert written == [tmp_path / "plots" / f"{n}.png" for n in names]
    for path in written:
        assert_png(path)


def test_only_the_groups_measured_are_drawn(tmp_path: Path) -> None:
    result = {"machine": {"cores": 2, "memory_gib": 1, "python": "3.11", "machine": "x"},
              "command": "python -m bench --mode fairness"}  # fmt: skip
    assert write_plots(result, tmp_path) == []
