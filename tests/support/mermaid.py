"""Mermaid, to draw the documentation's diagrams in a real browser as the site does (Material
for MkDocs loads it from a CDN, which the tests cannot reach; npm's registry they can): fetched
once with `npm pack` into `.cache/mermaid/`."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tests.support.paths import ROOT

VERSION = "11"  # the major version Material for MkDocs draws with
CACHE = ROOT / ".cache" / "mermaid"
SCRIPT = CACHE / f"mermaid-{VERSION}.min.js"


def mermaid_script() -> Path:
    """`mermaid.min.js`, fetched on first use (atomically: test workers may race for it)."""
    if SCRIPT.is_file():
        return SCRIPT
    npm = shutil.which("npm")
    assert npm is not None, "npm is needed to fetch mermaid for the docs' diagrams"
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE) as work:
        subprocess.run(
            [npm, "pack", "--silent", f"mermaid@{VERSION}"],
            cwd=work, check=True, capture_output=True, timeout=300,
        )  # fmt: skip
        [packed] = Path(work).glob("mermaid-*.tgz")
        with tarfile.open(packed) as archive:
            member = archive.extractfile("package/dist/mermaid.min.js")
            assert member is not None
            fetched = Path(work) / "mermaid.min.js"
            fetched.write_bytes(member.read())
        os.replace(fetched, SCRIPT)
    return SCRIPT
