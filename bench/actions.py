"""Temporal Cloud Actions per run, counted from a real workflow history.

    python -m bench.actions tests/histories/even.json tests/histories/top_up.json ...

By the published rules (docs.temporal.io/cloud/actions): a workflow start; each activity
scheduled, and each of its retries; each search-attribute upsert (those given at start are
free); each timer, including the one behind a wait with a timeout; each signal; each update;
local activities once per workflow task that ran them. Queries are Actions too but leave no
trace in a history: they are not counted here. The cost is at the list price of the first tier,
$50 per million Actions.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHistory

DOLLARS_PER_MILLION = 50.0
KINDS = (
    "start",
    "activities",
    "retries",
    "search attributes",
    "timers",
    "signals",
    "updates",
    "local activities",
)
_SIMPLE = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED: "start",
    EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED: "activities",
    EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES: "search attributes",
    EventType.EVENT_TYPE_TIMER_STARTED: "timers",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED: "signals",
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: "updates",
}


def actions(events: Iterable[HistoryEvent]) -> Counter[str]:
    """The billable Actions of one run, by kind."""
    counted: Counter[str] = Counter(dict.fromkeys(KINDS, 0))
    local_tasks: set[int] = set()
    for event in events:
        kind = _SIMPLE.get(event.event_type)
        if kind is not None:
            counted[kind] += 1
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            counted["retries"] += event.activity_task_started_event_attributes.attempt - 1
        elif event.event_type == EventType.EVENT_TYPE_MARKER_RECORDED:
            marker = event.marker_recorded_event_attributes
            if marker.marker_name == "core_local_activity":
                local_tasks.add(marker.workflow_task_completed_event_id)
    counted["local activities"] = len(local_tasks)
    return counted


def dollars_per_thousand(total: int) -> float:
    """What 1,000 runs of `total` Actions each cost at the list price."""
    return total * 1000 * DOLLARS_PER_MILLION / 1_000_000


def load(path: Path) -> WorkflowHistory:
    """A history as `tests/support/record_histories.py` stores it, or as `temporal workflow show
    --output json` prints it."""
    document = json.loads(path.read_text())
    if "history" in document:
        return WorkflowHistory.from_json(
            document.get("workflow_id", path.stem), document["history"]
        )
    return WorkflowHistory.from_json(path.stem, document)


def table(rows: Sequence[tuple[str, Counter[str]]]) -> str:
    """Plain text: one row per run, a column per kind, the total and the cost of 1,000."""
    header = ["run", *KINDS, "total", "$ per 1,000"]
    lines = [header]
    for name, counted in rows:
        total = sum(counted.values())
        lines.append(
            [
                name,
                *(str(counted[k]) for k in KINDS),
                str(total),
                f"{dollars_per_thousand(total):.2f}",
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.actions", description=__doc__)
    parser.add_argument("histories", nargs="+", type=Path)
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    args = parser.parse_args(argv)
    rows = [(path.stem, actions(load(path).events)) for path in args.histories]
    if args.json:
        document = {name: {**counted, "total": sum(counted.values())} for name, counted in rows}
        sys.stdout.write(json.dumps(document, indent=2) + "\n")
    else:
        sys.stdout.write(table(rows) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
