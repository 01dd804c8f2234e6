"""The shape of the code, held by tests: the core imports no Streamlit, the import graph of the core, app/ and pages/
has no cycle, and the heavy libraries load only where they are used (Ray with a cluster, Optuna with a sweep, scikit-learn with an evaluation)."""

import ast
import subprocess
import sys

from digitlab.checkpoint import PROJECT

CORE = PROJECT / "digitlab"


TREES = ("digitlab", "app", "pages")  # the code that imports itself: the core, the UI's shared code, the pages


def imports(trees=TREES) -> dict[str, set[str]]:
    """Every module of these trees -> the modules of theirs it imports (at the top or inside a function)."""
    mods = {".".join(p.relative_to(PROJECT).with_suffix("").parts).removesuffix(".__init__"): p
            for tree in trees for p in (PROJECT / tree).rglob("*.py")}
    ours = tuple(trees)
    graph = {m: set() for m in mods}
    for m, p in mods.items():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ours:
                graph[m] |= {f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                             for a in node.names}
            elif isinstance(node, ast.Import):
                graph[m] |= {a.name for a in node.names if a.name.split(".")[0] in ours}
    return {m: {d for d in ds if d in mods and d != m and d not in trees} for m, ds in graph.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index, low, stack, found = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while (w := stack.pop()) != v:
                comp.append(w)
            if comp:
                found.append(sorted([v, *comp]))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_core_imports_no_streamlit():
    for path in CORE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            assert not any(n.split(".")[0] == "streamlit" for n in names), path


def test_no_import_cycle_in_the_core_the_ui_or_the_pages():
    graph = imports()
    assert "digitlab.runner.cluster" in graph["digitlab.runner.supervisor"]  # the graph sees the imports
    assert "app.ui" in graph["pages.draw"] and "app.views.network" in graph["pages.draw"]
    assert cycles(graph) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_heavy_libraries_load_only_when_used():
    probe = ("import sys, digitlab.cli, digitlab.runner.supervisor, digitlab.runner.execution, digitlab.admission; "
             "print(sorted(m for m in ('ray', 'optuna', 'sklearn', 'streamlit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT, check=True)
    assert out.stdout.strip() == "[]"
