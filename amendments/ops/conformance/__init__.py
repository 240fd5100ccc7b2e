"""`amend conformance`: every assumption the product makes about Dintero, checked against a real
Dintero **test** account in one command.

One probe per assumption of the simulator (A1-A16 in `amendments/simulator/app.py`, C1-C10 in
`amendments/simulator/checkout.py`, under the same ids) and per documented fact the product
leans on (F1-F4). Each probe makes the calls it names on orders it creates itself, and answers
`holds`, `differs` or `unknown` (could not tell), with what it sent, what came back, and what the
product does if the assumption is wrong. Read together, the probes are the executable
description of what the product expects of Dintero.

Safe by construction: a production account (`P...`) is refused before any call; every order a
probe makes is its own (its lines' ids start with `conformance-` and carry the run's id in their
description; its records carry the run's id in `metadata`), and is listed at the end; nothing
touches an order the run did not create; `plan()` lists the calls and makes none. A probe that
cannot run (Checkout not configured, no customer to pay a session) says so, and the rest go on.
Against `amend simulator` every probe holds (the simulator's test controls under `/_sim/` play
the customer there); against a real account, probes that need a paying customer say `unknown`.
"""

from amendments.ops.conformance import checkout, orders
from amendments.ops.conformance.harness import (
    PROBES,
    Finding,
    Probe,
    ProductionAccount,
    Result,
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
    "orders",
    "plan",
    "refuse_production",
    "run_probes",
]
