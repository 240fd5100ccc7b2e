"""`amend conformance`: every assumption the product makes about Dintero, checked against a real
Dintero **test** account in one command.

One probe per assumption of the simulator (A1-A17 in `amendments/simulator/app.py`, C1-C10 in
`amendments/simulator/checkout.py`, under the same ids) and per documented fact the product
leans on (F1-F4; P1-P3 for the partner flow, where Dintero's pages disagree). Each probe makes
the calls it names on orders it creates itself, and answers `holds`, `differs`, `unknown` (could
not tell) or `not_run` (its part is not there: Checkout not configured, an account not reached
through a partner, no customer to pay a session; it says why), with what it sent, what came
back, and what the product does if the assumption is wrong. The run exits 0 when every probe
that ran holds, 1 when one differs, 2 when one could not decide (`exit_code`). Read together,
the probes are the executable description of what the product expects of Dintero.

Safe by construction: a production account (`P...`) is refused before any call; every order a
probe makes is its own (its lines' ids start with `conformance-` and carry the run's id in their
description; its records carry the run's id in `metadata`), and is listed at the end; nothing
touches an order the run did not create; `plan()` lists the calls and makes none. A probe that
cannot run (Checkout not configured, no customer to pay a session) says so, and the rest go on.
Against `amend simulator` every probe holds (the simulator's test controls under `/_sim/` play
the customer there); against a real account, probes that need a paying customer are not run.
"""

from amendments.ops.conformance import checkout, orders, partners
from amendments.ops.conformance.harness import (
    PROBES,
    Finding,
    Probe,
    ProductionAccount,
    Result,
    exit_code,
    plan,
    refuse_production,
    run_probes,
)

__all__ = [
    "PROBES",
    "Finding",
    "Probe",
    "ProductionAccount",
    "Result",
    "checkout",
    "exit_code",
    "orders",
    "partners",
    "plan",
    "refuse_production",
    "run_probes",
]
