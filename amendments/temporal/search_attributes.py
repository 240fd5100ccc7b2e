"""The product's search attributes: the keys the workflow upserts and the UI and `amend` filter on
(`OrderId`, `AmendmentId`, `AmendmentStatus`, `TopUpOutstanding`, `AmendmentFailure`: the
failure type of a failed amendment, from the vocabulary, which `amend replay --failed --failure`
selects by, and `DinteroAccount`: the merchant's account, which `amend list --account` selects
by). Names only: no I/O, no connection, safe to import inside a workflow. They hold ids,
statuses, types and amounts, never a message (payloads may be encrypted; these are not)."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
AMENDMENT_ID = SearchAttributeKey.for_keyword("AmendmentId")
AMENDMENT_STATUS = SearchAttributeKey.for_keyword("AmendmentStatus")
TOP_UP_OUTSTANDING = SearchAttributeKey.for_int("TopUpOutstanding")
AMENDMENT_FAILURE = SearchAttributeKey.for_keyword("AmendmentFailure")
DINTERO_ACCOUNT = SearchAttributeKey.for_keyword("DinteroAccount")
SEARCH_ATTRIBUTES = (
    ORDER_ID,
    AMENDMENT_ID,
    AMENDMENT_STATUS,
    TOP_UP_OUTSTANDING,
    AMENDMENT_FAILURE,
    DINTERO_ACCOUNT,
)
