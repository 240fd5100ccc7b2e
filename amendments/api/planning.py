"""The dry run: what an amendment would write, with nothing written (`amend plan`, `amend start`,
which shows the plan first, and the demo). It decides nothing itself: the planner does.
"""

from __future__ import annotations

from amendments.dintero import DinteroClient
from amendments.domain.models import AmendOrderInput, PaymentsMode, Plan
from amendments.domain.planner import plan_amendment


async def plan_against(
    client: DinteroClient, request: AmendOrderInput, payments: PaymentsMode = "record-only"
) -> Plan:
    """Read the live order and plan, as a worker whose payments adapter is `payments` would;
    writes nothing."""
    return plan_amendment(await client.order_to_plan(request.order_id), request, payments)
