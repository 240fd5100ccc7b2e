"""Shared by the end-to-end money tests (`tests/e2e/test_payments.py`,
`tests/e2e/test_reserved.py`): items, and a `Runner` that starts amendments and sends outcomes one
way (`amend` CLI or a raw start with the SDK's default converter), faulting writes on request; the
merchant's own API client."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle

from amendments.domain import ids
from amendments.simulator import DEMO_ACCOUNT_ID, FaultRule
from tests.support.cli import amend_async
from tests.support.harness import Harness
from tests.support.orders import item

LAMP = {**item("LAMP", 10000), "description": "Lamp"}
LAMP_XL = {**item("LAMP-XL", 25000), "description": "Lamp XL"}
CUSHIONS = {**item("CUSHION", 8000, quantity=2), "description": "Cushion"}
CHAIR = {**item("CHAIR", 10000), "description": "Chair"}
STOOL = {**item("STOOL", 6000), "description": "Stool"}


class Runner:
    """Starts amendments and sends outcomes one way (`cli` or `raw`), faults the last one."""

    def __init__(
        self, how: str, harness: Harness, raw: Client, cli_env: dict[str, str], tmp: Path
    ) -> None:
        self.how, self.harness, self.raw, self.cli_env, self.tmp = how, harness, raw, cli_env, tmp

    async def amend(
        self,
        order_id: str,
        amendment_id: str,
        reverse: list[dict[str, Any]],
        add: list[dict[str, Any]],
        outcomes: list[tuple[str, int, bool]] = (),  # type: ignore[assignment]
        *,
        faulted: bool = False,
        revert: bool = False,
        faulted_kind: str | None = None,
        refused_kind: str | None = None,
    ) -> None:
        """Run one amendment to its end. With `faulted`, one write lands and is answered 502,
        and (unless it is reverted: the revert's own failures are `tests/e2e/test_revert.py`'s) one
        later write is refused once: the run fails, and `amend replay` finishes it. With
        `revert`, the operator reverts it once its outcomes are recorded. `faulted_kind` names
        the records answered 502 (`captures` by default, `refunds` for a revert), `refused_kind`
        the records refused (the same by default)."""
        sim = self.harness.sim
        request: dict[str, Any] = {
            "order_id": order_id,
            "amendment_id": amendment_id,
            "reverse": reverse,
            "add": add,
        }
        refused = faulted and not revert
        if faulted:
            kind = faulted_kind or ("refunds" if revert else "captures")
            path = f"*/orders/{order_id}/{kind}"
            sim.add_faults(
                [FaultRule(method="POST", path=path, status=502, mode="ambiguous", times=1)]
            )
            if refused:
                path = f"*/orders/{order_id}/{refused_kind or kind}"
                sim.add_faults([FaultRule(method="POST", path=path, status=400, times=1)])
        if self.how == "cli":
            file = self.tmp / f"{amendment_id}.json"
            file.write_text(json.dumps(request), encoding="utf-8")
            started = await amend_async("start", str(file), env=self.cli_env)
            assert started.code == 0, started.stderr
        else:
            await self.raw.start_workflow(
                "AmendOrder",
                request,
                id=ids.workflow_id(order_id),
                task_queue=self.harness.task_queue,
            )
        handle = self.raw.get_workflow_handle(ids.workflow_id(order_id))
        if outcomes:
            await self.harness.wait_for_state(order_id, lambda s: s.status == "AwaitingTopUp")
        for payment_id, amount, success in outcomes:
            await self.outcome(order_id, payment_id, amount, success)
        if revert:
            recorded = sum(1 for *_, success in outcomes if success)
            await self.harness.wait_for_state(
                order_id,
                lambda s: sum(1 for o in s.outcomes if o.disposition == "recorded") == recorded,
            )
            await self.revert(order_id)
        try:
            await handle.result()
            failed = False
        except WorkflowFailureError:
            failed = True
        assert failed == refused, "the refused write fails the run, and only it"
        if failed:
            replayed = await amend_async("replay", ids.workflow_id(order_id), env=self.cli_env)
            assert replayed.code == 0, replayed.stderr
            await self.raw.get_workflow_handle(ids.workflow_id(order_id)).result()
        sim.faults.clear()

    async def revert(self, order_id: str) -> None:
        if self.how == "cli":
            reverted = await amend_async(
                "revert", order_id, "--reason", "never paid", env=self.cli_env
            )
            assert reverted.code == 0, reverted.stderr
            return
        handle: WorkflowHandle[Any, Any] = self.raw.get_workflow_handle(ids.workflow_id(order_id))
        await handle.execute_update("revert", {"reason": "never paid"})

    async def outcome(self, order_id: str, payment_id: str, amount: int, success: bool) -> None:
        if self.how == "cli":
            args = ["authorize", order_id, "--payment-id", payment_id, "--amount", str(amount)]
            sent = await amend_async(*args, *([] if success else ["--declined"]), "--wait",
                                     env=self.cli_env)  # fmt: skip
            assert sent.code == 0, sent.stderr
            return
        handle: WorkflowHandle[Any, Any] = self.raw.get_workflow_handle(ids.workflow_id(order_id))
        await handle.signal(
            "authorization_outcome",
            {"payment_id": payment_id, "amount": amount, "success": success},
        )


@contextlib.asynccontextmanager
async def merchant_api(sim_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The merchant's own system on Dintero's Orders API (its own credentials and token)."""
    base = f"{sim_url}/v1/accounts/{DEMO_ACCOUNT_ID}"
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        token = await http.post(
            "/auth/token",
            auth=("merchant-shop", "merchant-secret"),
            json={
                "grant_type": "client_credentials",
                "audience": f"https://api.dintero.com/v1/accounts/{DEMO_ACCOUNT_ID}",
            },
        )
        token.raise_for_status()
        http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield http
