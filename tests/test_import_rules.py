"""The package's layers, as a test: which part of evalkit may import which.

The source is read with ``ast`` (nothing is imported), so this runs in milliseconds. Every
``import`` counts, including those inside functions: a lazy import still ties the two modules
together, it only moves the cost. Imports by name through ``importlib`` are the CLI's plug-in
mechanism (``cli.PLUGIN_COMMANDS``) and the packages' lazy ``__getattr__`` exports; they are not
``import`` statements and are not counted.

The rules (issue 17):

- ``evalkit.spec`` imports nothing of evalkit but ``evalkit.errors``: the plan formats are the
  bottom layer. ``errors`` is the one allowed import because every layer raises the same
  exception root, and ``errors`` itself imports nothing of evalkit.
- ``evalkit.estimate`` never imports ``report``, ``publish``, ``store``, ``monitor`` or ``cli``:
  an estimator computes numbers; it does not know where they are shown or kept.
- nothing imports ``evalkit.cli`` (the shared command helpers live in ``evalkit.console``); only
  ``evalkit/__main__.py``, the ``python -m evalkit`` entry point, calls its ``main``.
- ``evalkit.evidence`` reads results and specs: it never imports ``run``, ``project`` or ``api``
  (which run plans). A package's ``commands.py`` is the CLI's plug-in, loaded by name by the CLI
  and by nothing else, so it belongs to the CLI layer here and may use the verbs.
- zero import cycles: none between modules, and none between the top-level parts of evalkit
  (each subpackage, or each top-level module, counted as one, with the ``commands`` plug-ins
  counted with the CLI).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "evalkit"


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


MODULES = _modules()


def _imports(name: str, path: Path) -> set[str]:
    """The evalkit modules (or packages) that ``name`` imports, anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:  # `from evalkit.estimate import did` imports the module did
                child = f"{module}.{alias.name}"
                found.add(child if child in MODULES else module)
    return {m for m in found if m == "evalkit" or m.startswith("evalkit.")}


GRAPH = {name: _imports(name, path) - {name} for name, path in MODULES.items()}


def _part(name: str) -> str:
    """The top-level part of evalkit a module belongs to (``commands`` plug-ins: the CLI's)."""
    if name.endswith(".commands") or name in ("evalkit.console", "evalkit.__main__"):
        return "evalkit.cli"
    return ".".join(name.split(".")[:2])


def _in(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _violations(source: str, forbidden, allowed_sources=lambda _n: True) -> list[str]:
    return sorted(f"{n} imports {m}" for n, targets in GRAPH.items()
                  if _in(n, source) and allowed_sources(n) for m in targets if forbidden(m))


def test_the_source_was_read():
    # a rule checked against an empty graph would always pass
    assert len(MODULES) > 100
    assert "evalkit.errors" in GRAPH["evalkit.spec.model"]
    assert "evalkit.estimate.did" in GRAPH["evalkit.estimate.place.area_did"]  # a function-level import


def test_spec_imports_only_errors():
    # the plan formats are the bottom layer; errors (the exception root) is the one allowed import
    assert _violations("evalkit.spec", lambda m: not (_in(m, "evalkit.spec") or m == "evalkit.errors")) == []


@pytest.mark.parametrize("above", ["evalkit.report", "evalkit.publish", "evalkit.store", "evalkit.monitor",
                                   "evalkit.cli"])
def test_estimate_never_imports_the_layers_above(above):
    assert _violations("evalkit.estimate", lambda m: _in(m, above)) == []


def test_nothing_imports_the_cli():
    users = sorted(n for n, targets in GRAPH.items() if "evalkit.cli" in targets and n != "evalkit.__main__")
    assert users == []


@pytest.mark.parametrize("runner", ["evalkit.run", "evalkit.project", "evalkit.api"])
def test_evidence_reads_results_and_specs_not_run(runner):
    assert _violations("evalkit.evidence", lambda m: _in(m, runner),
                       allowed_sources=lambda n: not n.endswith(".commands")) == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), each sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_between_modules():
    # a module importing its own package's __init__ (for a shared type) is not a cycle unless the
    # __init__ imports it back, which the graph sees like any other edge
    assert _cycles(GRAPH) == []


def test_no_import_cycles_between_parts():
    parts: dict[str, set[str]] = {}
    for name, targets in GRAPH.items():
        parts.setdefault(_part(name), set()).update(_part(m) for m in targets if _part(m) != _part(name))
    assert _cycles(parts) == []


def test_no_design_borrows_pre_posts_helpers():
    # shared statistics live in estimate/_stats.py and column reading in estimate/_columns.py
    # (issue 17, point 3): a design module is imported by the run, not by other designs
    assert sorted(n for n, targets in GRAPH.items() if "evalkit.estimate.pre_post" in targets) == []
