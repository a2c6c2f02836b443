"""The package's layout: no import cycle, figure scripts free of torch/POT/numba, every plot
function called by a unit test.

Imports are read from the source (``ast``), those inside functions included: an import that
runs only when a function is called still ties the two modules together.
"""

import ast
import importlib
import inspect
import pkgutil
import re
import sys
from pathlib import Path

import pytest

import figureflow.plotting
from conftest import REPO

SRC = REPO / "src"
HEAVY = {"torch", "ot", "numba"}  # what a figure script must not reach


def module_path(name: str, root: Path = SRC) -> Path | None:
    """The file of module ``name`` under ``root`` (a package's ``__init__.py``), or None."""
    base = root.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(path: Path, package: str | None = None) -> set[str]:
    """Every module name ``path`` imports anywhere in its body (``from a import b`` gives ``a`` and ``a.b``)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolve against the importing module's package
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(parts + ([module] if module else []))
            names.add(module)
            names |= {f"{module}.{alias.name}" for alias in node.names}
    return names


def import_graph(root: Path = SRC, top: str = "figureflow") -> dict[str, set[str]]:
    """``{module: modules of the package it imports}``; importing ``a.b.c`` also imports ``a`` and ``a.b``,
    except a package that contains the importer (``a.b.d`` importing its sibling ``a.b.c`` depends on
    ``a.b.c``, not on ``a.b``'s face, which Python ran before ``a.b.d``); an explicit ``from a.b import x``
    still depends on ``a.b``."""
    graph = {}
    for path in sorted((root / top).rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for imported in imported_names(path, package):
            if imported.split(".")[0] != top:
                continue
            pieces = imported.split(".")
            modules = [".".join(pieces[:k]) for k in range(1, len(pieces) + 1) if module_path(".".join(pieces[:k]), root)]
            for module in modules:  # the module and every package above it...
                if module != modules[-1] and name.startswith(module + "."):
                    continue  # ...but a package above the importer itself, which Python has run before the importer
                targets.add(module)
        graph[name] = targets - {name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt) :] + [nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def unit(module: str) -> str:
    """The subpackage or top-level module a module belongs to (``figureflow.jacobian.maps`` -> ``figureflow.jacobian``)."""
    return ".".join(module.split(".")[:2])


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between subpackages and top-level modules (the package's ``__init__`` left out)."""
    units = {}
    for module, targets in graph.items():
        if module == "figureflow":
            continue
        units.setdefault(unit(module), set()).update(unit(t) for t in targets if t != "figureflow")
    return {u: targets - {u} for u, targets in units.items()}


def third_party_reach(path: Path, graph: dict[str, set[str]]) -> dict[str, list[str]]:
    """``{third-party top-level module: the chain of imports that reaches it}`` from a script."""
    reach = {}
    direct = imported_names(path)
    queue = [(name, [path.name]) for name in sorted(direct)]
    seen = set()
    while queue:
        name, chain = queue.pop(0)
        top = name.split(".")[0]
        if top == "figureflow":
            module = name if module_path(name) else name.rpartition(".")[0]
            if module in seen or not module_path(module):
                continue
            seen.add(module)
            for imported in sorted(imported_names(module_path(module), module.rpartition(".")[0] or module)):
                queue.append((imported, chain + [module]))
        elif top not in sys.stdlib_module_names:
            reach.setdefault(top, chain + [name])
    return reach


def figure_scripts() -> list[Path]:
    """Scripts that draw: every one that saves a figure."""
    return sorted(p for p in (REPO / "scripts").glob("*.py") if "save_figure" in p.read_text())


GRAPH = import_graph()


def test_the_package_has_no_import_cycle_between_modules():
    assert find_cycle(GRAPH) is None, "import cycle: " + " -> ".join(find_cycle(GRAPH))


def test_the_package_has_no_import_cycle_between_subpackages():
    # e.g. jacobian -> maps -> jacobian would be one, even with no module-level cycle
    cycle = find_cycle(package_graph(GRAPH))
    assert cycle is None, "import cycle between subpackages: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_cycle_through_an_import_inside_a_function(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "maker.py").write_text("from pkg.registry import KINDS\n")
    (package / "registry.py").write_text("KINDS = {}\n\ndef resolve():\n    from pkg.sub import maker\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.maker"] == {"pkg.registry"}  # pkg, above maker, ran before it
    assert graph["pkg.registry"] == {"pkg.sub", "pkg.sub.maker"}
    assert find_cycle(graph) == ["pkg.registry", "pkg.sub.maker", "pkg.registry"]
    (package / "sub" / "maker.py").write_text("KIND = 'maker'\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) is None


def test_a_package_face_that_re_exports_its_modules_is_no_cycle_but_a_module_importing_the_face_is(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("from pkg.sub.a import A\nfrom pkg.sub.b import B\n")
    (package / "sub" / "a.py").write_text("A = 1\n")
    (package / "sub" / "b.py").write_text("from pkg.sub.a import A\nB = A + 1\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.b"] == {"pkg.sub.a"} and find_cycle(graph) is None
    (package / "sub" / "b.py").write_text("from pkg.sub import A\nB = A + 1\n")  # through the face: a real cycle
    assert find_cycle(import_graph(tmp_path, "pkg")) == ["pkg.sub", "pkg.sub.b", "pkg.sub"]


def test_map_makers_do_not_import_the_registry_above_them():
    makers = [m for m in GRAPH if m.startswith("figureflow.jacobian")]
    assert makers and all("figureflow.maps" not in GRAPH[m] for m in makers)
    assert {"figureflow.jacobian.maps", "figureflow.jacobian.torch_maps"} <= GRAPH["figureflow.maps"]


def test_figure_scripts_exist_for_every_method():
    names = {p.stem for p in figure_scripts()}
    assert {"plot_embedding", "graph_overview", "plot_signal_flow", "plot_jacobian", "plot_jacobian_image"} <= names


@pytest.mark.parametrize("script", figure_scripts(), ids=lambda p: p.stem)
def test_figure_scripts_reach_no_torch_pot_or_numba(script):
    reach = third_party_reach(script, GRAPH)
    heavy = {name: " -> ".join(chain) for name, chain in reach.items() if name in HEAVY}
    assert not heavy, f"{script.name} reaches {heavy}"


def test_the_reach_check_sees_numba_through_a_function_level_import():
    # the Jacobian estimates script resolves a map: it must reach numba (and torch, lazily)
    reach = third_party_reach(REPO / "scripts" / "jacobian_estimates.py", GRAPH)
    assert {"numba", "torch"} <= set(reach)
    assert reach["torch"][0] == "jacobian_estimates.py"


def plotting_modules():
    return [importlib.import_module(m.name) for m in pkgutil.iter_modules(figureflow.plotting.__path__, "figureflow.plotting.")]


def test_plotting_modules_import_no_torch_pot_or_numba():
    for module in plotting_modules():
        reach = third_party_reach(Path(module.__file__), GRAPH)
        assert not HEAVY & set(reach), f"{module.__name__} reaches {HEAVY & set(reach)}"


def test_every_plot_function_is_called_by_a_unit_test():
    tests = {p.name: p.read_text() for p in (REPO / "tests").glob("test_plotting_*.py")}
    functions = [
        (module.__name__, name)
        for module in plotting_modules()
        for name, obj in inspect.getmembers(module, inspect.isfunction)
        if name.startswith("plot_") and obj.__module__ == module.__name__
    ]
    assert len(functions) >= 7
    for module, name in functions:
        own = f"test_plotting_{module.rsplit('.', 1)[1]}.py"
        assert own in tests, f"{module} has no test file tests/{own}"
        assert re.search(rf"\b{name}\(", tests[own]), f"{module}.{name} is not called in tests/{own}"


def test_methods_import_only_the_shared_modules_never_each_other():
    shared = {"figureflow.io", "figureflow.seeding", "figureflow.threads", "figureflow.parallel", "figureflow.provenance"}
    methods = {"figureflow.data", "figureflow.signal_flow", "figureflow.jacobian", "figureflow.aging", "figureflow.sweeps", "figureflow.generative", "figureflow.plotting"}
    packages = package_graph(GRAPH)
    assert methods <= set(packages)
    for method in methods:
        assert packages[method] <= shared, f"{method} imports {sorted(packages[method] - shared)}"
    for module in shared:
        assert not packages.get(module, set()) & methods, f"shared {module} imports a method"
