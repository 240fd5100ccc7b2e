"""The `amend` commands for the people who run the product: `conformance` (every assumption
about Dintero, probed against a real test account) and `bench` (the benchmark, from a checkout)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from amendments import failures
from amendments.cli.app import AccountOption, CliError, JsonFlag, app, handled, run, settings
from amendments.ops.conformance import (
    PROBES,
    ProductionAccount,
    exit_code,
    refuse_production,
    run_probes,
)
from amendments.ops.conformance import plan as probe_plan
from amendments.render import console
from amendments.render.tables import conformance_table


@app.command()
@handled
def conformance(
    context: typer.Context,
    only: Annotated[
        list[str] | None, typer.Option("--only", help="Run only this probe (repeatable).")
    ] = None,
    show_plan: Annotated[
        bool, typer.Option("--plan", help="Print the calls each probe would make; send none.")
    ] = False,
    account: AccountOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Check every assumption about Dintero against the configured TEST account (or --account,
    one of DINTERO_ACCOUNTS_FILE's, reached as the worker reaches it: through its partner when
    it has one): one probe each, on orders it creates itself. Probes whose part is not configured
    are listed as not run, with why. Exit 0 when every probe that ran holds, 1 when one differs,
    2 when one could not decide."""
    config = settings(context)
    probed = config.accounts().get(account)
    account_id = probed.account_id
    try:
        refuse_production(account_id)
    except ProductionAccount as exc:
        raise CliError(str(exc)) from None
    unknown = sorted(set(only or ()) - {p.id for p in PROBES})
    if unknown:
        raise CliError(f"--only: no probe {', '.join(unknown)} (known: "
                       f"{', '.join(p.id for p in PROBES)})")  # fmt: skip
    chosen = tuple(p for p in PROBES if not only or p.id in only)
    if show_plan:
        planned = probe_plan(chosen)
        if as_json:
            console.emit_json({"account": account_id, "plan": planned})
            return
        for row in planned:
            console.say(
                f"{row['id']}: {row['assumption']}", f"    calls: {'; '.join(row['calls'])}"
            )
        return
    results, orders = run(
        run_probes(
            base_url=config.dintero_base_url,
            checkout_url=config.dintero_checkout_base_url,
            account=probed,
            checkout_profile=probed.checkout_profile_id,
            only={p.id for p in chosen},
        )
    )
    if as_json:
        console.emit_json(
            {"account": account_id, "probes": [r.document() for r in results], "orders": orders}
        )
    else:
        console.show(conformance_table(results, account_id))
        console.say(f"orders created (all this run's own): {', '.join(orders) or 'none'}")
    code = exit_code(results)
    if code:
        raise typer.Exit(code)


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def bench(context: typer.Context) -> None:
    """Run the benchmark (`python -m bench`, from a checkout of the repository: the benchmark is
    not installed with the product); `amend bench --help` lists its options."""
    if not (Path.cwd() / "bench" / "__main__.py").is_file():
        console.error(failures.BENCH_FROM_CHECKOUT)
        raise typer.Exit(2)
    start = "import sys; from bench.__main__ import main; main(sys.argv[1:], prog='amend bench')"
    os.execv(sys.executable, [sys.executable, "-c", start, *context.args])  # noqa: S606
