"""Every id the product writes and later looks for comes from `amendments/domain/ids.py`: each one
built there parses back there, stays within Dintero's limits, and never depends on the run."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amendments.domain import ids

ORDER = st.from_regex(r"[A-Z0-9]{9}", fullmatch=True)
AMENDMENT = st.from_regex(r"[A-Za-z0-9._:\-]{1,100}", fullmatch=True)


@given(ORDER, AMENDMENT, st.integers(1, 10_000))
def test_each_id_parses_back(order_id: str, amendment_id: str, number: int) -> None:
    workflow_id = ids.workflow_id(order_id)
    assert ids.is_amendment_workflow(workflow_id)
    assert ids.order_id_of(workflow_id) == order_id
    assert ids.order_id_of(order_id) == order_id  # an order id names itself
    reference = ids.merchant_reference(workflow_id, amendment_id, number)
    assert ids.parse_merchant_reference(reference) == (workflow_id, amendment_id, number)
    metadata = ids.record_metadata(amendment_id, "covered-2-capture")
    assert ids.step_of(metadata, amendment_id) == "covered-2-capture"
    assert ids.step_of(metadata, amendment_id + "x") is None


@given(ORDER, AMENDMENT)
def test_authorization_ids_fit_dintero_and_depend_only_on_the_amendment(
    order_id: str, amendment_id: str
) -> None:
    marker = ids.marker(order_id, amendment_id)
    assert marker == ids.marker(order_id, amendment_id)
    assert re.fullmatch(r"am[0-9a-f]{16}", marker)
    for tag in ("rev", "cov12", "t999", "vr3", "vf12", "v100"):
        assert len(ids.authorization_id(marker, tag)) <= ids.MAX_AUTHORIZATION_ID
    with pytest.raises(ValueError, match="longer than 40"):
        ids.authorization_id(marker, "x" * 30)


ACCOUNT = st.from_regex(r"[PT][0-9]{8}", fullmatch=True)


@given(ACCOUNT, ORDER, AMENDMENT, st.integers(1, 10_000))
def test_an_accounts_ids_parse_back(
    account_id: str, order_id: str, amendment_id: str, number: int
) -> None:
    workflow_id = ids.workflow_id(order_id, account_id)
    assert workflow_id == f"amend-{account_id}-{order_id}"  # the contract's spelling
    assert ids.account_and_order(workflow_id) == (account_id, order_id)
    assert ids.account_and_order(ids.workflow_id(order_id)) == (None, order_id)
    assert ids.order_id_of(workflow_id) == order_id
    reference = ids.merchant_reference(workflow_id, amendment_id, number)
    assert ids.parse_merchant_reference(reference) == (workflow_id, amendment_id, number)
    assert ids.place_workflow_id(account_id).startswith(f"place-{account_id}-")
    assert ids.callback_path(account_id) == f"/callbacks/dintero/{account_id}"


def test_references_not_ours_are_refused() -> None:
    for reference in ("shop-123", "amend-/a/1", "amend-X/a/one", "amend-X/a", "x/a/1/2"):
        assert ids.parse_merchant_reference(reference) is None


def test_the_spellings_never_change() -> None:
    """The one place the spellings are written out (the layout test exempts this file): records
    on real orders carry these step names and markers, histories and backends carry these
    names, and a replayed amendment must find what its earlier run wrote."""
    assert (ids.AMEND_ORDER, ids.PLACE_ORDER) == ("AmendOrder", "PlaceOrder")
    assert (ids.OUTCOME, ids.REVERT, ids.SESSION_ENDED, ids.STATE) == (
        "authorization_outcome",
        "revert",
        "payment_session_ended",
        "state",
    )
    assert (ids.ATTRIBUTES_AT_START, ids.LOCAL_READS, ids.REVERT_ON_TIMEOUT) == (
        "search_attributes_at_start",
        "local_reads",
        "revert-on-top-up-timeout",
    )
    assert ids.workflow_id("K3X9QZ1AB") == "amend-K3X9QZ1AB"
    assert ids.place_workflow_id().startswith("place-")
    assert ids.marker("K3X9QZ1AB", "ticket-4711") == "am64484dc3c877fc7b"  # authorization ids
    assert [ids.REVERSAL.record("authorization"), ids.COVERED.record("capture")] == [
        "reversal-authorization",
        "covered-capture",
    ]
    assert ids.REVERSAL.tag == "rev"
    assert (ids.reversal_group(2, 3).step, ids.reversal_group(2, 3).tag) == ("reversal-2", "rev2")
    assert (ids.covered_group(1, 2).step, ids.covered_group(1, 2).tag) == ("covered-1", "cov1")
    assert [ids.settling_step("refund", 1, 1), ids.settling_step("release", 2, 2)] == [
        "refund",
        "release-2",
    ]
    top_up = ids.top_up_group(3)
    assert (top_up.record("authorization"), top_up.record("capture"), top_up.tag) == (
        "top-up-3-authorization",
        "top-up-3-capture",
        "t3",
    )
    assert ids.place_step("capture") == "place-capture"
    assert (ids.revert_reversal_group(2).record("capture"), ids.revert_reversal_group(2).tag) == (
        "revert-reversal-2-capture",
        "v2",
    )
    restore = ids.revert_restore_group(1, 1)
    assert (restore.record("authorization"), restore.tag) == ("revert-restore-authorization", "vr")
    refund = ids.revert_settling_group("refund", 1)
    release = ids.revert_settling_group("release", 2)
    assert (ids.settled_step(refund, "refund"), refund.tag) == ("revert-refund-1-refund", "vf1")
    assert (ids.settled_step(release, "release"), release.tag) == (
        "revert-release-2-release",
        "vl2",
    )
    assert ids.revert_void_step("T1") == "revert-void-T1"
    assert (ids.PLANNING, ids.TOP_UP, ids.TOP_UP_SESSION, ids.VERIFY, ids.DONE) == (
        "planning",
        "top-up",
        "top-up-session",
        "verify",
        "done",
    )
    assert [ids.draft_step(False, False), ids.draft_step(True, True)] == [
        "draft",
        "revert-complete",
    ]
    assert (ids.REVERT_DRAFT, ids.REVERT_VOID, ids.checkout_step("refund")) == (
        "revert-draft",
        "revert-void",
        "refund-checkout",
    )
    assert ids.checkout_reference("amend-X", "a1", "refund") == "amend-X/a1/refund"
    assert ids.merchant_reference("amend-X", "a1", 2) == "amend-X/a1/2"
    assert (ids.CALLBACK_PATH, ids.RETURN_PATH) == (
        "/callbacks/dintero",
        "/callbacks/dintero/return",
    )
    assert ids.record_metadata("a1", "refund") == {"amendment_id": "a1", "step": "refund"}
