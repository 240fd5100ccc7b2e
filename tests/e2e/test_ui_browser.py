"""The Temporal UI, in Debian's chromium driven by Playwright: an operator finds a finished
amendment by `OrderId` and sees its status, summary, step ledger and search attributes.
A screenshot is saved under artifacts/."""

from __future__ import annotations

import urllib.parse
import uuid
from collections.abc import Iterator

import pytest
from playwright.async_api import Page, async_playwright, expect
from pydantic import SecretStr
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from amendments.api.starter import place_order, start_amendment
from amendments.config import Settings
from amendments.domain import ids
from amendments.domain.models import AmendOrderInput
from amendments.domain.planner import plan_amendment
from amendments.ops.codec_server import codec_app
from amendments.simulator import BackgroundServer
from amendments.temporal.codec import data_converter
from amendments.worker.wiring import build_worker, dintero_client
from tests.support.clients import make_client
from tests.support.harness import PATIENCE, Harness, eventually
from tests.support.keys import KEY_1, ROTATED, keyring
from tests.support.orders import CHAIR, item
from tests.support.paths import ARTIFACTS

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Every `expect` waits for its element this long (Playwright's default is 5 s, which a loaded
# machine's browser can spend rendering).
expect.set_options(timeout=PATIENCE * 1000)


async def find_by_order_id(page: Page, harness: Harness, ui_url: str, order_id: str) -> None:
    """Open the UI's list filtered by `OrderId` once visibility lists the run (it is eventually
    consistent: the condition is waited for through Temporal's own API, not a reload budget)."""
    query = f'OrderId="{order_id}"'

    async def listed() -> bool | None:
        async for _ in harness.client.list_workflows(query):
            return True
        return None

    await eventually(listed)
    await page.goto(f"{ui_url}/namespaces/default/workflows?query={urllib.parse.quote(query)}")
    await expect(page.get_by_role("link", name=ids.workflow_id(order_id)).first).to_be_visible()


@pytest.fixture(scope="module")
def codec_server(ui_url: str, codec_port: int) -> Iterator[str]:
    """`amend codec-server`'s app where the session's UI looks for it, for the UI's origin."""
    app = codec_app(keyring(ROTATED), token=None, origins=[ui_url])
    with BackgroundServer(app, port=codec_port) as url:
        yield url


async def test_operator_finds_an_amendment_by_order_id(
    harness: Harness, served: tuple[object, str], ui_url: str, codec_server: str
) -> None:
    _, url = served
    order_id = await harness.place(CHAIR)
    request = AmendOrderInput.model_validate(
        {
            "order_id": order_id,
            "amendment_id": "ui-check",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item("X", 30000)],
        }
    )
    client = make_client(url)
    plan = plan_amendment(await client.read_order(order_id), request)
    await client.aclose()
    handle = await start_amendment(
        harness.client, request, task_queue=harness.task_queue, plan=plan
    )
    await handle.result()

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=ARGS, timeout=PATIENCE * 1000
        )
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(PATIENCE * 1000)
        await find_by_order_id(page, harness, ui_url, order_id)
        await page.get_by_role("link", name=ids.workflow_id(order_id)).first.click()
        await expect(page.get_by_text("COMPLETED").first).to_be_visible()
        await expect(page.get_by_text("AmendOrder").first).to_be_visible()

        await page.get_by_role("tab", name="User Metadata").click()
        # The UI renders each Markdown block in its own sandboxed iframe.
        summary, details, current = (page.frame_locator("iframe").nth(i) for i in range(3))
        await expect(
            summary.get_by_text(
                f"Order {order_id} · reverse line 1 · add X x1 · difference -9800 NOK · refund 9800"
            )
        ).to_be_visible()
        await expect(
            details.get_by_text("line 4: refund, amendment-refund x1, 9800")
        ).to_be_visible()
        await expect(current.get_by_text("Completed · step done")).to_be_visible()
        await expect(current.get_by_text("refund: 9800")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "ui-amendment-metadata.png"), full_page=True)

        await page.get_by_role("tab", name="Search Attributes").click()
        attributes = page.locator("main")
        for text in (
            f'"OrderId": "{order_id}"',
            '"AmendmentId": "ui-check"',
            '"AmendmentStatus": "Completed"',
            '"TopUpOutstanding": 0',
        ):
            await expect(attributes).to_contain_text(text)
        await page.screenshot(path=str(ARTIFACTS / "ui-amendment-search-attributes.png"))
        await browser.close()
    assert (ARTIFACTS / "ui-amendment-metadata.png").stat().st_size > 10_000


async def test_an_encrypted_amendment_is_shown_decoded_through_the_codec_server(
    env: WorkflowEnvironment,
    served: tuple[object, str],
    socket_sim: object,
    ui_url: str,
    codec_server: str,
) -> None:
    """A worker and a client with ENCRYPTION_KEYS: Temporal holds only sealed payloads, and the
    UI shows the amendment's input in plain text by asking the codec server."""
    _, url = served
    target = env.client.service_client.config.target_host
    client = await Client.connect(target, data_converter=data_converter(keyring(KEY_1)))
    settings = Settings(
        _env_file=None,
        dintero_base_url=url,
        dintero_account_id="T12345678",
        dintero_client_id="ui-encrypted",
        dintero_client_secret=SecretStr("ui-encrypted-secret"),
    )
    dintero = dintero_client(settings)
    queue = f"enc-ui-{uuid.uuid4()}"
    product = "SECRET-UI-LAMP"
    async with build_worker(client, dintero, queue):
        placed = await place_order(
            client,
            {"currency": "NOK", "items": [CHAIR], "payment_id": "PID-UI-SECRET"},
            task_queue=queue,
        )
        order_id = placed.order_id
        request = {
            "order_id": order_id,
            "amendment_id": "ui-encrypted",
            "reverse": [{"line_id": 1, "quantity": None, "reason": "Replace item"}],
            "add": [item(product, 30000)],
        }
        handle = await start_amendment(client, request, task_queue=queue)
        await handle.result()
    await dintero.aclose()
    history = await env.client.get_workflow_handle(handle.id).fetch_history()
    stored = b"".join(event.SerializeToString() for event in history.events)
    assert product.encode() not in stored

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=ARGS, timeout=PATIENCE * 1000
        )
        page = await browser.new_page(viewport={"width": 1500, "height": 1000})
        page.set_default_timeout(PATIENCE * 1000)
        await page.goto(f"{ui_url}/namespaces/default/workflows/{handle.id}")
        await expect(page.get_by_text("COMPLETED").first).to_be_visible()
        await expect(page.get_by_text(product).first).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / "ui-encrypted-decoded.png"), full_page=True)
        await browser.close()
