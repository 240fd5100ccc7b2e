"""`amend conformance` against the simulator served over a socket (as `amend simulator` serves
it): every probe holds; with one assumption flipped by the simulator's test control, exactly
that probe differs and says what the product would do; `--plan` sends nothing; a production
account is refused before any call; without Checkout settings the Checkout probes say so and
the rest go on and the run passes; a probe that cannot decide exits 2; only the run's own
orders are touched; and every assumption the simulator states has a probe of its id."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from amendments.dintero.errors import DinteroAuthError
from amendments.ops.conformance.harness import PROBES
from amendments.simulator import Simulator
from amendments.simulator import app as simulator_app
from amendments.simulator import checkout as simulator_checkout
from tests.support.cli import amend_async

pytestmark = pytest.mark.timeout(300)
AID = "T12345678"
PARTNER_PROBES = {p.id for p in PROBES if p.needs == "partner"}
PARTNER, MERCHANT = "T11200000", "T33333333"


def settings(url: str, **extra: str) -> dict[str, str]:
    return {
        "DINTERO_BASE_URL": url,
        "DINTERO_CHECKOUT_BASE_URL": url,
        "DINTERO_ACCOUNT_ID": AID,
        "DINTERO_CLIENT_ID": "conformance",
        "DINTERO_CLIENT_SECRET": "conformance-secret",
        "DINTERO_CHECKOUT_PROFILE_ID": "P-sim",
        **extra,
    }


def verdicts(document: dict[str, Any]) -> dict[str, str]:
    return {probe["id"]: probe["verdict"] for probe in document["probes"]}


async def test_every_probe_holds_against_the_simulator(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> None:
    _, url = served
    store = socket_sim.store
    other = store.create_draft(
        AID,
        {"options": {"generate_order_id": "ALPHANUMERIC_9"},
         "order": {"currency": "NOK", "items": [{"id": "SHOP-1", "line_id": 1, "quantity": 1,
                   "gross_amount": 500, "description": "not the probes'"}]}},
    )  # fmt: skip
    [mine] = store.complete_draft(AID, other["id"])["orders"]
    before = store.get_order(AID, mine["order_id"])
    run = await amend_async("conformance", "--json", env=settings(url))
    assert run.code == 0, run.stdout + run.stderr
    document = run.json()
    assert document["account"] == AID
    found = verdicts(document)
    assert {i for i, v in found.items() if v != "holds"} == PARTNER_PROBES  # not reached so
    assert {found[i] for i in PARTNER_PROBES} == {"not_run"}
    assert [p["id"] for p in document["probes"]] == [p.id for p in PROBES]
    for probe in document["probes"]:
        fields = {"id", "assumption", "verdict", "sent", "received", "if_it_differs"}
        if probe["verdict"] == "not_run":
            assert "not reached through a partner" in probe["why"]
            fields.add("why")
        assert set(probe) == fields
    # Only its own orders: marked, listed, and the merchant's order untouched.
    assert mine["order_id"] not in document["orders"]
    assert store.get_order(AID, mine["order_id"]) == before
    for order_id in document["orders"]:
        items = store.get_order(AID, order_id)["items"]
        assert all(str(i["id"]).startswith("conformance-") for i in items), order_id
    table = await amend_async("conformance", "--only", "A7", "--only", "F2", env=settings(url))
    assert table.code == 0, table.stderr
    assert "holds" in table.stdout
    assert "orders created (all this run's own)" in table.stdout


@pytest.mark.parametrize(
    ("flip", "says"),
    [("A7", "multiple_authorizations"), ("EVENT_REFERENCE", "sent twice")],
)
async def test_a_flipped_assumption_is_the_one_probe_that_differs(
    served: tuple[Simulator, str], socket_sim: Simulator, flip: str, says: str
) -> None:
    _, url = served
    async with httpx.AsyncClient(base_url=url) as http:
        flipped = await http.post("/_sim/assumptions", json={"flip": flip})
        assert flipped.json() == {"flipped": [flip]}
    run = await amend_async("conformance", "--json", env=settings(url))
    assert run.code == 1
    document = run.json()
    ran = {k: v for k, v in verdicts(document).items() if v != "not_run"}
    assert {k: v for k, v in ran.items() if v != "holds"} == {flip: "differs"}
    [probe] = [p for p in document["probes"] if p["id"] == flip]
    assert says in probe["if_it_differs"]
    table = await amend_async("conformance", "--only", flip, env=settings(url))
    assert table.code == 1
    assert "differs" in table.stdout


async def test_plan_sends_nothing_and_a_production_account_is_refused(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> None:
    _, url = served
    planned = await amend_async("conformance", "--plan", "--json", env=settings(url))
    assert planned.code == 0, planned.stderr
    assert [p["id"] for p in planned.json()["plan"]] == [p.id for p in PROBES]
    assert all(p["calls"] for p in planned.json()["plan"])
    assert socket_sim.requests == []
    refused = await amend_async("conformance", env=settings(url, DINTERO_ACCOUNT_ID="P12345678"))
    assert refused.code == 1
    assert "P12345678 is a production account" in refused.stderr
    assert socket_sim.requests == []
    unknown = await amend_async("conformance", "--only", "A99", env=settings(url))
    assert unknown.code == 1
    assert "--only: no probe A99" in unknown.stderr


async def test_without_checkout_its_probes_are_not_run_and_the_run_passes(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> None:
    """A merchant who only records payments gets a clean pass: the Checkout probes are listed
    as not run, each with why."""
    _, url = served
    env = settings(url)
    del env["DINTERO_CHECKOUT_PROFILE_ID"]
    run = await amend_async("conformance", "--json", env=env)
    assert run.code == 0, run.stdout + run.stderr
    found = verdicts(run.json())
    checkout = {p.id for p in PROBES if p.needs in ("checkout", "customer")}
    assert checkout
    assert {found[i] for i in checkout} == {"not_run"}
    assert {v for i, v in found.items() if i not in checkout | PARTNER_PROBES} == {"holds"}
    [c1] = [p for p in run.json()["probes"] if p["id"] == "C1"]
    assert "DINTERO_CHECKOUT_PROFILE_ID" in c1["why"]
    table = await amend_async("conformance", env=env)
    assert table.code == 0, table.stderr
    for probe_id in checkout:
        assert re.search(rf"^{probe_id}\s+not run\b", table.stdout, re.MULTILINE), table.stdout


async def test_a_probe_that_cannot_decide_exits_2(
    served: tuple[Simulator, str], socket_sim: Simulator
) -> None:
    """Every draft refused (a Dintero incident): A7 cannot make its order, so it cannot tell."""
    _, url = served
    async with httpx.AsyncClient(base_url=url) as http:
        await http.post(
            "/_sim/faults", json=[{"path": "*/draft_orders", "status": 400, "times": 100}]
        )
    run = await amend_async("conformance", "--only", "A7", "--json", env=settings(url))
    assert run.code == 2, run.stdout + run.stderr
    assert verdicts(run.json()) == {"A7": "unknown"}


def test_every_assumption_the_simulator_states_has_its_probe() -> None:
    stated = set()
    for module in (simulator_app, simulator_checkout):
        text = Path(str(module.__file__)).read_text()
        docstring = text.split('"""')[1]
        stated |= set(re.findall(r"^- ([AC]\d+) ", docstring, flags=re.MULTILINE))
    assert stated >= {f"A{n}" for n in range(1, 18)}
    assert stated - {p.id for p in PROBES} == set()
    assert {"A7", "EVENT_REFERENCE"} == set(simulator_app.FLIPPABLE)


