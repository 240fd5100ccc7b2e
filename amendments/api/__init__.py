"""The backend API: what a service calls to start amendments, place orders, send top-up
outcomes, revert, read state (`starter`), dry-run a plan (`planning`), list amendments
(`listing`) and replay failed ones (`replay`). The `amend` CLI goes through the same functions,
so a backend and an operator get the same answers.

A backend needs only this package's face:

    from amendments.api import Settings, connect, start_amendment
"""

from amendments.api.listing import list_amendments
from amendments.api.replay import NotReplayable, Replayed, replay_amendment
from amendments.api.starter import (
    AmendmentInProgress,
    AmendmentNeedsReplay,
    OutcomeRefused,
    Started,
    get_state,
    place_order,
    revert_amendment,
    send_authorization_outcome,
    start_amendment,
    start_or_resume,
)
from amendments.config import Settings
from amendments.temporal.connection import connect
from amendments.temporal.process import exit_now

__all__ = [
    "AmendmentInProgress",
    "AmendmentNeedsReplay",
    "NotReplayable",
    "OutcomeRefused",
    "Replayed",
    "Settings",
    "Started",
    "connect",
    "exit_now",
    "get_state",
    "list_amendments",
    "place_order",
    "replay_amendment",
    "revert_amendment",
    "send_authorization_outcome",
    "start_amendment",
    "start_or_resume",
]
