"""How a worker is put together and run: the Dintero client from settings, the worker with every
workflow and activity and its tuning, and the loop that serves until SIGINT or SIGTERM.

The one wiring place: `python worker.py`, `amend worker`, `amend dev`, the demo and the tests all
build their worker here. It decides nothing about amendments (the workflows and the domain do).
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
from temporalio.client import Client
from temporalio.common import WorkerDeploymentVersion
from temporalio.worker import (
    FixedSizeSlotSupplier,
    Worker,
    WorkerDeploymentConfig,
    WorkerTuner,
)

from activities.dintero import DinteroActivities
from amendments.config import Settings, SettingsError, checkout_settings
from amendments.dintero import DinteroClient, build_http
from amendments.dintero.accounts import LISTED, Accounts
from amendments.dintero.auth import DinteroTokenAuth
from amendments.dintero.directory import AccountClients
from amendments.payments.accounts import Directory, ManyAccounts
from amendments.payments.checkout.adapter import DinteroCheckout
from amendments.payments.checkout.client import CheckoutClient
from amendments.payments.checkout.receiver import Merchant, Signing
from amendments.payments.port import Payments, RecordOnly
from amendments.temporal.connection import connect, connect_options, ensure_search_attributes
from amendments.worker import telemetry
from amendments.worker.tuning import UnderWayFirst
from workflows.amend import AmendOrder, VersionedAmendOrder
from workflows.place import PlaceOrder, VersionedPlaceOrder

log = logging.getLogger("amendments.worker")
WORKFLOWS: Sequence[type] = (PlaceOrder, AmendOrder)
# The same workflows on a versioned worker, each declaring its versioning behavior.
VERSIONED_WORKFLOWS: Sequence[type] = (VersionedPlaceOrder, VersionedAmendOrder)

# Worker tuning, shared by the product's worker and the benchmark's Temporal-floor worker, so that
# both run under the same settings.
#
# - activity slots (50): activities in flight at once per worker; each holds at most one
#   pooled HTTP connection to Dintero. Kept at what one Python process can serve well within the
#   activities' 15 s start-to-close: measured at 200, a saturated worker let activities time out
#   and be retried (238 timed out in one benchmark run, every write reconciled, but wasted); the
#   backlog is better left in Temporal's task queue, where no activity timeout runs.
# - workflow task slots (20): workflow tasks taken at once. They run one at a time on the
#   Python side, so a task taken beyond what the worker completes within a second or two only
#   waits inside the worker while its 10 s timeout runs: measured with 10,000 amendments at once
#   and the default 100, 6,820 tasks took over 5 s and 657 timed out and ran again. At 20 the
#   backlog waits in the server's task queue instead. The slots serve the amendments under way
#   first (`amendments/worker/tuning.py`): a new amendment is taken while no cached one has a task.
# - max_cached_workflows: workflows kept in memory between their tasks. A cached workflow costs
#   about 0.17 MiB (each runs in its own sandbox; measured by the benchmark's waiting mode), so
#   2,000 bound the cache near 350 MiB whatever the number of amendments waiting for a top-up; a
#   workflow that fell out of the cache replays its history (about 60 events) on its next task,
#   which costs CPU once per signal, not memory per waiting amendment. A burst of more amendments
#   than the cache holds does not replay at every step: the slots above and the writes' priority
#   keys (workflows/policies.py) keep the amendments under way few.
# - graceful_shutdown_timeout: on SIGTERM, how long running activities may finish.
WORKFLOW_TASK_SLOTS = 20
ACTIVITY_SLOTS = 50
LOCAL_ACTIVITY_SLOTS = 100  # the SDK's default
NEXUS_SLOTS = 100  # the SDK's default; the product serves no Nexus operations


def worker_tuning() -> dict[str, Any]:
    """The tuning of one worker (its own slots: they count that worker's tasks)."""
    return {
        "tuner": WorkerTuner.create_composite(
            workflow_supplier=UnderWayFirst(WORKFLOW_TASK_SLOTS),
            activity_supplier=FixedSizeSlotSupplier(ACTIVITY_SLOTS),
            local_activity_supplier=FixedSizeSlotSupplier(LOCAL_ACTIVITY_SLOTS),
            nexus_supplier=FixedSizeSlotSupplier(NEXUS_SLOTS),
        ),
        "max_cached_workflows": 2_000,
        "graceful_shutdown_timeout": timedelta(seconds=10),
    }


def dintero_client(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> DinteroClient:
    """The single account's Dintero client (`DINTERO_ACCOUNT_ID` and its credentials)."""
    http = _http(settings, settings.dintero_base_url, transport=transport)
    return DinteroClient(http, settings.dintero_credentials()[0])


def account_clients(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> AccountClients:
    """A Dintero client for each account the settings serve (`DINTERO_ACCOUNTS_FILE`, and the
    single account's settings, the default), each made on first use."""
    return AccountClients(
        settings.accounts(),
        base_url=settings.dintero_base_url,
        timeout=_timeout(settings),
        transport=transport,
    )


def checkout_client(settings: Settings, dintero: DinteroClient) -> CheckoutClient:
    """Checkout's client, sharing the Orders client's token."""
    auth = dintero.http.auth
    assert isinstance(auth, DinteroTokenAuth)
    http = _http(settings, settings.dintero_checkout_base_url, auth=auth)
    return CheckoutClient(http, settings.dintero_checkout_profile_id or "")


def _timeout(settings: Settings) -> httpx.Timeout:
    return httpx.Timeout(settings.dintero_timeout_seconds, connect=5.0)


def _http(settings: Settings, base_url: str, **options: Any) -> httpx.AsyncClient:
    """A Dintero HTTP client from the settings' credentials and timeout."""
    account_id, client_id, secret = settings.dintero_credentials()
    return build_http(
        base_url=base_url,
        account_id=account_id,
        client_id=client_id,
        client_secret=secret,
        timeout=_timeout(settings),
        **options,
    )


def payments_for(settings: Settings, dintero: DinteroClient) -> Payments:
    """The payments adapter `PAYMENTS` names."""
    if settings.payments == "record-only":
        return RecordOnly()
    _, callback_base_url = checkout_settings(settings)
    return DinteroCheckout(
        checkout_client(settings, dintero), callback_base_url, dintero.account_id
    )


def account_checkout(
    settings: Settings, clients: AccountClients, account_id: str
) -> CheckoutClient:
    """One account's Checkout client: its Orders client's token, its payment profile."""
    account = clients.account(account_id)
    http = build_http(
        base_url=settings.dintero_checkout_base_url,
        account_id=account_id,
        timeout=_timeout(settings),
        auth=clients.client(account_id).http.auth,
    )
    return CheckoutClient(http, account.checkout_profile_id or "")


class AccountMerchants:
    """The callback receiver's side of each account (`Merchant`): its Checkout client and its
    signature check, made on first use; None for an account the settings do not serve."""

    def __init__(self, settings: Settings, clients: AccountClients) -> None:
        self.settings = settings
        self.clients = clients
        self._made: dict[str, Merchant] = {}
        for account in clients.accounts.accounts.values():
            if account.signature_secret is not None and not settings.callback_base_url:
                raise SettingsError(
                    f"{account.signature_secret.key} needs CALLBACK_BASE_URL: the signature is "
                    "over the public URL Dintero calls"
                )

    def get(self, account_id: str | None) -> Merchant | None:
        served = self.clients.accounts
        wanted = account_id or served.default
        if wanted is None or wanted not in served.accounts:
            return None
        found = self._made.get(wanted)
        if found is None:
            account = served.accounts[wanted]
            signing = None
            if account.signature_secret is not None:
                assert self.settings.callback_base_url is not None
                signing = Signing(
                    account.signature_secret.read(), wanted, self.settings.callback_base_url
                )
            checkout = account_checkout(self.settings, self.clients, wanted)
            found = self._made[wanted] = Merchant(wanted, checkout, signing)
        return found

    async def aclose(self) -> None:
        for merchant in self._made.values():
            await merchant.checkout.aclose()
        await self.clients.aclose()


def directory(settings: Settings) -> ManyAccounts:
    """Every account's Orders client and payments adapter, for the activities; with
    `PAYMENTS=dintero-checkout` every account needs its Checkout profile (a SettingsError names
    the one without)."""
    clients = account_clients(settings)
    if settings.payments == "record-only":
        return ManyAccounts(clients)
    if settings.dintero_accounts_file is None:
        checkout_settings(settings)  # the single account's: names each setting missing
    if not settings.callback_base_url:
        raise SettingsError("PAYMENTS=dintero-checkout needs CALLBACK_BASE_URL")
    for account in clients.accounts.accounts.values():
        if not account.checkout_profile_id:
            where = (
                "DINTERO_CHECKOUT_PROFILE_ID"
                if account.account_id == settings.dintero_account_id
                else f"DINTERO_ACCOUNTS_FILE accounts.{account.account_id}.checkout_profile_id"
            )
            raise SettingsError(f"PAYMENTS=dintero-checkout needs {where}")
    base = settings.callback_base_url.rstrip("/")

    def checkout_of(clients: AccountClients, account_id: str) -> Payments:
        return DinteroCheckout(account_checkout(settings, clients, account_id), base, account_id)

    return ManyAccounts(clients, checkout_of)


def build_worker(
    client: Client,
    dintero: DinteroClient | Directory,
    task_queue: str,
    payments: Payments | None = None,
    version: WorkerDeploymentVersion | None = None,
    **tuning: Any,
) -> Worker:
    """The worker; with `version`, it runs as that version of its deployment (Worker
    Deployment Versioning: each workflow declares its versioning behavior), else unversioned."""
    activities = DinteroActivities(dintero, payments)
    deployment = (
        WorkerDeploymentConfig(version=version, use_worker_versioning=True)
        if version is not None
        else None
    )
    return Worker(
        client,
        task_queue=task_queue,
        deployment_config=deployment,
        workflows=list(WORKFLOWS if version is None else VERSIONED_WORKFLOWS),
        activities=[
            activities.plan_amendment,
            activities.create_draft,
            activities.complete_draft,
            activities.record_operation,
            activities.verify_ledger,
            activities.open_payment_session,
            activities.checkout_capture,
            activities.checkout_refund,
            activities.checkout_void,
        ],
        **{**worker_tuning(), **tuning},
    )


async def run(settings: Settings, stop: asyncio.Event) -> None:
    accounts = directory(settings)
    served = accounts.clients.accounts
    for account in served.accounts.values():
        for problem in account.unreadable():
            log.warning("account %s cannot be used until fixed: %s", account.account_id, problem)
    provider = telemetry.tracing(settings)
    runtime = telemetry.runtime(settings)
    client = await connect(
        settings, runtime=runtime, interceptors=telemetry.interceptors(provider is not None)
    )
    tasks = []
    if runtime is not None:
        log.info("metrics on http://%s/metrics", settings.metrics_bind_address)
        watching = telemetry.watch(
            client,
            runtime.metric_meter,
            settings.task_queue,
            stop,
            settings.metrics_visibility_seconds,
        )
        tasks.append(asyncio.create_task(watching))
    added = await ensure_search_attributes(client, settings.temporal_namespace)
    if added:
        log.info("registered search attributes %s on %s", added, settings.temporal_namespace)
    version = settings.deployment_version
    worker = build_worker(client, accounts, settings.task_queue, version=version)
    keyring = settings.keyring()
    log.info(
        "worker polling %s as %s; Temporal: %s; payloads %s; Dintero at %s (%s)",
        settings.task_queue,
        f"build {version.build_id} of deployment {version.deployment_name}"
        if version is not None
        else "an unversioned worker (no TEMPORAL_WORKER_BUILD_ID)",
        connect_options(settings).describe(),
        f"encrypted (key {keyring.current})" if keyring else "not encrypted",
        settings.dintero_base_url,
        _accounts_line(served),
    )
    try:
        async with worker:
            await stop.wait()
            log.info("stopping: finishing running activities")
    finally:
        await asyncio.gather(*tasks, return_exceptions=True)
        await accounts.aclose()
        if provider is not None:
            provider.shutdown()  # flushes the spans not yet exported
    log.info("worker stopped")


def _accounts_line(served: Accounts) -> str:
    """The accounts the worker serves, for its start line: each, and how it is reached."""
    if len(served.accounts) == 1 and served.default is not None:
        return f"account {served.default}"
    shown = ", ".join(
        f"{a.account_id} {a.reached}" + (" (default)" if a.account_id == served.default else "")
        for a in list(served.accounts.values())[:LISTED]
    )
    more = len(served.accounts) - LISTED
    return f"{len(served.accounts)} accounts: {shown}" + (f" and {more} more" if more > 0 else "")


async def serve_until_signalled(settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await run(settings, stop)