async def test_the_partner_flow_is_probed_when_the_account_is_reached_through_one(
    served: tuple[Simulator, str], socket_sim: Simulator, tmp_path: Path
) -> None:
    """The account is probed as the worker reaches it: through its partner (the simulator
    requires the partner's credentials and its link to the merchant)."""
    _, url = served
    socket_sim.tokens.credentials = {PARTNER: ("partner", SecretStr("partner-secret-q"))}
    socket_sim.tokens.partner_links = {PARTNER: {MERCHANT}}
    accounts = tmp_path / "accounts.toml"
    accounts.write_text(
        f'[accounts.{MERCHANT}]\npartner = "{PARTNER}"\ncheckout_profile_id = "P-sim"\n'
        f'[partners.{PARTNER}]\nclient_id = "partner"\nclient_secret_env = "PARTNER_SECRET"\n'
    )
    env = {
        "DINTERO_BASE_URL": url,
        "DINTERO_CHECKOUT_BASE_URL": url,
        "DINTERO_ACCOUNTS_FILE": str(accounts),
        "PARTNER_SECRET": "partner-secret-q",
    }
    run = await amend_async("conformance", "--account", MERCHANT, "--json", env=env)
    assert run.code == 0, run.stdout + run.stderr
    found = verdicts(run.json())
    assert set(found.values()) == {"holds"}
    assert set(found) >= PARTNER_PROBES
    orders = run.json()["orders"]
    assert orders
    assert all(o in socket_sim.store.accounts[MERCHANT].orders for o in orders)
    assert "partner-secret-q" not in run.stdout + run.stderr
    # The partner no longer acts for the merchant: the exchange differs, and says what then.
    socket_sim.tokens.partner_links = {PARTNER: set()}
    refused = await amend_async(
        "conformance", "--account", MERCHANT, "--only", "P1", "--json", env=env
    )
    assert refused.code == 1
    [p1] = refused.json()["probes"]
    assert (p1["verdict"], p1["received"]) == ("differs", "403 FORBIDDEN, no body")
    assert DinteroAuthError.__name__ in p1["if_it_differs"]
