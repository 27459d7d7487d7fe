"""Dependencies point one way, and careflow's modules import each other without cycles.

The graph is built with `ast` from every import statement in the product code
(module level, inside functions and under `TYPE_CHECKING` alike: a lazy or
type-only import that closes a cycle is still a cycle, only hidden):

- `rules/` imports nothing from `workflows/`, `activities/` or careflow's apps;
- workflows and activities do not import each other; both use `careflow.contracts`;
- no import cycle runs through careflow/, workflows/, activities/ or rules/
  (`KNOWN_CYCLES` is where a cycle would be listed while it is being broken).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from pathlib import Path

import careflow

PACKAGE = Path(careflow.__file__).resolve().parent
# The links careflow/workflows etc. point at the top-level folders: follow them.
SKIPPED = {"migrations"}
APPS = ("careflow.api", "careflow.cli", "careflow.console", "careflow.runtime", "careflow.worker")

# No cycle is allowed. (The last one, the CLI's command modules importing the root app
# that imported them, went with the lazy command table in cli/app.py.)
KNOWN_CYCLES: set[frozenset[str]] = set()


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for folder, dirs, files in os.walk(PACKAGE, followlinks=True):
        dirs[:] = [name for name in dirs if name not in SKIPPED and not name.startswith((".", "_"))]
        for name in files:
            if not name.endswith(".py"):
                continue
            path = Path(folder) / name
            parts = ["careflow", *path.relative_to(PACKAGE).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imported(module: str, path: Path) -> Iterator[str]:
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            # `from a import b` imports the module a.b when b is one, else a.
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                yield target
                # Importing a.b.c runs the packages a and a.b first: their __init__ imports
                # are part of the cycle (only the importer's own packages are already
                # running, so those add nothing).
                yield from _packages_run_first(module, target)


def _packages_run_first(module: str, target: str) -> Iterator[str]:
    parts = target.split(".")
    for end in range(1, len(parts)):
        package = ".".join(parts[:end])
        if package in MODULES and not (module == package or module.startswith(f"{package}.")):
            yield package


GRAPH = {module: set(_imported(module, path)) for module, path in MODULES.items()}


def _cycles() -> list[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []
    for root in sorted(GRAPH):
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(frozenset(component))
    return found


def _imports_from(prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        if module == prefix or module.startswith(f"{prefix}.")
        for target in targets
        if any(target == bad or target.startswith(f"{bad}.") for bad in forbidden)
    )


def test_the_graph_covers_the_linked_packages() -> None:
    for package in ("workflows", "activities", "rules", "contracts"):
        assert f"careflow.{package}" in MODULES


def test_rules_import_no_workflows_activities_or_apps() -> None:
    forbidden = ("careflow.workflows", "careflow.activities", *APPS)
    assert _imports_from("careflow.rules", forbidden) == []


def test_workflows_and_activities_do_not_import_each_other() -> None:
    assert _imports_from("careflow.workflows", ("careflow.activities",)) == []
    assert _imports_from("careflow.activities", ("careflow.workflows",)) == []


def test_contracts_depend_on_nothing_above_them() -> None:
    above = ("careflow.workflows", "careflow.activities", "careflow.store", *APPS)
    assert _imports_from("careflow.contracts", above) == []


def test_there_is_no_import_cycle_but_the_known_ones() -> None:
    cycles = set(_cycles())
    new = [sorted(cycle) for cycle in cycles - KNOWN_CYCLES]
    assert new == [], "import cycles (each a list of modules importing each other)"
    assert KNOWN_CYCLES - cycles == set(), "a known cycle is gone: remove it from KNOWN_CYCLES"
