"""The README and the documentation site: a short README with the two commands, every page it
points at in the site's navigation, every `amend` command shown a real one, every setting named
one the code reads. (`scripts/test` builds the site with `mkdocs build --strict`: no broken
link or anchor, no page left out of the navigation.)"""

from __future__ import annotations

import re
import subprocess

import yaml

from amendments.config import Settings
from tests.support.cli import AMEND
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
