"""The house rules of the code layout (issue 13), checked on the source so they cannot drift.

* one-way imports: no cycle between modules, none between packages, and every stage imports only the
  stages before it (``STAGES``); function-level (lazy) imports count too: a cycle that only bites when a
  function runs is still a cycle;
* a small top level (the public API plus a few shared modules) and no module over 400 lines;
* thin CLI skins: no command body over 40 lines, every command defined at module level.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "linkner"

# Shared modules below every stage, then the stages in data-flow order. A package may import the shared
# modules and the stages listed before it, never one after it.
SHARED = ["errors", "outputs", "cache", "configio", "provenance", "metrics"]
STAGES = ["data", "uncertainty", "models", "link", "evaluation", "baselines", "studies", "bench"]
SHARED_DEPS = {"errors": set(), "outputs": {"errors"}, "cache": set(), "configio": {"errors"}, "provenance": set(),
               "metrics": {"errors", "data"}}


def _modules() -> dict[str, Path]:
    mods = {}
    for p in PKG.rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return mods


def _imports(name: str, path: Path, mods: dict[str, Path]) -> set[str]:
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [mod] + [f"{mod}.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        found.update(t for t in targets if t in mods and t != name)
    return found


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {name: _imports(name, path, mods) for name, path in mods.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _unit(module: str) -> str:
    """The package (or shared module) a module belongs to: ``linkner.link.routing`` → ``link``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "linkner"


def test_no_import_cycle_between_modules():
    assert _cycles(_graph()) == []


def test_no_import_cycle_between_packages():
    units: dict[str, set[str]] = {}
    for a, bs in _graph().items():
        units.setdefault(_unit(a), set()).update(_unit(b) for b in bs if _unit(b) != _unit(a))
    assert _cycles(units) == []


def test_stages_import_only_earlier_stages_and_shared_modules():
    allowed = {s: set(SHARED) | set(STAGES[:i]) for i, s in enumerate(STAGES)}
    allowed.update(SHARED_DEPS)
    allowed["linkner"] = set(SHARED) | set(STAGES)  # the public API reaches every stage (lazily)
    wrong = []
    for a, bs in _graph().items():
        for b in bs:
            ua, ub = _unit(a), _unit(b)
            if ua != ub and ub not in allowed[ua]:
                wrong.append(f"{a} imports {b}")
    assert wrong == []


def test_top_level_holds_the_api_and_a_few_shared_modules():
    top = sorted(p.stem for p in PKG.glob("*.py"))
    assert len(top) <= 8, top
    assert set(top) <= {"__init__", *SHARED}, top
    packages = sorted(p.name for p in PKG.iterdir() if (p / "__init__.py").is_file())
    assert set(packages) == set(STAGES), packages


@pytest.mark.parametrize("folder", ["linkner", "cli"])
def test_no_module_over_400_lines(folder):
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}


def _is_command(call: ast.AST) -> bool:
    return isinstance(call, ast.Call) and getattr(call.func, "attr", "") == "command"


def _commands() -> list[tuple[str, ast.FunctionDef]]:
    """Every CLI command function (``@x.command(...)``-decorated, or registered as ``app.command(...)(fn)``),
    with where it is; a command defined inside another function fails here."""
    found = []
    for path in sorted((ROOT / "cli").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        names = {n.name for n in defs.values() if any(_is_command(d) for d in n.decorator_list)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _is_command(node.func) and isinstance(node.args[0], ast.Name):
                names.add(node.args[0].id)
            if isinstance(node, ast.FunctionDef):
                nested = [n.name for n in ast.walk(node) if n is not node and isinstance(n, ast.FunctionDef)
                          and any(_is_command(d) for d in n.decorator_list)]
                assert not nested, f"{path.name}: command(s) {nested} defined inside {node.name}()"
        found += [(f"{path.name}:{name}", defs[name]) for name in sorted(names)]
    return found


def test_cli_commands_are_module_level_and_short():
    commands = _commands()
    assert len(commands) >= 10  # data list/stats/convert/fetch, train, infer, link, evaluate, figures, demo, bench
    long = {}
    for where, fn in commands:
        body = fn.body[1:] if isinstance(fn.body[0], ast.Expr) and isinstance(fn.body[0].value, ast.Constant) else fn.body
        lines = body[-1].end_lineno - body[0].lineno + 1
        if lines > 40:
            long[where] = lines
    assert long == {}


def test_version_is_said_once():
    import linkner

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert linkner.__version__ == project["version"]
