"""The product's search attributes: the keys the workflow upserts and the UI and `amend` filter on
(`OrderId`, `AmendmentId`, `AmendmentStatus`, `TopUpOutstanding`). Names only: no I/O, no
connection, safe to import inside a workflow."""

from __future__ import annotations

from temporalio.common import SearchAttributeKey

ORDER_ID = SearchAttributeKey.for_keyword("OrderId")
AMENDMENT_ID = SearchAttributeKey.for_keyword("AmendmentId")
AMENDMENT_STATUS = SearchAttributeKey.for_keyword("AmendmentStatus")
TOP_UP_OUTSTANDING = SearchAttributeKey.for_int("TopUpOutstanding")
SEARCH_ATTRIBUTES = (ORDER_ID, AMENDMENT_ID, AMENDMENT_STATUS, TOP_UP_OUTSTANDING)
