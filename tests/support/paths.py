"""Where things are, for every test: the repository, its examples, the worker's entry point, the
stored histories and the artifacts a failing test leaves behind."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
HISTORIES = TESTS / "histories"
EXAMPLES = ROOT / "examples"
ARTIFACTS = ROOT / "artifacts"
WORKER = str(ROOT / "worker.py")
