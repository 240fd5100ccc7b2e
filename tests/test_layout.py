"""The house rules a new engineer can rely on, checked on the code as it stands (read with `ast`,
nothing run): the rooms import only downward and the architecture page draws them as they are;
no module is over 500 lines; no library module imports an entry point; ids, step names and
`amend-` workflow ids are built in `amendments/domain/ids.py` only; failure types and operator
hints are spelled in `amendments/failures.py` only; only the render room prints for people."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from amendments import failures
from tests.support.layout import (
    ENTRY_POINTS,
    PRODUCT,
    ROOMS,
    imports,
    literals,
    mermaid,
    room_imports,
    sources,
)
from tests.support.paths import ROOT

IDS = ROOT / "amendments" / "domain" / "ids.py"
FAILURES = ROOT / "amendments" / "failures.py"
# The tests that pin the spellings (the one place besides the modules that write them out).
PINS = (ROOT / "tests" / "domain" / "test_ids.py", ROOT / "tests" / "test_failures.py")
ARCHITECTURE = ROOT / "docs" / "architecture.md"
EVERYTHING = (*PRODUCT, "worker.py", "bench", "tests")


def test_rooms_import_only_downward() -> None:
    order = {room: index for index, room in enumerate(ROOMS)}
    upward = [
        f"{room} imports {other}"
        for room, others in room_imports().items()
        for other in others
        if order[other] <= order[room]
    ]
    assert upward == []


def test_the_architecture_page_draws_the_imports_as_they_are() -> None:
    """The picture is the code's: `python -m tests.support.layout` prints it."""
    page = ARCHITECTURE.read_text(encoding="utf-8")
    drawn = re.search(r"```mermaid\n(flowchart TB\n.*?)```", page, flags=re.DOTALL)
    assert drawn is not None, "docs/architecture.md has no mermaid picture of the rooms"
    assert drawn.group(1) == mermaid()


def test_the_architecture_page_shows_the_real_tree() -> None:
    """Every folder and root module under amendments/ is named in the page's tree, and the tree
    names nothing that is not there."""
    page = ARCHITECTURE.read_text(encoding="utf-8")
    tree = re.search(r"```text\n(amendments/\n.*?)```", page, flags=re.DOTALL)
    assert tree is not None, "docs/architecture.md has no tree of amendments/"
    shown = set(re.findall(r"[├└]── ([\w./]+)", tree.group(1)))
    real = {
        p.name + ("/" if p.is_dir() else "")
        for p in (ROOT / "amendments").iterdir()
        if p.name != "__pycache__" and (p.is_dir() or p.suffix == ".py")
    }
    real |= {
        f"{p.name}/"
        for d in (ROOT / "amendments").iterdir()
        if d.is_dir()
        for p in d.iterdir()
        if p.is_dir() and p.name != "__pycache__"
    }
    assert shown == real


def test_no_module_is_over_500_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources(*PRODUCT, "worker.py", "bench")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 500
    }
    assert long == {}


def test_no_library_module_imports_an_entry_point() -> None:
    entry_modules = ("worker", "amendments.__main__", "amendments.cli", "bench")
    found = []
    for path in sources(*PRODUCT):
        relative = str(path.relative_to(ROOT))
        if relative.startswith(ENTRY_POINTS):
            continue
        for module in imports(path):
            if module in entry_modules or module.startswith(("amendments.cli.", "bench.")):
                found.append(f"{relative} imports {module}")
    assert found == []


# The shapes of the step names the records carry and the amendment shows (`ids.py`): a group's
# record (`reversal-authorization`, `covered-2-capture`, `top-up-1-capture`), a revert's step
# (`revert-...`), a placed order's record, money moved in Checkout for a step (`...-checkout`).
STEP_NAME = re.compile(
    r"^(reversal|covered|top-up|revert|place|refund|release)(-\d+)?-"
    r"(authorization|capture|refund|cancellation|release|checkout|draft|complete|session|void|"
    r"restore|reversal)"
    r"|-(authorization|capture)(-checkout)?$"
    r"|^top-up-\d|^revert-"
)


def test_ids_and_step_names_are_spelled_in_the_ids_module_only() -> None:
    """No `amend-` workflow id and no step name is typed anywhere but `ids.py` (the tests build
    them through it too); docstrings may speak of them."""
    found = []
    for path in sources(*EVERYTHING):
        if path in (IDS, *PINS, Path(__file__)):
            continue
        for literal in literals(path):
            if literal.docstring:
                continue
            if "amend-" in literal.value or STEP_NAME.search(literal.value):
                found.append(f"{path.relative_to(ROOT)}:{literal.line}: {literal.value!r}")
    assert found == []


def test_failure_types_and_hints_are_spelled_in_the_vocabulary_only() -> None:
    """No failure type's name and no operator hint (an `amend` command to run) is typed
    anywhere but `failures.py`; tests name the types through the registry too."""
    names = set(failures.REGISTRY) - {"TimeoutError", "CancelledError", "RPCError"}
    hint = re.compile(r"`amend [a-z]")
    found = []
    for path in sources(*EVERYTHING):
        if path in (FAILURES, *PINS, Path(__file__)):
            continue
        for literal in literals(path):
            if literal.docstring:
                continue
            if literal.value in names or hint.search(literal.value):
                found.append(f"{path.relative_to(ROOT)}:{literal.line}: {literal.value!r}")
    assert found == []


def test_no_application_error_is_made_outside_the_vocabulary() -> None:
    """Every `ApplicationError` the product raises is made by `Failure.error`, so its type is
    a registered one."""
    found = []
    for path in sources(*PRODUCT):
        if path == FAILURES:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name | ast.Attribute)
                and (getattr(node.func, "id", None) or getattr(node.func, "attr", None))
                == "ApplicationError"
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []


@pytest.mark.parametrize("call", ["print", "Console"])
def test_only_the_render_room_prints_for_people(call: str) -> None:
    found = []
    for path in sources(*PRODUCT, "worker.py"):
        if "render" in path.relative_to(ROOT).parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == call:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
