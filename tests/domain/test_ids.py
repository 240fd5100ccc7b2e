"""Every id the product writes and later looks for comes from `amendments/domain/ids.py`: each one
built there parses back there, stays within Dintero's limits, and never depends on the run."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from amendments.domain import ids
from tests.support.paths import ROOT

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


def test_references_not_ours_are_refused() -> None:
    for reference in ("shop-123", "amend-/a/1", "amend-X/a/one", "amend-X/a", "x/a/1/2"):
        assert ids.parse_merchant_reference(reference) is None


def test_no_module_builds_these_ids_itself() -> None:
    """`amend-{...}` workflow ids and record markers are built in ids.py only (a second place
    that builds one could drift from the place that looks for it)."""
    sources = [
        p
        for folder in ("amendments", "activities", "workflows")
        for p in (ROOT / folder).rglob("*.py")
        if p.name != "ids.py"
    ]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"f\"amend-\{", text), path
        assert '"amendment_id": request.amendment_id, "step"' not in text, path
        assert not re.search(r"f\"\{(plan\.)?marker\}-", text), path
