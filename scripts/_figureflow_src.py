"""Put this workflow's own ``src/`` first on ``sys.path``, always.

Snakemake adds a script's folder to ``sys.path``, so ``import _figureflow_src`` at the top of a
script makes ``figureflow`` importable in any environment a rule runs in (a venv, a conda env
made from ``envs/``, a cluster node), and always the copy that ships with this workflow: the
script preamble appends the parent process's whole ``sys.path`` (``src`` included) after the
job's own, where an installed ``figureflow`` would otherwise win. So ``src`` is moved to the
front even when it is already on the path, and a ``figureflow`` imported from elsewhere is
forgotten. The job's log names the copy it imported (``figureflow.runtime.job``).
"""

import os
import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
while SRC in sys.path:
    sys.path.remove(SRC)
sys.path.insert(0, SRC)
for name in [m for m in sys.modules if m == "figureflow" or m.startswith("figureflow.")]:
    module_file = getattr(sys.modules[name], "__file__", None) or ""
    if not module_file.startswith(SRC + os.sep):
        del sys.modules[name]
