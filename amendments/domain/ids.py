"""Every id, marker and name the product writes somewhere and later looks for, built and parsed
here and nowhere else: a drift between the place that writes an id and the place that looks for
it would let a retried write land twice, or an operator's search miss.

- the contract's names: workflow types, signals, updates, the query, memo keys, patch ids;
- the workflow id of an order's amendment, `amend-{order_id}` (one amendment per order at a time),
  `amend-{account_id}-{order_id}` when the input names a Dintero account (two merchants may
  have the same order id), and of an order being placed;
- the amendment's marker, a short hash of workflow id and amendment id (never the run id, which a
  reset changes), from which every `authorization_id` of its records derives (at most 40
  characters, Dintero's limit);
- the step names of its records and the `metadata` every payment record carries, `{"amendment_id",
  "step"}`, by which a retried write finds itself among the order's records (`Group` names a
  group of records under one authorization id: its step and its tag);
- the steps an amendment shows as it goes (`planning`, `top-up`, `verify`...);
- the references of Checkout writes, `{workflow id}/{amendment id}/{step}`, which a retried
  capture, refund or void finds among the transaction's events;
- the merchant reference of a payment session, `{workflow id}/{amendment id}/{n}`, by which the
  callback receiver finds the amendment a payment is for;
- the ids `amend conformance` gives what it creates, so that it only ever touches its own.

Pure functions and constants, no I/O: the workflows, the activities, the receiver, the CLI and
the tests share them. Order ids are letters and digits and amendment ids `[A-Za-z0-9._:-]`, so `/`
separates safely.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

# --- the contract's names (design: "Contracts that other code relies on") -------------------

AMEND_ORDER = "AmendOrder"  # workflow type
PLACE_ORDER = "PlaceOrder"  # workflow type
OUTCOME = "authorization_outcome"  # signal and update
REVERT = "revert"  # update
SESSION_ENDED = "payment_session_ended"  # signal (PAYMENTS=dintero-checkout: a session given up)
STATE = "state"  # query
# Memo keys the starter sets (free at start): the search attributes it gave, and that the two
# reads may run as local activities (`workflows/amend.py` says why they are memos, not patches).
ATTRIBUTES_AT_START = "search_attributes_at_start"
LOCAL_READS = "local_reads"
# `workflow.patched` ids: runs that started before a change keep their old path when replayed.
REVERT_ON_TIMEOUT = "revert-on-top-up-timeout"

DEMO_ACCOUNT_ID = "T12345678"  # the account the local stack, the demo and the simulator use

# --- workflow ids -------------------------------------------------------------------------

WORKFLOW_PREFIX = "amend-"
PLACE_PREFIX = "place-"
MAX_AUTHORIZATION_ID = 40  # Dintero's limit on `authorization_id`


ACCOUNT_ID = re.compile(r"^[PT]\d{8}$")  # Dintero's account ids: T (test) or P, and 8 digits
_QUALIFIED = re.compile(r"^(?P<account>[PT]\d{8})-(?P<order>.+)$")


def workflow_id(order_id: str, account_id: str | None = None) -> str:
    """`amend-K3X9QZ1AB`: the workflow of an order's amendment; `amend-T22222222-K3X9QZ1AB`
    when the amendment names its Dintero account."""
    if account_id is None:
        return f"{WORKFLOW_PREFIX}{order_id}"
    return f"{WORKFLOW_PREFIX}{account_id}-{order_id}"


def order_id_of(workflow_id_or_order: str) -> str:
    """The order id in `amend-{order_id}` or `amend-{account_id}-{order_id}`, or the argument
    itself when it names the order."""
    return account_and_order(workflow_id_or_order)[1]


def account_and_order(workflow_id_or_order: str) -> tuple[str | None, str]:
    """The account (None: the deployment's default) and the order an amendment's workflow id
    names; an order id on its own is itself."""
    if not workflow_id_or_order.startswith(WORKFLOW_PREFIX):
        return None, workflow_id_or_order
    rest = workflow_id_or_order.removeprefix(WORKFLOW_PREFIX)
    qualified = _QUALIFIED.fullmatch(rest)
    if qualified is None:
        return None, rest
    return qualified["account"], qualified["order"]


def is_amendment_workflow(workflow_id_: str) -> bool:
    return workflow_id_.startswith(WORKFLOW_PREFIX) and len(workflow_id_) > len(WORKFLOW_PREFIX)


def reset_request_id(workflow_id_: str, run_id: str) -> str:
    """The request id of a replay (a reset) of one failed run: the same for every attempt, so
    that Temporal takes a repeated reset of that run (a retry, a second `amend replay --failed`
    racing the first) as the one it already made."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"reset/{workflow_id_}/{run_id}"))


def place_workflow_id(account_id: str | None = None) -> str:
    """`place-{uuid}`, `place-{account_id}-{uuid}`: the workflow of an order being placed (its
    order id is Dintero's)."""
    account = f"{account_id}-" if account_id is not None else ""
    return f"{PLACE_PREFIX}{account}{uuid.uuid4()}"


# --- markers ------------------------------------------------------------------------------


def marker(order_id: str, amendment_id: str) -> str:
    """A short deterministic key of one amendment: `am` and 16 hex digits of a SHA-256 of its
    workflow id and amendment id."""
    digest = hashlib.sha256(f"{workflow_id(order_id)}/{amendment_id}".encode()).hexdigest()
    return f"am{digest[:16]}"


def authorization_id(marker_: str, tag: str) -> str:
    """`{marker}-{tag}`: the authorization id of one group of an amendment's records (`rev`,
    `cov2`, `t3`, `vr`...); unique per order, since the marker is the amendment's."""
    built = f"{marker_}-{tag}"
    if len(built) > MAX_AUTHORIZATION_ID:
        raise ValueError(f"authorization_id {built!r} is longer than {MAX_AUTHORIZATION_ID}")
    return built


def record_metadata(amendment_id: str, step: str) -> dict[str, str]:
    """What every payment record of an amendment carries."""
    return {"amendment_id": amendment_id, "step": step}


def step_of(metadata: Mapping[str, str], amendment_id: str) -> str | None:
    """The step of a record written by this amendment, or None when it is not one of its."""
    if metadata.get("amendment_id") != amendment_id:
        return None
    return metadata.get("step")


# --- the step names of an amendment's records ----------------------------------------------

REVERT_STEP_PREFIX = "revert-"
RecordKind = Literal["authorization", "capture", "refund", "cancellation"]
Settling = Literal["refund", "release"]


@dataclass(frozen=True)
class Group:
    """A group of records under one authorization id: `step` names its records
    (`{step}-{kind}`), `tag` ends its authorization id."""

    step: str
    tag: str

    def record(self, kind: RecordKind) -> str:
        """`reversal-authorization`, `covered-2-capture`, `top-up-1-capture`..."""
        return f"{self.step}-{kind}"

    def authorization_id(self, marker_: str) -> str:
        return authorization_id(marker_, self.tag)


def _numbered(name: str, number: int, count: int) -> str:
    return name if count == 1 else f"{name}-{number}"


def _tagged(tag: str, number: int, count: int) -> str:
    return tag if count == 1 else f"{tag}{number}"


def reversal_group(number: int, count: int) -> Group:
    """The money a reversal takes back from the `number`-th of `count` payments."""
    return Group(_numbered("reversal", number, count), _tagged("rev", number, count))


def covered_group(number: int, count: int) -> Group:
    """The money moved onto the new lines and the settling lines, per payment."""
    return Group(_numbered("covered", number, count), _tagged("cov", number, count))


# An amendment of one payment's money: its reversal's group and its covering group.
REVERSAL = reversal_group(1, 1)
COVERED = covered_group(1, 1)


def settling_step(role: Settling, number: int, count: int) -> str:
    """The refund (`refund`, `refund-2`) or the cancellation of a release line (`release`...)."""
    return _numbered(role, number, count)


def top_up_group(number: int) -> Group:
    """The `number`-th top-up part: `top-up-1-authorization`, `top-up-1-capture`."""
    return Group(f"top-up-{number}", f"t{number}")


def place_step(kind: RecordKind) -> str:
    """A placed order's records: `place-authorization`, `place-capture`."""
    return f"{PLACE_PREFIX}{kind}"


def revert_reversal_group(number: int) -> Group:
    """A revert taking back one payment's money from the amendment's new lines."""
    return Group(f"{REVERT_STEP_PREFIX}reversal-{number}", f"v{number}")


def revert_restore_group(number: int, count: int) -> Group:
    """A revert putting back what the amendment took from one payment."""
    return Group(
        _numbered(f"{REVERT_STEP_PREFIX}restore", number, count),
        _tagged("vr", number, count),
    )


def revert_settling_group(role: Settling, number: int) -> Group:
    """A revert giving back one top-up payment: its line's records, then (`settled_step`) the
    refund or the cancellation."""
    tag = "vf" if role == "refund" else "vl"
    return Group(f"{REVERT_STEP_PREFIX}{role}-{number}", f"{tag}{number}")


def settled_step(group: Group, role: Settling) -> str:
    """`revert-refund-1-refund`, `revert-release-1-release`."""
    return f"{group.step}-{role}"


def revert_void_step(payment_id: str) -> str:
    """A payment taken while the amendment was being reverted, voided."""
    return f"{REVERT_STEP_PREFIX}void-{payment_id}"


def is_revert_step(step: str) -> bool:
    return step.startswith(REVERT_STEP_PREFIX)


# --- the steps an amendment shows as it goes (the `state` query, the UI, the logs) ---------

PLANNING = "planning"
DRAFT = "draft"
COMPLETE = "complete"
TOP_UP = "top-up"
TOP_UP_SESSION = "top-up-session"
VERIFY = "verify"
DONE = "done"
REVERT_DRAFT = f"{REVERT_STEP_PREFIX}{DRAFT}"
REVERT_VOID = f"{REVERT_STEP_PREFIX}void"


def draft_step(revert: bool, completing: bool) -> str:
    """`draft`, `complete`, `revert-draft`, `revert-complete`."""
    step = COMPLETE if completing else DRAFT
    return f"{REVERT_STEP_PREFIX}{step}" if revert else step


def checkout_step(step: str) -> str:
    """Money moved in Checkout for a record's step: `refund-checkout`,
    `top-up-1-capture-checkout`."""
    return f"{step}-checkout"


# --- Checkout references --------------------------------------------------------------------

# Where the callback receiver (`amend callbacks`) listens: each payment session names it, with
# its account (`/callbacks/dintero/T22222222`: callbacks are signed per account). Sessions made
# before accounts were named call the bare path, which is the default account's.
CALLBACK_PATH = "/callbacks/dintero"
RETURN_PATH = "/callbacks/dintero/return"


def callback_path(account_id: str) -> str:
    return f"{CALLBACK_PATH}/{account_id}"


def checkout_reference(workflow_id_: str, amendment_id: str, step: str) -> str:
    """The reference a Checkout capture, refund or void carries, and a retry looks for."""
    return f"{workflow_id_}/{amendment_id}/{step}"


def merchant_reference(workflow_id_: str, amendment_id: str, number: int) -> str:
    """`amend-K3X9QZ1AB/swap-1/2`: the amendment's `number`-th payment session."""
    return f"{workflow_id_}/{amendment_id}/{number}"


def parse_merchant_reference(reference: str) -> tuple[str, str, int] | None:
    """The workflow id, amendment id and session number of one of our sessions, or None."""
    parts = reference.split("/")
    if len(parts) != 3 or not is_amendment_workflow(parts[0]) or not parts[2].isdigit():
        return None
    return parts[0], parts[1], int(parts[2])


# --- what `amend conformance` creates ------------------------------------------------------

CONFORMANCE_PREFIX = "conformance-"


def conformance_run() -> str:
    """A conformance run's id: ten hex digits."""
    return uuid.uuid4().hex[:10]


def conformance_product(line_id: int | str) -> str:
    """The product id of a probe's line (`conformance-1`), or another id it makes up."""
    return f"{CONFORMANCE_PREFIX}{line_id}"


def conformance_metadata(run_id: str) -> dict[str, str]:
    return {"conformance_run": run_id}


def conformance_reference(run_id: str, suffix: str = "") -> str:
    """A reference or authorization id a probe writes: `c-{run}` or `c-{run}-{suffix}`."""
    return f"c-{run_id}" + (f"-{suffix}" if suffix else "")
