"""Many merchants in one deployment, with real processes: `python worker.py` serving the accounts
of a `DINTERO_ACCOUNTS_FILE` (two with their own API clients, one through a partner), the
simulator over its socket requiring each account's own credentials and the partner's link to
its merchant, and `amend` run as an operator runs it.

- Amendments of all three run at once, two of them on orders with the same order id on
  different accounts: each write lands on its own account's path with its own account's token,
  every token request is for the right account, each ledger is exact per payment, and no secret
  shows in a log, a history or an output.
- Each runs as `amend-{account}-{order}`, searchable by `DinteroAccount`, queued by its account
  as fairness key (its start and every activity).
- An unknown account, a malformed one, one whose secret cannot be read, none named where there
  is no default, or a workflow id that is not the input's: refused before any call, the run
  failed naming `account_id`, nothing written.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.protobuf.json_format import MessageToJson
from pydantic import SecretStr
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from amendments import failures
from amendments.api.starter import (
    get_state,
    place_order,
    send_authorization_outcome,
    start_amendment,
)
from amendments.domain import ids
from amendments.payments.checkout import signature
from amendments.simulator import Simulator
from amendments.simulator.server import free_port
from amendments.temporal.search_attributes import DINTERO_ACCOUNT
from tests.support.cli import AMEND, amend_async
from tests.support.harness import eventually
from tests.support.money import independent_view
from tests.support.processes import WorkerProcess
from tests.support.reliability import Case, case, problems_with

pytestmark = pytest.mark.timeout(600)

A, B, P, PARTNER, BROKEN = "T22222222", "T44444444", "T33333333", "T11200000", "T55555555"
SECRET_A, SECRET_B, SECRET_P = "merchant-a-s3cret-9x", "merchant-b-s3cret-7q", "partner-s3cret-4k"
CLIENTS = {A: "client-a", B: "client-b", PARTNER: "partner-client"}
ACCOUNTS_FILE = f"""
[accounts.{A}]
client_id = "client-a"
client_secret_env = "MERCHANT_A_SECRET"

[accounts.{B}]
client_id = "client-b"
client_secret_file = "b.secret"

[accounts.{P}]
partner = "{PARTNER}"

[accounts.{BROKEN}]
client_id = "client-broken"
client_secret_env = "NOT_SET_ANYWHERE"

