"""`amend deploy`: release new worker code while amendments wait (`amendments/ops/deploy.py`).

    amend deploy check [--since 1d] [--limit N]   replay what is in flight against this code
    amend deploy status                           the deployment's versions and who runs where
    amend deploy promote BUILD_ID [--ramp 50]     make a version current (or ramping)
    amend deploy rollback                         end a ramp, or bring back the previous version

They act without prompting (a release pipeline runs them); `check` writes nothing. The
deployment is `TEMPORAL_DEPLOYMENT_NAME` and the task queue `TASK_QUEUE`, as the workers have.
"""

from __future__ import annotations

from typing import Annotated

import typer

from amendments.api.replay import parse_duration
from amendments.cli.app import CliError, JsonFlag, app, handled, run, settings
from amendments.domain.runs import CheckReport, DeploymentStatus, Routed
from amendments.ops import deploy as deploying
from amendments.render import console, reports
from amendments.temporal.connection import connect

PollersWithin = Annotated[
    str,
    typer.Option(
        "--wait-for-pollers",
        help="How long to wait for the version's workers to poll (they just started).",
    ),
]

deploy_app = typer.Typer(
    name="deploy",
    help="Release new worker code while amendments wait: check, status, promote, rollback.",
    no_args_is_help=True,
    rich_markup_mode=None,
)
app.add_typer(deploy_app)


@deploy_app.command()
@handled
def check(
    context: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Also the amendments closed within this long (30m, 1d)."),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", help="At most this many, newest first.")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Replay the histories of the amendments in flight (with --since, of those closed
    recently too) against this code; exit 0 only when every one replays. Writes nothing."""
    window = parse_duration(since) if since is not None else None
    if limit is not None and limit < 1:
        raise CliError(f"--limit must be at least 1, got {limit}")
    config = settings(context)

    async def main() -> CheckReport:
        client = await connect(config)
        return await deploying.check(client, config.task_queue, since=window, limit=limit)

    report = run(main())
    if as_json:
        console.emit_json(report)
    else:
        reports.checked(report)
    if report.failed:
        raise typer.Exit(1)


@deploy_app.command()
@handled
def status(context: typer.Context, as_json: JsonFlag = False) -> None:
    """The deployment's current and ramping versions; per version, Temporal's status and
    drainage, and how many amendments last ran on it."""
    config = settings(context)

    async def main() -> DeploymentStatus:
        client = await connect(config)
        return await deploying.status(client, config.temporal_deployment_name, config.task_queue)

    found = run(main())
    if as_json:
        console.emit_json(found)
    else:
        reports.deployment(found)


@deploy_app.command()
@handled
def promote(
    context: typer.Context,
    build_id: Annotated[str, typer.Argument(help="The build id of the version to promote.")],
    ramp: Annotated[
        float | None,
        typer.Option("--ramp", help="Ramp: send this percentage of new amendments to it."),
    ] = None,
    wait_for_pollers: PollersWithin = "15s",
    as_json: JsonFlag = False,
) -> None:
    """Make a version current (or ramping), once it has pollers on the task queue, and wait
    until the routing change has reached every task queue."""
    patience = parse_duration(wait_for_pollers, "--wait-for-pollers")
    deploying.check_ramp(ramp)
    config = settings(context)

    async def main() -> Routed:
        client = await connect(config)
        return await deploying.promote(
            client,
            config.temporal_deployment_name,
            build_id,
            config.task_queue,
            ramp=ramp,
            pollers_within=patience,
        )

    routed = run(main())
    show(routed, as_json)


@deploy_app.command()
@handled
def rollback(context: typer.Context, as_json: JsonFlag = False) -> None:
    """End a ramp (new amendments all go to the current version), or, with none, make the
    version that was current before this one current again."""
    config = settings(context)

    async def main() -> Routed:
        client = await connect(config)
        return await deploying.rollback(client, config.temporal_deployment_name, config.task_queue)

    show(run(main()), as_json)


def show(routed: Routed, as_json: bool) -> None:
    if as_json:
        console.emit_json(routed)
    else:
        reports.routed(routed)
