"""The README and the documentation site: a short README with the two commands, every page it
points at in the site's navigation, every `amend` command shown a real one, every setting named
one the code reads, the pictures each page promises, each drawn by mermaid in a browser.
(`scripts/test` builds the site with `mkdocs build --strict`: no broken link or anchor, no page
left out of the navigation.)"""

from __future__ import annotations

import re
import subprocess
from typing import get_args

import pytest
import yaml

from amendments.config import Settings
from amendments.domain import ids
from amendments.domain.models import REFUND_PRODUCT_ID, RELEASE_PRODUCT_ID, AmendmentStatus
from amendments.domain.order import RecordKind
from tests.support.cli import AMEND
from tests.support.mermaid import mermaid_script
from tests.support.paths import ROOT

PAGES = sorted((ROOT / "docs").glob("*.md"))


class _Config(yaml.SafeLoader):
    """mkdocs.yml as YAML, its `!!python/name:` tags (a fence's formatter) read as plain text."""


_Config.add_multi_constructor("tag:yaml.org,2002:python/name:", lambda loader, suffix, node: suffix)


def nav_pages() -> set[str]:
    config = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Config)  # noqa: S506
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, str) and node.endswith(".md"):
            found.add(node)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config["nav"])
    return found


def test_the_readme_is_short_and_keeps_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    block = readme.split("## Two commands", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    assert [line.split()[0] for line in block.splitlines()] == ["scripts/demo", "scripts/test"]
    assert "scripts/test" in (ROOT / ".ci" / "run").read_text()


def test_every_page_the_readme_points_at_is_in_the_site() -> None:
    readme = (ROOT / "README.md").read_text()
    linked = set(re.findall(r"\]\(docs/([\w-]+\.md)\)", readme))
    assert linked
    assert linked <= nav_pages()
    assert {p.name for p in PAGES} == nav_pages()


def test_every_amend_command_shown_exists() -> None:
    listed = subprocess.run(
        [AMEND, "--help"], capture_output=True, text=True, check=True, env={"COLUMNS": "200"}
    ).stdout
    commands = set(re.findall(r"^  ([a-z][\w-]+)\s", listed.split("Commands:", 1)[1], flags=re.M))
    assert {"start", "status", "conformance", "codec-server"} <= commands
    shown: set[str] = set()
    for path in [ROOT / "README.md", *PAGES]:
        shown |= set(re.findall(r"`amend ([a-z][\w-]+)", path.read_text()))
    assert shown - commands == set()


def test_every_setting_in_the_configuration_table_is_read() -> None:
    table = (ROOT / "docs" / "configuration.md").read_text().split("| variable |", 1)[1]
    named = set(re.findall(r"^\| `([A-Z_]+)`", table, flags=re.MULTILINE))
    named |= set(re.findall(r"^\| `[A-Z_]+`, `([A-Z_]+)`", table, flags=re.MULTILINE))
    temporal_own = {  # read by temporalio.envconfig, not by Settings
        "TEMPORAL_TLS_CLIENT_CERT_PATH",
        "TEMPORAL_TLS_CLIENT_KEY_PATH",
        "TEMPORAL_TLS_SERVER_CA_CERT_PATH",
        "TEMPORAL_TLS_SERVER_NAME",
    }
    fields = {name.upper() for name in Settings.model_fields}
    assert named - fields - temporal_own == set()
    assert {"ENCRYPTION_KEYS", "TEMPORAL_PROFILE", "DINTERO_ACCOUNT_ID"} <= named


def diagrams(page: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)```", (ROOT / "docs" / page).read_text(), re.DOTALL)


def test_the_pages_people_would_rather_look_at_have_their_pictures() -> None:
    """The amendment's states and the money in each branch (concepts), the replay and the
    release procedures (operating), the rooms (architecture), drawn with the code's names."""
    states = [d for d in diagrams("concepts.md") if d.startswith("stateDiagram")]
    assert len(states) == 1
    for status in get_args(AmendmentStatus):
        assert re.search(rf"\b{status}\b", states[0]), status
    assert {ids.OUTCOME, ids.REVERT} <= set(re.findall(r"[\w-]+", states[0]))
    money = [d for d in diagrams("concepts.md") if d.startswith("flowchart")]
    assert len(money) == 4  # even and refund, release, top-up, revert
    drawn = "\n".join(money)
    for name in (REFUND_PRODUCT_ID, RELEASE_PRODUCT_ID, *get_args(RecordKind)):
        assert name in drawn, name
    replay, release = diagrams("operating.md")
    assert "amend replay --failed --dry-run" in replay
    for command in ("check", "promote", "status", "rollback"):
        assert f"amend deploy {command}" in release
    assert len(diagrams("architecture.md")) == 1


@pytest.mark.timeout(300)
async def test_every_diagram_draws_in_a_browser() -> None:
    """Each mermaid block of every page, drawn by mermaid in chromium as the site draws it: a
    syntax error fails here, where `mkdocs build --strict` cannot see it."""
    from playwright.async_api import async_playwright

    blocks = [(page.name, block) for page in PAGES for block in diagrams(page.name)]
    assert len(blocks) >= 8
    script = mermaid_script()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless=new", "--no-sandbox", "--disable-gpu"],
        )
        page = await browser.new_page()
        await page.set_content("<html><body></body></html>")
        await page.add_script_tag(path=str(script))
        await page.evaluate("mermaid.initialize({startOnLoad: false})")
        for n, (name, block) in enumerate(blocks):
            drawn = await page.evaluate(
                """async ([id, text]) => {
                    try { return (await mermaid.render(id, text)).svg; }
                    catch (e) { return "error: " + (e.message || String(e)); }
                }""",
                [f"diagram{n}", block],
            )
            assert drawn.startswith("<svg"), f"{name}: {drawn[:500]}"
            assert "Syntax error" not in drawn, name
        await browser.close()
