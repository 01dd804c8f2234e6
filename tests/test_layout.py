"""The shape of the code, held by tests: the core imports no Streamlit, the import graph of the core, app/ and pages/
has no cycle, and the heavy libraries load only where they are used (Ray with a cluster, Optuna with a sweep, scikit-learn with an evaluation)."""

import ast
import subprocess
import sys

from digitlab.learn.checkpoint import PROJECT

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
    assert "digitlab.runs.runner.cluster" in graph["digitlab.runs.runner.supervisor"]  # the graph sees the imports
    assert "app.ui" in graph["pages.draw"] and "app.views.network" in graph["pages.draw"]
    assert cycles(graph) == []


# The core's folders, each answering one question a maintainer asks (README, Layout), and what each may not import.
FOLDERS = ("learn", "datasets", "drawing", "runs", "course", "classroom", "cli")
RULES = {
    # what a model is, what it reads and how a drawing becomes its input know nothing of runs, the course, the class
    # or the command line: they train and answer the same in a notebook
    "learn": ("runs", "course", "classroom", "cli"),
    "datasets": ("runs", "course", "classroom", "cli"),
    "drawing": ("runs", "course", "classroom", "cli"),
    "course": ("classroom", "cli"),
    "runs": ("cli",),
}
# only the command line, the app (app/, pages/) and the queue (admission: a student's run may start from or learn from
# their own runs only) import the class
CLASSROOM_READERS = ("digitlab.cli", "digitlab.runs.admission", "app", "pages")


def folder(module: str) -> str:
    parts = module.split(".")
    return parts[1] if parts[0] == "digitlab" and len(parts) > 2 and parts[1] in FOLDERS else parts[0]


def test_every_core_module_sits_in_a_folder():
    top = sorted(p.stem for p in CORE.glob("*.py"))
    assert top == ["__init__", "__main__", "addresses", "files", "markdown", "settings"]  # shared by every folder
    assert sorted(p.name for p in CORE.iterdir() if p.is_dir() and p.name != "__pycache__") == sorted(FOLDERS)


def test_each_folder_imports_only_what_its_rules_allow():
    graph = imports()
    broken = [f"{m} -> {d}" for m, ds in graph.items() for d in ds if folder(d) in RULES.get(folder(m), ())]
    assert broken == []
    readers = {m for m, ds in graph.items() for d in ds if folder(d) == "classroom" and folder(m) != "classroom"}
    assert readers and all(m.startswith(CLASSROOM_READERS) for m in readers), readers


def test_a_broken_rule_is_found():
    assert folder("digitlab.learn.train") == "learn" and folder("digitlab.settings") == "digitlab"
    assert folder("app.ui") == "app" and folder("digitlab.runs.store.base") == "runs"


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_heavy_libraries_load_only_when_used():
    probe = ("import sys, digitlab.cli, digitlab.runs.runner.supervisor, digitlab.runs.runner.execution, digitlab.runs.admission; "
             "print(sorted(m for m in ('ray', 'optuna', 'sklearn', 'streamlit') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=PROJECT, check=True)
    assert out.stdout.strip() == "[]"
