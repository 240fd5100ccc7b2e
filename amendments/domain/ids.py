"""Every id the product writes somewhere and later looks for, built and parsed here and nowhere
else: a drift between the place that writes an id and the place that looks for it would let a
retried write land twice.

- the workflow id of an order's amendment, `amend-{order_id}` (one amendment per order at a time);
- the amendment's marker, a short hash of workflow id and amendment id (never the run id, which a
  reset changes), from which every `authorization_id` of its records derives (at most 40
  characters, Dintero's limit);
- the `metadata` every payment record carries, `{"amendment_id", "step"}`, by which a retried write
  finds itself among the order's records;
- the references of Checkout writes, `{workflow id}/{amendment id}/{step}`, which a retried
  capture, refund or void finds among the transaction's events;
- the merchant reference of a payment session, `{workflow id}/{amendment id}/{n}`, by which the
  callback receiver finds the amendment a payment is for.

Pure functions, no I/O: the workflows, the activities, the receiver and the CLI share them. Order
ids are letters and digits and amendment ids `[A-Za-z0-9._:-]`, so `/` separates safely.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

WORKFLOW_PREFIX = "amend-"
MAX_AUTHORIZATION_ID = 40  # Dintero's limit on `authorization_id`
REVERT_STEP_PREFIX = "revert-"


def workflow_id(order_id: str) -> str:
    """`amend-K3X9QZ1AB`: the workflow of an order's amendment."""
    return f"{WORKFLOW_PREFIX}{order_id}"


def order_id_of(workflow_id_or_order: str) -> str:
    """The order id in `amend-{order_id}`, or the argument itself when it names the order."""
    return workflow_id_or_order.removeprefix(WORKFLOW_PREFIX)


def is_amendment_workflow(workflow_id_: str) -> bool:
    return workflow_id_.startswith(WORKFLOW_PREFIX) and len(workflow_id_) > len(WORKFLOW_PREFIX)


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


def is_revert_step(step: str) -> bool:
    return step.startswith(REVERT_STEP_PREFIX)


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
