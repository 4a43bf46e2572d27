"""The package's import graph: layers import one way, and no module imports itself round a cycle.

data -> backbones -> segment -> detect -> click -> app, with evaluation and
cli on top; ``errors`` and ``registry`` may be imported from anywhere, and
``synthetic`` (generated data for tests and training augmentation) and
``metrics`` sit beside ``data``. Every import counts, also those inside
functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import defectlab

PACKAGE = Path(defectlab.__file__).parent

RANK = {
    "errors": 0, "registry": 0,
    "data": 1, "metrics": 1, "synthetic": 1.5,  # synthetic writes its sets through data.io
    "backbones": 2, "segment": 3, "detect": 4, "click": 5, "app": 6,
    "evaluation": 7, "jobs": 7, "cli": 8,  # jobs: batch scoring at scale (Ray), beside evaluation
}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PACKAGE.rglob("*.py")}


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of this package that ``name`` imports (a package when no submodule matches)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_every_subpackage_has_a_layer():
    assert {layer(m) for m in modules()} - {None} <= set(RANK)


def test_no_import_runs_upward_or_sideways():
    bad = []
    for src, targets in graph().items():
        for dst in targets:
            a, b = layer(src), layer(dst)
            if a is None or b is None or a == b:
                continue  # the package's own __init__, or within one layer
            if RANK[b] >= RANK[a] and RANK[b] > 0:
                bad.append(f"{src} -> {dst}")
    assert not bad, "imports against the layer order:\n" + "\n".join(sorted(bad))


def test_no_import_cycle():
    g = graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in g:
        if v not in index:
            visit(v)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)
