"""The compiled sampling kernels of each map, generated from a template and kept on disk.

For a map and a way of filling its Jacobian, :func:`map_kernels` runs the template
:mod:`figureflow.jacobian.map_kernels` as a module of its own with the map bound into it. numba
compiles a kernel per map in seconds; kept on disk, a later job loads it in a fraction of a second.

What the key covers
-------------------
The generated module is a file named by :func:`kernel_key`, a SHA-256 (first 20 hex digits) of:

1. the template's text, numba's version, the latent and data dimensions and the method
   (``analytic`` or ``complex_step``);
2. the qualified names of the map's functions ``f`` and ``jac``;
3. the text of every figureflow module the template imports, transitively (the volume element,
   the complex step, the samplers);
4. the text of the files that define ``f`` and ``jac`` (a built-in map's
   :mod:`figureflow.jacobian.maps`, an installed package's module);
5. the name and text of every module of the user's own that the map's modules import or hold,
   transitively (:func:`figureflow.jacobian.map_code.map_code`): a helper in another file of the
   working directory, a helper two imports deep, a helper reached as ``module.helper``.

Editing any of these makes a new key and so a new compile; editing any other file does not.
Installed packages other than figureflow are not read: their versions are pinned.

Where the code cannot be named by files (a closure, code built at run time), no key is made:
the kernels compile in memory in each process and the log says why. numba's own ``cache=True``
on a user's function keys its cache by that function's file alone and would keep the old code of
a helper in another file; :func:`figureflow.jacobian.map_code.compile_fresh_where_numba_cache_is_blind`
(called when a user's map is loaded) therefore compiles such functions in each process (their
compiled code is kept, correctly keyed, inside the map's kernels).

Where the cache lives
---------------------
``$FIGUREFLOW_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/figureflow/kernels`` (``~/.cache``); a
cluster shares it across nodes by pointing the variable at a shared directory. Files are written
atomically, so jobs side by side may write the same key.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import sys
import types
from pathlib import Path

import numba

from figureflow.jacobian.map_code import imported_modules, is_user_file, map_code, module_closure

__all__ = ["KERNEL_CACHE_ENV", "TEMPLATE", "kernel_cache_dir", "kernel_key", "map_kernels"]

log = logging.getLogger(__name__)

#: where compiled map kernels are kept between processes (see :func:`kernel_cache_dir`)
KERNEL_CACHE_ENV = "FIGUREFLOW_KERNEL_CACHE"
#: the kernels' template
TEMPLATE = Path(__file__).with_name("map_kernels.py")


def kernel_cache_dir() -> Path | None:
    """The directory of the generated kernel modules and numba's cache of them:
    ``$FIGUREFLOW_KERNEL_CACHE``, else ``$XDG_CACHE_HOME/figureflow/kernels`` (``~/.cache``);
    None when it cannot be created or written (then kernels compile in each process)."""
    root = os.environ.get(KERNEL_CACHE_ENV)
    if not root:
        root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "figureflow" / "kernels"
    root = Path(root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return root if os.access(root, os.W_OK) else None


def _in_figureflow(path) -> bool:
    import figureflow

    return Path(path).suffix == ".py" and Path(path).resolve().is_relative_to(Path(figureflow.__file__).parent.resolve())


def _template_modules() -> dict[str, Path]:
    """The figureflow modules the template imports, transitively."""
    roots = imported_modules(TEMPLATE, "figureflow.jacobian.map_kernels")
    found, _ = module_closure(roots, tracked=_in_figureflow, namespaces=False)
    return found


def kernel_key(latent, method: str, template: str) -> tuple[str | None, str]:
    """``(key, what it covers)`` of a map's kernels (see the module docstring); the key is None,
    and the text says why, when the map's code cannot be named by files."""
    functions = [fn for fn in (latent.f, latent.jac) if fn is not None]
    code = map_code(*functions)
    if code.reason:
        return None, code.reason
    digest = hashlib.sha256()
    for part in (template, numba.__version__, str(latent.d), str(latent.D), method):
        digest.update(part.encode() + b"\0")
    for fn in functions:
        digest.update(getattr(fn, "py_func", fn).__qualname__.encode() + b"\0")
    own = {Path(getattr(fn, "py_func", fn).__code__.co_filename).resolve() for fn in functions}
    named = sorted(_template_modules().items()) + sorted(code.files) + sorted((str(p), p) for p in own if not is_user_file(p))
    for name, path in named:
        digest.update(name.encode() + b"\0" + path.read_bytes() + b"\0")
    users = [name for name, _ in code.files]
    covered = f"{len(named)} files, the user's: {', '.join(users) if users else 'none'}"
    return digest.hexdigest()[:20], covered


def map_kernels(latent, method: str):
    """The module of compiled kernels (``volumes``, ``jacobians``) for a map and a
    way of filling its Jacobian (``analytic`` or ``complex_step``): the template
    :mod:`figureflow.jacobian.map_kernels` run with the map bound into it.

    When the map's code is named by its files (:func:`kernel_key`) and the cache directory is
    writable, the module is a file there named by that key and numba caches what it compiles beside
    it, so that another process (another job, a rerun) loads the kernels instead of compiling them.
    Otherwise the module is compiled in memory, in each process, and the log says why.
    """
    template = TEMPLATE.read_text()
    key, covered = kernel_key(latent, method, template)
    directory = kernel_cache_dir() if key is not None else None
    if key is None:
        log.info("map %s (%s): kernels compiled in memory in this process, not cached: %s", latent.name, method, covered)
    elif directory is None:
        log.info("map %s (%s): no writable kernel cache directory (%s); kernels compiled in memory", latent.name, method, KERNEL_CACHE_ENV)
    else:
        log.info("map %s (%s): kernel key %s in %s (covers %s)", latent.name, method, key, directory, covered)
    name = f"figureflow_map_kernels_{key or id(latent.f)}_{method}"
    if directory is not None and name in sys.modules:
        return sys.modules[name]
    if directory is not None and not (directory / f"{name}.py").exists():
        header = f"# generated by figureflow.jacobian.kernel_cache.map_kernels for map '{latent.name}' ({method}); do not edit\n"
        partial = directory / f"{name}.{os.getpid()}.tmp"
        try:
            partial.write_text(header + template)
            os.replace(partial, directory / f"{name}.py")  # atomic: jobs running side by side write the same text
        except OSError:  # a full disk, a quota: compile in memory instead
            partial.unlink(missing_ok=True)
            directory = None
    if directory is not None:
        path = directory / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # numba names a cached kernel's globals by their module
        loader = spec.loader.exec_module
    else:
        module = types.ModuleType(name)
        code = compile(template, str(TEMPLATE), "exec")

        def loader(module):
            exec(code, module.__dict__)

    module.__dict__.update(f=latent.f, jac=latent.jac, d=latent.d, D=latent.D, METHOD=method, CACHE=directory is not None)
    loader(module)
    return module
