"""The files a user's map is made of: its module and every module of the user's own that it reaches.

A user's numba map often calls helpers from other files of the working directory. Its result
depends on all of them, so everything that decides whether a result is stale (the rules' inputs,
see :func:`figureflow.maps.check_config`, and the key of the compiled kernels, see
:mod:`figureflow.jacobian.kernel_cache`) must name all of them, not only the file that defines
the map.

:func:`map_code` follows, from the modules that define the map's functions:

* every ``import`` and ``from ... import`` statement of each module's source (read with
  :mod:`ast`, so an import inside a function counts too; relative imports are resolved), and
* every module, function and numba dispatcher the imported module holds in its namespace (a helper
  reached as ``other.helper``, a module bound by ``importlib``),

transitively, keeping the modules that are the user's own: a Python file outside the standard
library, outside every site-packages directory, and outside figureflow itself. Installed packages
are pinned by version and are not followed.

The code cannot be named when a function of the map or of a module it reaches was not read from a
file (code built at run time with ``exec``, ``eval`` or a ``lambda`` from a string) or when the map
is a closure, whose captured values no file shows. :func:`map_code` then returns no files and says
why; the kernels are then compiled in memory in each process.
"""

from __future__ import annotations

import ast
import importlib.util
import site
import sys
import sysconfig
import types
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = [
    "MapCode",
    "map_code",
    "compile_fresh_where_numba_cache_is_blind",
    "is_user_file",
    "imported_modules",
    "module_closure",
]


@dataclass(frozen=True)
class MapCode:
    """The files behind a map's functions.

    Attributes
    ----------
    files : ``(module name, path)`` pairs, sorted by module name; empty when ``reason`` is set
    reason : why the code cannot be named by files (None when it can)
    """

    files: tuple[tuple[str, Path], ...]
    reason: str | None = None

    @property
    def paths(self) -> list[Path]:
        return [path for _, path in self.files]


@lru_cache(maxsize=1)
def _installed_roots() -> tuple[Path, ...]:
    """Directories whose modules are installed, not the user's: the standard library, every
    site-packages directory, and figureflow's own package."""
    import figureflow

    roots = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(getattr(site, "getsitepackages", lambda: [])())
    roots.add(site.getusersitepackages())
    roots.add(str(Path(figureflow.__file__).parent))
    return tuple(Path(r).resolve() for r in roots if r)


def is_user_file(path) -> bool:
    """Whether ``path`` is a Python source of the user's own (see the module docstring)."""
    if path is None:
        return False
    path = Path(path)
    if path.suffix != ".py" or not path.is_file():
        return False
    path = path.resolve()
    return not any(path.is_relative_to(root) for root in _installed_roots())


def _module_file(name: str) -> Path | None:
    module = sys.modules.get(name)
    origin = getattr(module, "__file__", None) if module is not None else None
    if origin is None:
        try:
            spec = importlib.util.find_spec(name)
        except Exception:  # a parent that is not a package, an import error: not a module
            return None
        origin = spec.origin if spec is not None else None
    return Path(origin) if origin else None


