"""The layout's rules, read from the source (docs/architecture.md says why each holds).

Every import is read, at module level and inside functions alike, so a lazy import cannot
hide a cycle or a layer crossed the wrong way.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "libraries" / "WebSocketLoadLibrary"
NAME = PACKAGE.name

# from the top down: a module may import its own layer and those below it
LAYERS = [
    {"__init__", "library", "__main__"},   # the package's face hands on the library class
    {"keywords"},
    {"base", "utils"},
    {"agents"},
    {"reports"},
    {"mockserver", "engine"},
    {"errors", "picows_wire", "version"},
]
PLAIN = ("results", "plan", "pacing")     # engine packages of plain logic
NOT_PLAIN = {"asyncio", "socket", "ssl", "selectors", "websockets", "picows", "uvloop",
             "psutil", "threading", "multiprocessing", "subprocess"}
MAX_ENGINE_MODULE_LINES = 350


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")
           if "__pycache__" not in path.parts}


def imports_of(name: str) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the module, function-level ones too;
    `from package import name` counts as the submodule when there is one."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                found.append((sub if sub in MODULES else target, node.lineno))
    return found


def internal_imports(name: str) -> list[tuple[str, int]]:
    return [(target, line) for target, line in imports_of(name) if target in MODULES]


def top(name: str) -> str:
    parts = name.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def layer_of(name: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if top(name) in layer)


def test_every_module_has_a_layer():
    assert {top(name) for name in MODULES} <= set().union(*LAYERS)


def test_layers_only_import_downward():
    upward = [f"{name}:{line} imports {target}"
              for name in MODULES for target, line in internal_imports(name)
              if layer_of(target) < layer_of(name)]
    assert upward == []


def test_no_import_cycle_lazy_imports_included():
    graph = {name: {target for target, _ in internal_imports(name)} for name in MODULES}
    # a submodule's import runs its packages' __init__ first: those edges are implied,
    # not written, and an __init__ that hands on names from below is no cycle
    state, stack, cycles = {}, [], []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                cycles.append(" -> ".join(stack[stack.index(target):] + [target]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name)
    assert cycles == []


def test_the_engine_imports_no_robot_and_nothing_above_it():
    bad = [f"{name}:{line} imports {target}"
           for name in MODULES if top(name) == "engine"
           for target, line in imports_of(name)
           if target.split(".")[0] == "robot"
           or (target in MODULES and top(target) not in ("engine", "errors", "picows_wire"))]
    assert bad == []


@pytest.mark.parametrize("package", PLAIN)
def test_plain_logic_imports_no_asyncio_and_no_sockets(package):
    prefix = f"{NAME}.engine.{package}"
    bad = [f"{name}:{line} imports {target}"
           for name in MODULES if name == prefix or name.startswith(prefix + ".")
           for target, line in imports_of(name)
           if target.split(".")[0] in NOT_PLAIN
           or (target in MODULES and top(target) == "engine"
               and target.split(".")[2:3] not in ([p] for p in PLAIN + ("errors",)))]
    assert bad == []


def test_outside_the_engine_only_its_public_names_are_imported():
    engine = f"{NAME}.engine"
    deep = [f"{name}:{line} imports {target}"
            for name in MODULES if top(name) != "engine"
            for target, line in internal_imports(name)
            if target.startswith(engine + ".")]
    assert deep == []


def test_no_engine_module_is_over_350_lines():
    long = {name: lines for name, path in MODULES.items() if top(name) == "engine"
            for lines in [len(path.read_text().splitlines())]
            if lines > MAX_ENGINE_MODULE_LINES}
    assert long == {}


def test_the_rules_catch_what_they_forbid(tmp_path):
    """The checks above can fail: a made-up lazy import from the engine up to the keywords
    and back is a cycle and an upward import."""
    graph_before = dict(MODULES)
    fake_engine = tmp_path / "fake_engine.py"
    fake_engine.write_text("def later():\n    from ..keywords import load\n")
    fake_keywords = tmp_path / "fake_keywords.py"
    fake_keywords.write_text("from ..engine import fake_engine\n")
    MODULES[f"{NAME}.engine.fake_engine"] = fake_engine
    MODULES[f"{NAME}.keywords.fake_keywords"] = fake_keywords
    MODULES[f"{NAME}.keywords.load"] = fake_keywords
    try:
        with pytest.raises(AssertionError):
            test_layers_only_import_downward()
        with pytest.raises(AssertionError):
            test_no_import_cycle_lazy_imports_included()
        with pytest.raises(AssertionError):
            test_the_engine_imports_no_robot_and_nothing_above_it()
    finally:
        MODULES.clear()
        MODULES.update(graph_before)
