"""Reading an order to plan against it, and the dry run: what an amendment would write, with
nothing written. Used by the `plan_amendment` activity, `amend plan`, `amend start` (which shows
the plan first) and the demo. It decides nothing itself: the planner does.
"""

from __future__ import annotations

from amendments.dintero import DinteroClient
from amendments.dintero.errors import NotFound
from amendments.domain.errors import AmendmentRejected
from amendments.domain.models import AmendOrderInput, Plan
from amendments.domain.order import OrderSnapshot
from amendments.domain.planner import plan_amendment


async def read_for_planning(client: DinteroClient, order_id: str) -> OrderSnapshot:
    """The order to plan against; an unknown order is a refusal naming `order_id`."""
    try:
        return await client.read_order(order_id)
    except NotFound as exc:
        raise AmendmentRejected(
            "order_id", f"order {order_id} was not found on Dintero account {client.account_id}"
        ) from exc


async def plan_against(client: DinteroClient, request: AmendOrderInput) -> Plan:
    """A dry run: read the live order and plan; writes nothing."""
    return plan_amendment(await read_for_planning(client, request.order_id), request)
