"""The package is laid out as its pipeline, and imports flow one way: each module
imports only from the stages before its own (errors and gates from anywhere), so no
import cycle can form. The CLI may import everything; nothing imports the CLI."""
from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parents[1] / "graphdsl"
# The stages in data-flow order; a module may import its own stage and the earlier ones.
STAGES = ["errors", "gates", "lang", "graph", "run", "compiled", "inspect", "train", "program", "serve", "cli"]
TOP_LEVEL_NAMES = ["__init__"]  # the public names: may import every stage (lazily, for extras)


def _stage(module: str) -> str:
    return module.split(".")[0]


def _modules() -> dict:
    """Module name (relative to graphdsl, dotted) -> its file."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        found[".".join(p for p in parts if p != "__init__") or "__init__"] = path
    return found


def _imports(module: str, path: Path) -> set:
    """The graphdsl modules a module imports (module level or inside functions)."""
    package = module.split(".")[:-1] if path.name != "__init__.py" else module.split(".")
    if module == "__init__":
        package = []
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[:len(package) - node.level + 1] if node.level > 1 else package
            target = ".".join(base + ([node.module] if node.module else []))
            for alias in node.names:  # a module of the package, or a name of ``target``
                name = f"{target}.{alias.name}" if target else alias.name
                out.add(name if name in MODULES else target)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("graphdsl."):
            out.add(node.module[len("graphdsl."):])
    return {t for t in out if t}


MODULES = _modules()


def test_imports_flow_from_earlier_stages_only():
    modules = _modules()
    wrong = []
    for module, path in modules.items():
        if module in TOP_LEVEL_NAMES:
            continue
        own = STAGES.index(_stage(module))
        for target in _imports(module, path):
            stage = _stage(target)
            if stage in STAGES and STAGES.index(stage) > own:
                wrong.append(f"{module} imports {target}")
    assert wrong == [], "imports against the pipeline's direction:\n" + "\n".join(sorted(wrong))


def test_no_import_cycle_between_modules():
    modules = _modules()
    graph = nx.DiGraph()
    for module, path in modules.items():
        for target in _imports(module, path):
            if target in modules and target != module and module != "__init__":
                graph.add_edge(module, target)
    cycles = list(nx.simple_cycles(graph))
    assert cycles == [], cycles[:5]


def test_the_package_shows_its_pipeline():
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= 12, entries
    for stage in STAGES:
        assert stage in entries or f"{stage}.py" in entries, stage


MAX_MODULE_LINES, MAX_CLASS_LINES = 350, 150


def test_modules_and_classes_stay_short():
    """A module or class past these sizes is doing several jobs: split it by job."""
    long = []
    for module, path in _modules().items():
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            long.append(f"{module}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                long.append(f"{module}.{node.name}: {node.end_lineno - node.lineno + 1} lines")
    assert long == [], "\n".join(long)
