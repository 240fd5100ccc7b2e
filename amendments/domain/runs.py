"""Amendments as the operators' tools see them, run by run: listed (`amend list`: the latest run
of each, with the runs it superseded), failed (what `amend replay --failed` finds), replayed
(what it did to each), replayed against a release's code (`amend deploy check`) and the worker
versions they run on (`amend deploy status`, `promote`, `rollback`). Plain models; Temporal is
read in `amendments/api/` and `amendments/ops/deploy.py`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from amendments.domain.base import Model
from amendments.domain.models import AmendmentStatus


class ListedRun(Model):
    run_id: str
    execution_status: str
    amendment_status: str | None
    started_at: datetime
    closed_at: datetime | None = None


class ListedAmendment(Model):
    """An amendment as its latest run says, with the runs it superseded (newest first):
    Temporal's visibility read by `amendments/api/listing.py`."""

    workflow_id: str
    order_id: str | None
    amendment_id: str | None
    status: AmendmentStatus
    execution_status: str
    run_id: str
    started_at: datetime
    closed_at: datetime | None = None
    top_up_outstanding: int = 0
    superseded: tuple[ListedRun, ...] = ()
    account_id: str | None = None  # the merchant's Dintero account (search attribute)


class FailedAmendment(Model):
    """An amendment whose latest run failed, as a replay after an outage selects it."""

    workflow_id: str
    order_id: str
    run_id: str
    status: str  # how the run closed: failed, timed_out, terminated, canceled
    closed_at: datetime | None
    failure: str  # its type in the vocabulary
    step: str | None  # the step it failed at, when the workflow said
    reason: str  # what it said (or Temporal did)


class ReplayedAmendment(Model):
    workflow_id: str
    failed_run_id: str
    new_run_id: str
    failure: str
    outcome: Literal["applied", "reverted", "failed"] | None = None  # with `wait`
    error: str | None = None  # failed again: with what


class Skipped(Model):
    workflow_id: str
    why: str


class ReplayError(Model):
    workflow_id: str
    error: str


class BulkReplay(Model):
    """What a replay after an outage did: the JSON document `amend replay --failed --json`
    prints, and what `replay_failed` returns."""

    selected: int
    replayed: tuple[ReplayedAmendment, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    errors: tuple[ReplayError, ...] = ()
    stopped: bool = False  # stopped before the end: the skipped say which were not reached


# --- releases: what is in flight, replayed against new code, and where it runs ---------


class ReplayFailure(Model):
    workflow_id: str
    run_id: str
    order_id: str | None
    error: str


class CheckReport(Model):
    """`amend deploy check --json`: how many histories were replayed, and those that failed."""

    checked: int
    failed: tuple[ReplayFailure, ...] = ()


class VersionStatus(Model):
    build_id: str
    status: str  # Temporal's: current, ramping, draining, drained, inactive, created
    drainage: str | None  # Temporal's, for a version no longer current: draining or drained
    amendments: int  # running amendments whose last workflow task ran on this version
    ramp_percentage: float = 0.0

    @property
    def drained(self) -> bool:
        return self.status == "drained" or self.drainage == "drained"


class DeploymentStatus(Model):
    """`amend deploy status --json`."""

    deployment: str
    current: str | None  # build id, None: unversioned workers
    ramping: str | None
    ramp_percentage: float
    versions: tuple[VersionStatus, ...]
    unversioned_amendments: int  # running on unversioned workers


class Routed(Model):
    """What a promotion or a rollback did: the routing before and after."""

    current: str | None
    ramping: str | None
    ramp_percentage: float
    before: str | None  # the current version before
    changed: bool  # False: it was so already
