"""The product's layout as the code says it: its rooms (the folders under `amendments/`, its two
root modules, `workflows/`, `activities/`, `worker.py`, `bench/`), the imports between them, and
the string literals of its modules, read with `ast` (nothing is imported or run).

`python -m tests.support.layout` prints the rooms' import picture as the architecture page draws
it (mermaid, top to bottom, the arrows a longer way implies left out).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.paths import ROOT

# The rooms, top floor first: a room imports only rooms after it in this list.
ROOMS = (
    "bench",
    "cli",
    "local",
    "ops",
    "worker.py",
    "api",
    "worker",
    "workflows",
    "activities",
    "simulator",
    "config.py",
    "payments",
    "dintero",
    "render",
    "temporal",
    "failures.py",
    "domain",
)
# What starts a process; no other module imports one.
ENTRY_POINTS = ("worker.py", "amendments/__main__.py", "amendments/cli/", "bench/")
PRODUCT = ("amendments", "workflows", "activities")


def room_of(path: Path) -> str | None:
    """The room a source file stands in, or None (tests, scripts)."""
    parts = path.relative_to(ROOT).parts
    if parts[0] in ("workflows", "activities", "bench"):
        return parts[0]
    if parts == ("worker.py",):
        return "worker.py"
    if parts[0] == "amendments":
        if len(parts) == 2:
            return None if parts[1] in ("__init__.py", "__main__.py") else parts[1]
        return parts[1]
    return None


def module_room(module: str) -> str | None:
    """The room an imported module stands in (`amendments.api.starter` -> `api`)."""
    parts = module.split(".")
    if parts[0] in ("workflows", "activities", "bench"):
        return parts[0]
    if parts[0] == "worker":
        return "worker.py"
    if parts[0] == "amendments" and len(parts) > 1:
        return parts[1] if parts[1] in ROOMS else f"{parts[1]}.py"
    return None


def sources(*tops: str) -> Iterator[Path]:
    for top in tops:
        path = ROOT / top
        if path.is_file():
            yield path
        else:
            yield from sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def imports(path: Path) -> Iterator[str]:
    """Every module a file imports (`from x import y` gives `x` and `x.y`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def room_imports() -> dict[str, set[str]]:
    """Room -> the other rooms it imports."""
    graph: dict[str, set[str]] = {room: set() for room in ROOMS}
    for path in sources(*PRODUCT, "worker.py", "bench"):
        room = room_of(path)
        if room is None:
            continue
        for module in imports(path):
            other = module_room(module)
            if other is not None and other != room and other in graph:
                graph[room].add(other)
    return graph


def reduced(graph: dict[str, set[str]]) -> set[tuple[str, str]]:
    """The arrows a longer way does not imply (the graph's transitive reduction)."""

    def reach(start: str, skip: tuple[str, str]) -> set[str]:
        seen: set[str] = set()
        stack = [b for b in graph[start] if (start, b) != skip]
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(graph[node])
        return seen

    return {(a, b) for a, targets in graph.items() for b in targets if b not in reach(a, (a, b))}


def node(room: str) -> str:
    return room.replace(".py", "_py")


def label(room: str) -> str:
    return room if room.endswith(".py") else f"{room}/"


def mermaid() -> str:
    """The picture the architecture page shows: rooms top to bottom, the direct arrows only."""
    lines = ["flowchart TB"]
    lines += [f'    {node(room)}["{label(room)}"]' for room in ROOMS]
    order = {room: index for index, room in enumerate(ROOMS)}
    for a, b in sorted(reduced(room_imports()), key=lambda e: (order[e[0]], order[e[1]])):
        lines.append(f"    {node(a)} --> {node(b)}")
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Literal:
    path: Path
    line: int
    value: str
    docstring: bool


def literals(path: Path) -> Iterator[Literal]:
    """Every string constant of a file, f-strings' constant parts included, and whether it is a
    docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs: set[int] = set()
    for node_ in ast.walk(tree):
        if isinstance(node_, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == "__all__" for target in node_.targets
        ):
            docs.update(id(c) for c in ast.walk(node_.value))  # names, not words
        if isinstance(node_, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node_.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                docs.add(id(body[0].value))
    for node_ in ast.walk(tree):
        if isinstance(node_, ast.Constant) and isinstance(node_.value, str):
            yield Literal(path, node_.lineno, node_.value, id(node_) in docs)


if __name__ == "__main__":
    sys.stdout.write(mermaid())
