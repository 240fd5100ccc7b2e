"""The benchmark runs and reports every figure (no timing is asserted: figures are for reading).
When nothing fails, an amendment makes exactly the minimum number of Dintero calls."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent

from bench.actions import actions, dollars_per_thousand, load
from bench.figures import AtConcurrency, BranchFigures, History, Latency, Throughput, Trio
from bench.infra import Infra
from bench.report import report
from tests.support.paths import ROOT


@pytest.mark.temporal  # the benchmark starts its own dev server, simulator and workers
@pytest.mark.xdist_group("local-stack")
def test_bench_reports_every_figure(tmp_path: Path) -> None:
    result = run_module(
        "bench",
        *("--mode", "all", "--amendments", "6", "--concurrency", "3", "--latency-runs", "3"),
        *("--waiting", "5", "--logs", str(tmp_path), "--json", "--plots", str(tmp_path / "plots")),
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    for name in ("latency", "throughput", "cpu", "waiting"):
        assert_png(tmp_path / "plots" / f"{name}.png")
        assert f"plot: {tmp_path / 'plots' / name}.png" in result.stderr
    assert report["machine"]["cores"] >= 1
    assert report["command"].startswith("python -m bench --mode all")
    # stderr is not a terminal: one timestamped line per step
    assert re.search(r"^\d\d:\d\d:\d\d even: 6 amendments at concurrency 3", result.stderr, re.M)
    for branch, minimum in (("even", 12), ("refund", 13)):
        rows = report["throughput"][branch]
        assert rows["minimum_calls"] == minimum
        assert rows["calls_per_amendment_at_3"] == minimum
        assert set(rows["per_second_at_3"]) == {"product", "naive", "floor", "plain"}
        assert all(value > 0 for value in rows["per_second_at_3"].values())
        assert len(rows["latency_ms"]["product"]) == 3
        assert len(rows["latency_ms"]["naive"]) == 3
        history = rows["history"]
        # The product's two reads are local activities: fewer events than the naive peer's,
        # which schedules every call like the floor does.
        assert 0 < history["product"]["events"] < history["naive"]["events"]
        assert history["naive"]["events"] == history["floor"]["events"]
        assert history["product"]["kib"] > history["naive"]["kib"] > history["floor"]["kib"]
        # Cloud Actions from each run's real history: the start, one per activity, the upserts.
        activities = {"even": 8, "refund": 9}[branch]
        assert rows["actions"] == {
            "product": 1 + activities + 2,  # Applying, Completed (Planning was set at start)
            "naive": 1 + activities,
            "floor": 1 + activities,
        }
        cpu = rows["cpu_ms_per_amendment_at_3"]
        assert set(cpu["product"]) == {"worker", "temporal", "simulator", "driver"}
        assert set(cpu["naive"]) == {"naive", "temporal", "simulator", "driver"}
        assert set(cpu["floor"]) == {"floor", "temporal", "driver"}
        assert cpu["product"]["worker"] > 0
        assert cpu["product"]["temporal"] > 0
    assert report["throughput"]["worker_peak_rss_mib"] > 0
    waiting = report["waiting"]
    assert waiting["amendments"] == 5
    assert waiting["worker_rss_mib_while_waiting"] > 0
    assert waiting["server_rss_mib_while_waiting"] > 0
    # Not compared with the RSS while waiting: Linux updates VmHWM lazily, so it may lag VmRSS.
    assert waiting["worker_peak_rss_mib"] > 0
    assert waiting["seconds_to_complete_after_signals"] > 0
    assert waiting["per_second_until_all_waiting"] == pytest.approx(
        5 / waiting["seconds_until_all_waiting"]
    )
    # Beside throughput mode's rate, from the same run.
    rate = report["throughput"]["even"]["per_second_at_3"]["product"]
    assert waiting["throughput_mode_per_second_at_3"] == rate
    assert waiting["until_all_waiting_to_throughput_mode"] == pytest.approx(
        waiting["per_second_until_all_waiting"] / rate
    )
    for phase in ("until_all_waiting", "after_signals"):
        cpu = waiting[f"cpu_ms_per_amendment_{phase}"].split()
        assert cpu[::2] == ["worker", "temporal", "simulator", "driver"]
        assert float(cpu[1]) > 0
    # The workflow cache, read from the product worker's metrics: five amendments fit in it.
    for phase in ("until_all_waiting", "after_signals"):
        assert waiting[f"cache_evictions_{phase}"] == 0
        assert waiting[f"cache_misses_{phase}"] >= 0


@pytest.mark.temporal  # the benchmark starts its own dev server, simulator and workers
@pytest.mark.xdist_group("local-stack")
def test_sigterm_stops_the_benchmark_and_every_process_it_started(tmp_path: Path) -> None:
    """SIGTERM while 2,000 orders are being seeded, most of them still waiting their turn."""
    command = ["-m", "bench", "--mode", "waiting", "--waiting", "2000", "--logs", str(tmp_path)]
    progress = tmp_path / "progress.log"
    with progress.open("w") as stderr:
        bench = subprocess.Popen(
            [sys.executable, *command, "--json"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            start_new_session=True,  # its own process group, so a failed test leaves nothing
        )
        try:
            wait_for(lambda: "seeding 2000 orders" in _read(progress))
            started = Path(f"/proc/{bench.pid}/task/{bench.pid}/children").read_text().split()
            assert len(started) == 5  # dev server, simulator, worker, naive and floor workers
            bench.send_signal(signal.SIGTERM)
            bench.wait(timeout=60)
            alive = [pid for pid in started if Path(f"/proc/{pid}").exists()]
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(bench.pid, signal.SIGKILL)
    output = _read(progress)
    assert bench.returncode == 130, output[-2000:]
    assert "stopped" in output
    assert "never awaited" not in output  # seeding jobs still at the gate were closed
    assert alive == []  # read before the `finally` clean-up could stop them


@pytest.mark.temporal  # two stacks of its own: fair task queues on, then off
@pytest.mark.xdist_group("local-stack")
def test_the_fairness_mode_reports_the_trickle_beside_the_burst(tmp_path: Path) -> None:
    plots = tmp_path / "plots"
    result = run_module(
        "bench",
        *("--mode", "fairness", "--burst", "8", "--trickle", "3", "--every", "0.3"),
        *("--logs", str(tmp_path), "--json", "--plots", str(plots)),
        timeout=400,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    fair = json.loads(result.stdout)["fairness"]
    assert (fair["burst"], fair["trickle"], fair["every_seconds"]) == (8, 3, 0.3)
    for setting in ("on", "off"):
        row = fair[setting]
        assert len(row["trickle_alone_ms"]) == len(row["trickle_during_burst_ms"]) == 3
        # Of three, the nearest rank's p95 is the slowest.
        assert row["trickle_during_burst"]["p95_ms"] == max(row["trickle_during_burst_ms"])
        assert row["p95_during_to_alone"] == pytest.approx(
            row["trickle_during_burst"]["p95_ms"] / row["trickle_alone"]["p95_ms"]
        )
        assert row["burst_per_second"] == pytest.approx(8 / row["burst_seconds"])
    assert_png(plots / "fairness.png")
    assert not (plots / "latency.png").exists()  # only the groups the run measured
    table = io.StringIO()
    report(Console(file=table, width=200), json.loads(result.stdout))
    assert "one account's burst of 8 beside another's trickle of 3" in table.getvalue()


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n"), path
    assert len(data) > 10_000, (path, len(data))  # axes, labels and data, not an empty canvas


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def wait_for(condition: Callable[[], bool], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.temporal  # the benchmark starts its own dev server, simulator and workers
@pytest.mark.xdist_group("local-stack")
def test_http_client_benchmark_reports_cpu_per_request(tmp_path: Path) -> None:
    result = run_module("bench.http_client", "--requests", "300", "--logs", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert re.fullmatch(
        r"client CPU per request: \d+\.\d\d ms \(concurrency 50, sniffio installed\)\n",
        result.stdout,
    )


def run_module(
    module: str, *arguments: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m module arguments...` from the repository root, its output captured."""
    return subprocess.run(
        [sys.executable, "-m", module, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def figures() -> dict[str, Any]:
    """A report's input as a run produces it (the figures are made up; only their layout is
    under test)."""
    cpu = {
        "product": {"worker": 60.0, "temporal": 50.0, "simulator": 20.0, "driver": 10.0},
        "naive": {"naive": 50.0, "temporal": 45.0, "simulator": 20.0, "driver": 10.0},
        "floor": {"floor": 30.0, "temporal": 40.0, "driver": 10.0},
        "plain": {"plain": 5.0, "simulator": 20.0},
    }
    run = AtConcurrency(
        concurrency=50,
        per_second=Trio(product=13.4, naive=14.1, floor=21.0, plain=40.2),
        cpu_ms_per_amendment=cpu,
        calls_per_amendment=12.0,
    )
    branch = BranchFigures(
        history={
            "product": History(events=61, kib=38.2),
            "naive": History(events=50, kib=20.4),
            "floor": History(events=47, kib=9.1),
        },
        actions={"product": 11, "naive": 9, "floor": 9},
        latency_ms=Latency(
            product=(452.0, 610.0, 700.0),
            naive=(450.0, 600.0, 690.0),
            floor=(448.0, 590.0, 650.0),
            plain=(50.0, 60.0, 70.0),
        ),
        runs=(run,),
        minimum_calls=12,
    )
    throughput = Throughput(
        branches={"even": branch, "refund": branch},
        worker_peak_rss_mib=120.0,
        floor_worker_peak_rss_mib=80.0,
    )
    waiting = {
        "amendments": 10000,
        "seconds_to_all_waiting": 1887.2,
        "until_all_waiting_to_throughput_mode": 0.8512,
    }
    return {"machine": {"cores": 2}, "throughput": throughput, "waiting": waiting}


def test_a_report_to_a_file_is_plain_text_one_row_per_line() -> None:
    """Printed to a file or a pipe (`python -m bench > report.txt`): Markdown tables whose rows
    each stay on one line, never a cell wrapped at 80 columns (before: every cell wrapped)."""
    out = io.StringIO()
    report(Console(file=out, width=80), figures())
    lines = out.getvalue().splitlines()
    rows = [line for line in lines if line.startswith("|")]
    assert not any(ch in out.getvalue() for ch in "┃━│─┏┡")  # no box drawing
    assert {line.count("|") for line in rows} == {9, 3}  # each row of each table is whole
    per_second = next(line for line in rows if "amendments/s at 50" in line)
    cells = [cell.strip() for cell in per_second.strip("|").split("|")]
    assert cells == ["even", "amendments/s at 50", "13.4", "14.1", "21.0", "40.2", "0.95", "0.64"]
    by_process = next(line for line in rows if "by process" in line)
    assert "worker 60 temporal 50 simulator 20 driver 10" in by_process
    assert any("seconds to all waiting" in line and "1887.2" in line for line in rows)
    assert any("to throughput mode" in line and line.endswith(" 0.85 |") for line in rows)
    assert any(
        "Cloud Actions" in line and "11 (0.55)" in line and "9 (0.45)" in line for line in rows
    )


def test_a_report_on_a_terminal_fits_its_width() -> None:
    out = io.StringIO()
    report(Console(file=out, width=100, force_terminal=True, color_system=None), figures())
    lines = out.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 100
    assert any("┏" in line for line in lines)  # rich's boxes, as a terminal shows them


def test_actions_are_counted_by_temporal_clouds_rules() -> None:
    """`python -m bench.actions` on the recorded histories: each kind counted by hand here."""
    histories = ROOT / "tests" / "histories"
    even = actions(load(histories / "even.json").events)
    assert (even["start"], even["activities"], even["search attributes"]) == (1, 8, 3)
    assert sum(even.values()) == 12
    reverted = actions(load(histories / "revert_by_update.json").events)
    assert (reverted["timers"], reverted["updates"], reverted["signals"]) == (1, 1, 3)
    assert dollars_per_thousand(12) == 0.6
    printed = run_module(
        "bench.actions", str(histories / "even.json"), str(histories / "top_up.json"), "--json"
    )
    assert printed.returncode == 0, printed.stderr
    assert json.loads(printed.stdout)["even"]["total"] == 12


def test_retries_and_local_activities_count_as_cloud_counts_them() -> None:
    started = HistoryEvent(event_type=EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED)
    started.activity_task_started_event_attributes.attempt = 3  # two retries
    markers = []
    for task in (7, 7, 9):  # two local activities in one workflow task, one in another
        marker = HistoryEvent(event_type=EventType.EVENT_TYPE_MARKER_RECORDED)
        marker.marker_recorded_event_attributes.marker_name = "core_local_activity"
        marker.marker_recorded_event_attributes.workflow_task_completed_event_id = task
        markers.append(marker)
    counted = actions([started, *markers])
    assert (counted["retries"], counted["local activities"]) == (2, 2)


def test_a_relative_logs_directory_serves_every_process() -> None:
    """`--logs artifacts/bench` (the default, relative): each process runs in that directory,
    so the accounts file the worker is given must not be relative to it (it was: the fairness
    mode's worker exited on a missing accounts file)."""
    infra = Infra(Path("artifacts/bench/on"), accounts=("T22222222",))
    assert infra.accounts_file.is_absolute()
    assert infra.environment()["DINTERO_ACCOUNTS_FILE"] == str(infra.accounts_file)