[partners.{PARTNER}]
client_id = "partner-client"
client_secret = "{SECRET_P}"
"""


@dataclass
class Merchants:
    env: WorkflowEnvironment
    sim: Simulator
    client: Client
    worker: WorkerProcess
    task_queue: str
    tmp: Path

    def settings(self) -> dict[str, str]:
        return {
            "TEMPORAL_ADDRESS": self.env.client.service_client.config.target_host,
            "TASK_QUEUE": self.task_queue,
            "DINTERO_BASE_URL": self.worker.environment["DINTERO_BASE_URL"],
            "DINTERO_ACCOUNTS_FILE": str(self.tmp / "accounts.toml"),
            "MERCHANT_A_SECRET": SECRET_A,
        }

    async def place(self, account_id: str, planned: Case) -> str:
        placed = await place_order(
            self.client,
            {
                "currency": "NOK",
                "items": list(planned.items),
                "payment_id": "PID_123",
                "account_id": account_id,
            },
            task_queue=self.task_queue,
        )
        return placed.order_id


@pytest.fixture
async def merchants(
    env: WorkflowEnvironment,
    served: tuple[Simulator, str],
    socket_sim: Simulator,
    tmp_path: Path,
    workers: list[WorkerProcess],
) -> Merchants:
    _, url = served
    socket_sim.tokens.credentials = {
        A: (CLIENTS[A], SecretStr(SECRET_A)),
        B: (CLIENTS[B], SecretStr(SECRET_B)),
        PARTNER: (CLIENTS[PARTNER], SecretStr(SECRET_P)),
    }
    socket_sim.tokens.partner_links = {PARTNER: {P}}
    (tmp_path / "accounts.toml").write_text(ACCOUNTS_FILE)
    (tmp_path / "b.secret").write_text(SECRET_B + "\n")
    task_queue = f"merchants-{uuid.uuid4()}"
    worker = WorkerProcess(env, url, task_queue, tmp_path / "worker.log")
    for single in ("DINTERO_ACCOUNT_ID", "DINTERO_CLIENT_ID", "DINTERO_CLIENT_SECRET"):
        del worker.environment[single]
    worker.environment.update(
        DINTERO_ACCOUNTS_FILE=str(tmp_path / "accounts.toml"), MERCHANT_A_SECRET=SECRET_A
    )
    workers.append(worker)
    await worker.start()  # cwd is tmp_path: the file's relative secret file is found there
    return Merchants(env, socket_sim, env.client, worker, task_queue, tmp_path)


def same_order_id(sim: Simulator, account_id: str, order_id: str, wanted: str) -> str:
    """Give an order of `account_id` the id `wanted` (another merchant's order id): two
    merchants' own order ids may be the same."""
    orders = sim.store.accounts[account_id].orders
    order = orders.pop(order_id)
    order.order_id = wanted
    orders[wanted] = order
    return wanted


async def amend(m: Merchants, account_id: str, order_id: str, name: str, planned: Case) -> Any:
    request = {**planned.request(order_id, name), "account_id": account_id}
    handle = await start_amendment(m.client, request, task_queue=m.task_queue)
    assert handle.id == ids.workflow_id(order_id, account_id)
    for payment_id, amount, success in planned.outcomes:
        await send_authorization_outcome(
            m.client,
            order_id,
            {"payment_id": payment_id, "amount": amount, "success": success},
            account_id=account_id,
        )
    return await handle.result()


def each_call_on_its_own_account(sim: Simulator, mark: int) -> None:
    """Every call on its own account's path, with its own account's token; every token request
    for the account it names (the simulator requires each one's own credentials)."""
    calls = sim.requests[mark:]
    api = [r for r in calls if "/shopping/" in r["path"]]
    assert api
    assert all(r["status"] == 200 for r in api)
    assert all(r["path"].startswith(f"/v1/accounts/{r['account']}/") for r in api)
    written = {r["account"] for r in api if r["method"] in ("POST", "PUT")}
    assert written == {A, B, P}
    tokens = [r for r in sim.requests if "/auth/" in r["path"]]
    assert all(r["status"] == 200 for r in tokens)
    for r in tokens:
        path_account = r["path"].split("/")[3]
        if r["path"].endswith("/exchange_token"):
            assert (path_account, r["body"]) == (PARTNER, {"account_id": P})
        else:
            audience = r["body"]["audience"].rsplit("/", 1)[-1]
            assert (path_account, audience) in {(A, A), (B, B), (PARTNER, PARTNER), (P, PARTNER)}


async def searchable_and_fair(client: Client, workflow_id: str, aid: str) -> None:
    """Searchable by its account (the workflow set it), and queued by it as fairness key: its
    start and every activity."""
    described = await client.get_workflow_handle(workflow_id).describe()
    assert described.typed_search_attributes.get(DINTERO_ACCOUNT) == aid
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    started = history.events[0].workflow_execution_started_event_attributes
    assert started.priority.fairness_key == aid
    scheduled = [
        e.activity_task_scheduled_event_attributes
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled
    assert {s.priority.fairness_key for s in scheduled} == {aid}


async def history_text(client: Client, workflow_id: str) -> str:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return "\n".join(MessageToJson(event) for event in history.events)


async def test_three_merchants_at_once(merchants: Merchants) -> None:
    m, sim = merchants, merchants.sim
    assert f"4 accounts: {A} directly" in m.worker.log_text()  # the broken one is served too
    assert f"{P} through partner {PARTNER}" in m.worker.log_text()
    assert f"account {BROKEN} cannot be used until fixed" in m.worker.log_text()
    plans = {A: case("top-up", 1), B: case("refund", 2), P: case("top-up", 4)}
    orders = {aid: await m.place(aid, planned) for aid, planned in plans.items()}
    orders[B] = same_order_id(sim, B, orders[B], orders[A])  # the same order id as A's
    mark = len(sim.requests)
    results = await asyncio.gather(
        *(amend(m, aid, orders[aid], f"swap-{aid}", planned) for aid, planned in plans.items())
    )
    assert [r.outcome for r in results] == ["applied"] * 3
    assert orders[A] == orders[B]

    # Each ledger exact, each record once, per payment, on its own account.
    for aid, planned in plans.items():
        assert problems_with(sim, orders[aid], f"swap-{aid}", planned, aid) == [], aid
    cents = {A: 100, P: 400}
    for aid in (A, P):
        money = independent_view(sim.store, orders[aid], aid)["money"]
        assert money == {"PID_123": 39800, "PID_A": 6000, "PID_B": 4000 + cents[aid]}, aid
    money_b = independent_view(sim.store, orders[B], B)["money"]
    assert money_b == {"PID_123": 30000}  # 39800 + 200 paid, 10000 refunded

    each_call_on_its_own_account(sim, mark)
    for aid in plans:
        await searchable_and_fair(m.client, ids.workflow_id(orders[aid], aid), aid)

    async def listed_for(aid: str) -> list[str] | None:
        shown = await amend_async("list", "--account", aid, "--json", env=m.settings())
        assert shown.code == 0, shown.stderr
        found = [a["workflow_id"] for a in shown.json()["amendments"]]
        return found or None

    assert await eventually(lambda: listed_for(A)) == [ids.workflow_id(orders[A], A)]
    status = await amend_async("status", orders[A], "--account", A, env=m.settings())
    assert status.code == 0, status.stderr
    assert "Completed" in status.stdout

    # No secret anywhere: the worker's log, the histories, what `amend` printed.
    texts = [m.worker.log_text(), status.stdout + status.stderr]
    for aid in plans:
        texts.append(await history_text(m.client, ids.workflow_id(orders[aid], aid)))
    for text in texts:
        for secret in (SECRET_A, SECRET_B, SECRET_P):
            assert secret not in text


async def closed_failure(client: Client, workflow_id: str) -> Any:
    with pytest.raises(WorkflowFailureError) as failed:
        await client.get_workflow_handle(workflow_id).result()
    return failed.value.cause


@pytest.mark.parametrize(
    ("account_id", "workflow_account", "says"),
    [
        ("T99999999", "T99999999", "T99999999 is not an account this deployment serves"),
        (BROKEN, BROKEN, f"account {BROKEN} has no usable credentials: accounts.{BROKEN}."
                         "client_secret_env: the environment variable NOT_SET_ANYWHERE is not set"),
        (None, None, "required: this deployment serves 4 accounts"),
        (A, None, f"the amendment of this order runs as {ids.workflow_id('ORDER1', A)}, not "
                  f"as {ids.workflow_id('ORDER1')}"),
        ("T1234", "T1234", "'T1234' is not a Dintero account id: T (test) or P"),
    ],
    ids=["unknown", "no-secret", "none-named", "wrong-workflow-id", "malformed"],
)  # fmt: skip
async def test_an_account_that_cannot_be_used_is_refused_before_any_call(
    merchants: Merchants,
    raw: Client,
    account_id: str | None,
    workflow_account: str | None,
    says: str,
) -> None:
    m = merchants
    request: dict[str, Any] = {
        "order_id": "ORDER1",
        "amendment_id": "swap-1",
        "reverse": [{"line_id": 1, "reason": "swap"}],
    }
    if account_id is not None:
        request["account_id"] = account_id
    workflow_id = ids.workflow_id("ORDER1", workflow_account)
    mark = len(m.sim.requests)
    await raw.start_workflow(ids.AMEND_ORDER, request, id=workflow_id, task_queue=m.task_queue)
    cause = await closed_failure(raw, workflow_id)
    assert cause.type == failures.AMENDMENT_REJECTED.name
    assert cause.details[0]["field"] == "account_id"
    assert says in cause.message
    assert m.sim.requests[mark:] == []  # nothing asked of Dintero, nothing written
    described = await raw.get_workflow_handle(workflow_id).describe()
    assert described.status == WorkflowExecutionStatus.FAILED


async def test_a_raw_start_names_its_account_and_the_workflow_sets_it(
    merchants: Merchants, raw: Client
) -> None:
    """Started from any SDK with plain JSON (no search attributes, no priority): the workflow
    sets `DinteroAccount` itself and queues every activity by the account."""
    m = merchants
    planned = case("even", 3)
    order_id = await m.place(B, planned)
    workflow_id = ids.workflow_id(order_id, B)
    request = {**planned.request(order_id, "raw-1"), "account_id": B}
    handle = await raw.start_workflow(
        ids.AMEND_ORDER, request, id=workflow_id, task_queue=m.task_queue
    )
    assert (await handle.result())["outcome"] == "applied"
    assert problems_with(m.sim, order_id, "raw-1", planned, B) == []
    described = await handle.describe()
    assert described.typed_search_attributes.get(DINTERO_ACCOUNT) == B
    history = await handle.fetch_history()
    scheduled = [
        e.activity_task_scheduled_event_attributes.priority.fairness_key
        for e in history.events
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert scheduled
    assert set(scheduled) == {B}


SIG_A, SIG_B = "signing-secret-of-a-31", "signing-secret-of-b-47"


async def test_callbacks_are_checked_with_their_own_accounts_secret(
    merchants: Merchants, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    """`amend callbacks` serving two accounts, each with its Checkout profile and signature
    secret: A's payment, signed with A's secret to A's URL, completes A's top-up; the same
    callback signed with B's secret, or sent to B's URL, is refused (401) before anything is
    read, and changes nothing."""
    m, sim = merchants, merchants.sim
    receiver_port = free_port()
    receiver_url = f"http://127.0.0.1:{receiver_port}"
    (tmp_path / "checkout.toml").write_text(
        f'[accounts.{A}]\nclient_id = "client-a"\nclient_secret_env = "MERCHANT_A_SECRET"\n'
        f'checkout_profile_id = "{A}.shop"\nsignature_secret_env = "SIG_A"\n'
        f'[accounts.{B}]\nclient_id = "client-b"\nclient_secret_file = "b.secret"\n'
        f'checkout_profile_id = "{B}.shop"\nsignature_secret = "{SIG_B}"\n'
    )
    sim.customer.signature_secrets = {A: SIG_A, B: SIG_B}
    settings = {
        **m.settings(),
        "DINTERO_ACCOUNTS_FILE": str(tmp_path / "checkout.toml"),
        "DINTERO_CHECKOUT_BASE_URL": m.settings()["DINTERO_BASE_URL"],
        "PAYMENTS": "dintero-checkout",
        "CALLBACK_BASE_URL": receiver_url,
        "SIG_A": SIG_A,
    }
    worker = WorkerProcess(m.env, settings["DINTERO_BASE_URL"], m.task_queue, tmp_path / "w.log")
    worker.environment = {"PATH": os.environ.get("PATH", ""), **settings}
    workers.append(worker)
    await m.worker.stop()  # the record-only worker leaves the task queue to this one
    await worker.start()
    receiver = await asyncio.create_subprocess_exec(
        AMEND, "callbacks", "--port", str(receiver_port),
        env={"PATH": os.environ.get("PATH", ""), **settings}, cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=receiver_url) as http:
            await eventually(lambda: healthy(http))
            planned = case("top-up", 2)
            order_id = await m.place(A, planned)
            await start_amendment(
                m.client,
                {**planned.request(order_id, "pay-1"), "account_id": A},
                task_queue=m.task_queue,
            )

            async def link() -> Any:
                state = await get_state(m.client, order_id, account_id=A)
                return state.payment_link

            session = await eventually(link)
            paid = await http.post(
                f"{m.settings()['DINTERO_BASE_URL']}/_sim/checkout/sessions/{session.session_id}/pay",
                json={"outcome": "authorized", "callback": False},
            )
            transaction_id = paid.json()["transaction_id"]
            params = {
                "report_error": "true",
                "transaction_id": transaction_id,
                "session_id": session.session_id,
                "merchant_reference": session.merchant_reference,
            }
            mark = len(sim.requests)
            for path_account, secret, signed_for in ((A, SIG_B, A), (B, SIG_A, A)):
                refused = await signed_callback(http, path_account, secret, signed_for, params)
                assert refused.status_code == 401, refused.text
            assert [r for r in sim.requests[mark:] if "/transactions/" in r["path"]] == []
            state = await get_state(m.client, order_id, account_id=A)
            assert (state.status, state.outcomes) == ("AwaitingTopUp", ())
            taken = await signed_callback(http, A, SIG_A, A, params)
            assert taken.status_code == 200, taken.text
            assert taken.json()["result"] == "signalled"
        result = await m.client.get_workflow_handle(ids.workflow_id(order_id, A)).result()
        assert result["outcome"] == "applied"
        money = independent_view(sim.store, order_id, A)["money"]
        assert money == {"PID_123": 39800, transaction_id: 10200}
        assert sim.store.accounts[A].checkout.transactions[transaction_id].status() == "CAPTURED"
    finally:
        receiver.send_signal(signal.SIGINT)
        await asyncio.wait_for(receiver.wait(), timeout=60)
    assert receiver.stderr is not None
    logged = (await receiver.stderr.read()).decode()
    for secret in (SIG_A, SIG_B, SECRET_A, SECRET_B):
        assert secret not in logged + worker.log_text()


async def healthy(http: httpx.AsyncClient) -> bool | None:
    try:
        return (await http.get("/healthz")).status_code == 200 or None
    except httpx.TransportError:
        return None


async def signed_callback(
    http: httpx.AsyncClient, path_account: str, secret: str, signed_for: str, params: dict[str, str]
) -> httpx.Response:
    """Dintero's callback to `path_account`'s URL, signed with `secret` for `signed_for`."""
    request = http.build_request("GET", ids.callback_path(path_account), params=params)
    request.headers[signature.HEADER] = signature.sign(
        secret,
        int(time.time()),
        signed_for,
        "GET",
        str(request.url),
        request.url.params.multi_items(),
    )
    return await http.send(request)
