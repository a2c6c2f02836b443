"""Put this workflow's own ``src/`` first on ``sys.path``.

Snakemake adds a script's folder to ``sys.path``, so ``import _figureflow_src`` at the top of a
script makes ``figureflow`` importable in any environment a rule runs in (a venv, a conda env
made from ``envs/``, a cluster node), and always the copy that ships with this workflow.
"""

import sys
from pathlib import Path

SRC = str(Path(__file__).resolve().parents[1] / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
