"""The package's imports point one way: no cycle between modules, none between packages.

Read from the source with ``ast`` (nothing is imported), so a cycle hidden behind
``TYPE_CHECKING`` or a function-level import counts too: it is still a knot a
newcomer has to untie.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP = ("voiceflow", "pipelines")


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in TOP:
        for path in (ROOT / top).rglob("*.py"):
            found[_module_name(path)] = path
    return found


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that ``name`` names (``a.b.C`` → ``a.b``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, path in modules.items():
        is_pkg = path.name == "__init__.py"
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    prefix = ".".join([*base, node.module] if node.module else base)
                else:
                    prefix = node.module or ""
                subs = [f"{prefix}.{a.name}" for a in node.names]
                # ``from pkg import submodule`` depends on the submodule, not on pkg's facade
                targets = subs if all(t in modules for t in subs) else [*subs, prefix]
            for t in targets:
                dep = _resolve(t, modules)
                if dep is not None and dep != mod:
                    edges[mod].add(dep)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def visit(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    nodes = set(edges) | {d for ds in edges.values() for d in ds}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return out


def _package_of(mod: str) -> str:
    return mod.rpartition(".")[0] or mod


def _package_edges(edges: dict[str, set[str]], modules: dict[str, Path]) -> dict[str, set[str]]:
    """Package → package, where a package's ``__init__`` facade counts as its own node.

    A facade re-exporting its submodules is not a cycle; a submodule of package A
    importing package B whose modules import A is.
    """
    pk: dict[str, set[str]] = defaultdict(set)
    for mod, deps in edges.items():
        src = mod if modules[mod].name == "__init__.py" else _package_of(mod)
        for d in deps:
            dst = d if modules[d].name == "__init__.py" else _package_of(d)
            # a package's own facade and its submodules are one house
            if dst == src or dst.startswith(src + ".") or src.startswith(dst + "."):
                continue
            pk[src].add(dst)
    return pk


def test_no_module_import_cycle() -> None:
    cycles = _cycles(import_graph())
    assert not cycles, "module import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_no_package_import_cycle() -> None:
    modules = _modules()
    cycles = _cycles(_package_edges(import_graph(), modules))
    assert not cycles, "package import cycles:\n" + "\n".join(" ↔ ".join(c) for c in cycles)


def test_product_does_not_import_the_test_kit() -> None:
    edges = import_graph()
    bad = sorted(
        f"{m} → {d}"
        for m, ds in edges.items()
        if not m.startswith("voiceflow.testing")
        for d in ds
        if d.startswith("voiceflow.testing")
    )
    assert not bad, "the product imports its test kit:\n" + "\n".join(bad)


def test_the_detector_sees_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
