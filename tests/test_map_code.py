"""figureflow.jacobian.map_code and the kernel key: a user's map means all of its code."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HELPER = """
import numba

@numba.njit(cache=True)
def stretch():
    return {value}
"""

#: the issue's map: a helper imported from another file of the working directory
MAP_FROM_IMPORT = """
import numba
from my_helpers import stretch

@numba.njit
def lin(z, p, out):
    out[0] = stretch() * z[0]
    out[1] = z[1]
"""

#: the helper reached as an attribute of another module, two imports deep, all cached by numba
MAP_THROUGH_MODULE = """
import numba
import my_mid

@numba.njit(cache=True)
def lin(z, p, out):
    out[0] = my_mid.twice() * z[0]
    out[1] = z[1]
"""
MID = """
import numba
from my_helpers import stretch

@numba.njit(cache=True)
def twice():
    return 2.0 * stretch()
"""


def write_user_code(directory: Path, helper_value: float, through_module: bool = False) -> None:
    (directory / "my_helpers.py").write_text(HELPER.format(value=repr(float(helper_value))))
    (directory / "my_maps.py").write_text(MAP_THROUGH_MODULE if through_module else MAP_FROM_IMPORT)
    if through_module:
        (directory / "my_mid.py").write_text(MID)


def _fresh_estimate(directory: Path, cache: Path) -> tuple[float, str]:
    """A new process, as a job is: the map's mc estimate at 4096 points and the kernel log line."""
    code = textwrap.dedent(
        """
        import logging, sys
        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
        from figureflow.maps import resolve_map
        from figureflow.jacobian.measure import monte_carlo
        from figureflow.seeding import seed_sequence
        latent = resolve_map("lin", {"map": "my_maps:lin", "latent_dim": 2, "data_dim": 2})
        print(repr(monte_carlo(latent, 4096, seed_sequence(1, "t")).estimate))
        """
    )
    env = dict(os.environ, FIGUREFLOW_KERNEL_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=directory)
    assert out.returncode == 0, out.stderr
    return float(out.stdout.split()[-1]), out.stderr


@pytest.mark.parametrize("through_module", [False, True], ids=["imported_helper", "helper_through_a_module_two_deep"])
def test_editing_a_helper_file_changes_a_fresh_processs_estimate(tmp_path, through_module):
    """The kernel cache keeps the first process's machine code under a key; an edited helper
    (imported, or reached as module.function two imports deep with numba's cache=True everywhere)
    must give a new key and so the new value, not the cached old one."""
    work, cache = tmp_path / "work", tmp_path / "cache"
    work.mkdir()
    factor = 2.0 if through_module else 1.0
    write_user_code(work, 2.0, through_module)
    first, log = _fresh_estimate(work, cache)
    assert first == pytest.approx(2.0 * factor, rel=1e-15)
    assert "the user's: my_helpers, " in log
    again, log_again = _fresh_estimate(work, cache)  # unchanged code: the kernels are loaded, same key
    assert again == first and log_again.split("kernel key ")[1][:20] == log.split("kernel key ")[1][:20]
    (work / "my_helpers.py").write_text(HELPER.format(value="3.0"))
    edited, log_edited = _fresh_estimate(work, cache)
    assert edited == pytest.approx(3.0 * factor, rel=1e-15)
    assert log_edited.split("kernel key ")[1][:20] != log.split("kernel key ")[1][:20]


def test_map_code_names_every_user_module_the_map_reaches_and_nothing_installed(tmp_path, monkeypatch):
    from figureflow.jacobian.map_code import is_user_file, map_code
    from figureflow.jacobian.maps import load_user_map

    monkeypatch.syspath_prepend(str(tmp_path))
    write_user_code(tmp_path, 2.0, through_module=True)
    (tmp_path / "unrelated.py").write_text("X = 1\n")
    for name in ("my_maps", "my_mid", "my_helpers"):
        sys.modules.pop(name, None)
    latent = load_user_map("my_maps:lin", 2, 2)
    code = map_code(latent.f)
    assert code.reason is None
    assert [name for name, _ in code.files] == ["my_helpers", "my_maps", "my_mid"]
    assert [p.name for p in code.paths] == ["my_helpers.py", "my_maps.py", "my_mid.py"]
    import numpy

    import figureflow.jacobian.maps as builtin

    assert not is_user_file(numpy.__file__) and not is_user_file(builtin.__file__)
    assert map_code(builtin._toy).files == ()  # a built-in map has no user code


def test_user_code_files_are_the_rules_inputs_relative_to_the_working_directory(tmp_path, monkeypatch):
    from figureflow.maps import user_code_files

    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "deep.py").write_text("def base():\n    return 1.0\n")
    (tmp_path / "pkg" / "maps.py").write_text("from .deep import base\n\ndef m(z, p, out):\n    out[0] = base() * z[0]\n")
    (tmp_path / "unrelated.py").write_text("X = 1\n")
    assert user_code_files("pkg.maps") == ("pkg/__init__.py", "pkg/deep.py", "pkg/maps.py")


def test_code_built_at_run_time_is_never_named_by_files(tmp_path, monkeypatch):
    from figureflow.jacobian.map_code import map_code

    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "runtime_maps.py").write_text(
        "namespace = {}\nexec('def m(z, p, out):\\n    out[0] = z[0]\\n', namespace)\nm = namespace['m']\n"
        "def from_file(z, p, out):\n    out[0] = m(z, p, out)\n"
    )
    import runtime_maps

    code = map_code(runtime_maps.m)
    assert code.files == () and "built at run time" in code.reason
    code = map_code(runtime_maps.from_file)  # its module holds a function that no file shows
    assert code.files == () and code.reason == "module 'runtime_maps': function 'm' was built at run time (its code comes from '<string>', not a file)"


def test_numba_cache_is_kept_only_where_the_functions_file_is_all_its_code(tmp_path, monkeypatch):
    from numba.core.caching import NullCache

    from figureflow.jacobian.map_code import compile_fresh_where_numba_cache_is_blind

    monkeypatch.syspath_prepend(str(tmp_path))
    write_user_code(tmp_path, 2.0, through_module=True)
    for name in ("my_maps", "my_mid", "my_helpers"):
        sys.modules.pop(name, None)
    import my_helpers
    import my_maps
    import my_mid

    changed = compile_fresh_where_numba_cache_is_blind("my_maps")
    assert sorted(changed) == ["my_maps.lin", "my_mid.twice"]
    assert isinstance(my_maps.lin._cache, NullCache) and isinstance(my_mid.twice._cache, NullCache)
    assert not isinstance(my_helpers.stretch._cache, NullCache)  # its file is all its code