def imported_modules(path: Path, name: str) -> set[str]:
    """Every module name an import statement of ``path`` (module ``name``) could refer to."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()

    def with_parents(dotted: str) -> None:
        parts = dotted.split(".")
        names.update(".".join(parts[: i + 1]) for i in range(len(parts)))

    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                with_parents(alias.name)
        elif isinstance(node, ast.ImportFrom):
            try:
                base = importlib.util.resolve_name("." * node.level + (node.module or ""), package) if node.level else node.module
            except (ImportError, ValueError):
                continue
            if not base:
                continue
            with_parents(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return names


def _code_file(function) -> tuple[str | None, Path | None, str | None]:
    """``(module name, file, problem)`` of a Python function or numba dispatcher."""
    py = getattr(function, "py_func", function)
    code = getattr(py, "__code__", None)
    if code is None:
        return None, None, None
    filename = Path(code.co_filename)
    if not filename.is_file():
        return None, None, f"function {py.__qualname__!r} was built at run time (its code comes from {code.co_filename!r}, not a file)"
    return getattr(py, "__module__", None), filename, None


def _namespace_refs(module: types.ModuleType) -> tuple[set[str], list[tuple[str, Path]], str | None]:
    """Modules, and functions' files, that a live module holds in its namespace."""
    names: set[str] = set()
    files: list[tuple[str, Path]] = []
    for value in list(vars(module).values()):
        if isinstance(value, types.ModuleType):
            names.add(value.__name__)
        elif isinstance(value, types.FunctionType) or hasattr(value, "py_func"):
            owner, path, problem = _code_file(value)
            if problem:  # held by the user's module, so possibly called by the map
                return names, files, f"module '{module.__name__}': {problem}"
            if path is not None and is_user_file(path):
                files.append((owner or path.stem, path))
                if owner:
                    names.add(owner)
    return names, files, None


def module_closure(names, tracked=is_user_file, namespaces: bool = True) -> tuple[dict[str, Path], str | None]:
    """The modules reachable from ``names`` through import statements and (with ``namespaces``)
    the live modules' namespaces, kept where ``tracked(file)`` holds: ``({module name: file},
    problem)``; ``problem`` names code that no file shows (then the dict is incomplete). Without
    ``namespaces`` the answer depends on the files alone, not on what this process imported."""
    found: dict[str, Path] = {}
    queue = list(names)
    seen: set[str] = set()
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None or not tracked(path):
            continue
        found[name] = path.resolve()
        queue.extend(imported_modules(path, name) - seen)
        module = sys.modules.get(name) if namespaces else None
        if module is not None:
            more, files, problem = _namespace_refs(module)
            if problem:
                return found, problem
            queue.extend(more - seen)
            for owner, file in files:
                if owner not in found and owner not in sys.modules:
                    found[owner] = file.resolve()
    return found, None


def map_code(*functions) -> MapCode:
    """The user's files behind a map's functions (``f``, ``jac``; None entries are skipped).

    Returns a :class:`MapCode`: every user module reachable from the modules that define the
    functions (see the module docstring), or no files and the reason when the code cannot be named.
    """
    roots = []
    for function in functions:
        if function is None:
            continue
        py = getattr(function, "py_func", function)
        if getattr(py, "__closure__", None):
            return MapCode((), f"function {py.__qualname__!r} is a closure: the values it captured are in no file")
        owner, path, problem = _code_file(function)
        if problem:
            return MapCode((), problem)
        if owner is None or path is None:
            return MapCode((), f"{function!r} is not a Python function defined in a file")
        roots.append(owner)
    found, problem = module_closure(roots)
    if problem:
        return MapCode((), problem)
    return MapCode(tuple(sorted(found.items())))


def compile_fresh_where_numba_cache_is_blind(module_name: str) -> list[str]:
    """Turn off numba's disk cache for the user's ``cache=True`` functions that it would serve stale.

    numba keys a cached function by its own file's time stamp, so a function whose module reaches
    another module of the user's (a helper it calls) keeps the helper's old machine code after the
    helper is edited. For every user module reachable from ``module_name`` that itself reaches
    another user module, its numba functions compile in this process instead (a function whose
    module reaches no other user module keeps its cache: its file is all its code). Call this after
    the import and before the first call. Returns the qualified names it changed.
    """
    from numba.core.caching import NullCache

    changed = []
    found, _ = module_closure([module_name])
    for name in found:
        reached, _ = module_closure([name])
        if len(reached) < 2 or name not in sys.modules:
            continue
        for value in list(vars(sys.modules[name]).values()):
            cache = getattr(value, "_cache", None)
            if hasattr(value, "py_func") and getattr(value.py_func, "__module__", None) == name and cache is not None and not isinstance(cache, NullCache):
                value._cache = NullCache()
                changed.append(f"{name}.{value.py_func.__qualname__}")
    return changed
