"""Shared fixtures: the repository's paths, small input files, and a snakemake runner."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = REPO / "Snakefile"
SCHEMA = REPO / "schemas" / "config.schema.yaml"


def write_small_h5ad(path: Path, n_cells: int = 120, n_genes: int = 40, seed: int = 0, **obs_extra) -> Path:
    """A small counts AnnData with obs ``celltype`` and ``donor_age`` (3m/12m/24m) and a ``counts`` layer."""
    rng = np.random.default_rng(seed)
    counts = rng.poisson(2.0, size=(n_cells, n_genes)).astype(np.float32)
    obs = pd.DataFrame(
        {
            "celltype": np.array(["B", "T", "NK"])[np.arange(n_cells) % 3],
            "donor_age": np.array(["3m", "12m", "24m"])[(np.arange(n_cells) // 3) % 3],
            **obs_extra,
        },
        index=[f"c{i}" for i in range(n_cells)],
    )
    adata = ad.AnnData(X=sp.csr_matrix(np.log1p(counts)), obs=obs, layers={"counts": sp.csr_matrix(counts)})
    adata.var_names = [f"g{i}" for i in range(n_genes)]
    path.parent.mkdir(parents=True, exist_ok=True)
    adata.write_h5ad(path)
    return path


def run_snakemake(workdir: Path, *args: str, configfile: Path | None = None, timeout: int = 900):
    """Run this repository's workflow in ``workdir``; return the CompletedProcess (text output)."""
    command = [sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir)]
    if configfile is not None:
        command += ["--configfile", str(configfile)]
    command += list(args)
    env = dict(os.environ, PYTHONHASHSEED="random")
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir)


def prepare_workdir(workdir: Path) -> Path:
    """Copy the inputs that tests/config.yaml names into ``workdir``; return the config path."""
    workdir.mkdir(parents=True, exist_ok=True)
    inputs = workdir / "inputs"
    inputs.mkdir(exist_ok=True)
    write_small_h5ad(inputs / "tiny.h5ad")
    for name in ("toy_circuit.edges.tsv", "toy_circuit.nodes.tsv"):
        shutil.copy(REPO / "examples" / name, inputs / name)
    shutil.copy(REPO / "tests" / "data" / "user_maps.py", workdir / "user_maps.py")
    return REPO / "tests" / "config.yaml"


def prepare_demo(workdir: Path) -> Path:
    """Copy the demo config and the example inputs it names into ``workdir``; return ``workdir``."""
    shutil.copy(REPO / "config.yaml", workdir / "config.yaml")
    shutil.copytree(REPO / "examples", workdir / "examples")
    return workdir


@pytest.fixture
def small_h5ad(tmp_path):
    return write_small_h5ad(tmp_path / "small.h5ad")


@pytest.fixture
def user_maps(monkeypatch):
    """tests/data/user_maps.py importable as ``user_maps`` (users' maps, good and bad)."""
    monkeypatch.syspath_prepend(str(REPO / "tests" / "data"))
    yield
    sys.modules.pop("user_maps", None)
