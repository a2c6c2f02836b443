"""Shared fixtures: the repository's paths, small input files, and a snakemake runner."""

from __future__ import annotations

import fcntl
import filecmp
import os

# numba sizes its thread pool once, when it starts, from the machine's cores: on a 1-core machine
# every "1 against 2 threads" test would compare 1 with 1. Two threads whatever the machine (the
# two_numba_threads fixture fails where the pool still has fewer); set before anything imports numba.
os.environ.setdefault("NUMBA_NUM_THREADS", "2")
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


def _shipped_pbmc() -> Path:
    import scanpy

    return Path(scanpy.__file__).parent / "datasets" / "10x_pbmc68k_reduced.h5ad"


#: scanpy's pbmc68k_reduced as scanpy ships it (anndata's oldest on-disk layout); never rewritten
SHIPPED_PBMC = _shipped_pbmc()


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


def write_counts_failing_in_the_job(workdir: Path) -> Path:
    """``workdir/c.yaml`` ingesting an h5ad whose one negative count lies past the sample that the
    check before any job reads: the ``ingest_h5ad`` job fails (figureflow's own error). Returns
    the config path."""
    from figureflow.data.ingest import COUNT_SAMPLE

    n_genes = 10
    n_cells = COUNT_SAMPLE // n_genes + 6
    X = np.ones((n_cells, n_genes), dtype=np.float32)
    X[-1, 1] = -4
    obs = pd.DataFrame({"cell_type": list("ab") * (n_cells // 2)}, index=[f"c{i}" for i in range(n_cells)])
    (workdir / "inputs").mkdir(parents=True, exist_ok=True)
    ad.AnnData(X=X, obs=obs).write_h5ad(workdir / "inputs" / "neg.h5ad")
    (workdir / "c.yaml").write_text("seed: 1\ndatasets:\n  d: {h5ad: inputs/neg.h5ad}\n")
    return workdir / "c.yaml"


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


@pytest.fixture(scope="session")
def runs(tmp_path_factory):
    """tests/config.yaml run for real: everything with --cores 2, and its tables and data files
    again with --cores 1 (serially, its ~40 figure and paper jobs would add minutes; the tables
    are what must not depend on the cores).

    Run once per test session: under pytest-xdist the first worker to need it runs it in the
    directory all workers share, holding a lock the others wait on."""
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    results = {cores: shared / f"runs_cores{cores}" for cores in ("1", "2")}
    with open(shared / "runs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = shared / "runs.done"
        if not done.exists():
            for cores, workdir in results.items():
                shutil.rmtree(workdir, ignore_errors=True)  # left by a worker whose run failed
                config = prepare_workdir(workdir)
                targets = [*EXPECTED_TABLES, *EXPECTED_DATA_FILES] if cores == "1" else []
                result = run_snakemake(workdir, "--cores", cores, *targets, configfile=config)
                assert result.returncode == 0, result.stdout + result.stderr
            done.touch()
    return results


#: data files compared between --cores 1 and --cores 2 (tests/test_workflow.py)
EXPECTED_DATA_FILES = [
    *[f"results/jacobian/{grid}/grid.npz" for grid in ("toy", "swirl")],
    *[f"results/graphs/{graph}.npz" for graph in ("tiny_sbm", "tiny_edges")],
    *[f"results/{kind}/{dataset}.h5ad" for kind in ("data", "processed") for dataset in ("tiny_sim", "tiny_h5ad")],
]

EXPECTED_TABLES = [
    "results/processed/tiny_sim.qc.tsv",
    "results/processed/tiny_h5ad.qc.tsv",
    "results/graphs/tiny_sbm.nodes.tsv",
    "results/graphs/tiny_sbm.groups.tsv",
    "results/graphs/tiny_edges.nodes.tsv",
    "results/graphs/tiny_edges.groups.tsv",
    "results/signal_flow/tiny_sbm/nodes.tsv",
    "results/signal_flow/tiny_sbm/summary.tsv",
    "results/signal_flow/tiny_edges/nodes.tsv",
    "results/signal_flow/tiny_edges/summary.tsv",
    "results/jacobian/toy/estimates.tsv",
    "results/jacobian/swirl/estimates.tsv",
    "results/aging/tiny_sim/magnitudes.tsv",
    "results/aging/tiny_sim/bootstraps.tsv",
    "results/aging/tiny_h5ad/magnitudes.tsv",
    "results/aging/tiny_h5ad/bootstraps.tsv",
    "results/aging/tiny_sim/trajectories.tsv",
    "results/aging/tiny_h5ad/trajectories.tsv",
    *[f"results/aging/tiny_sim/cell_types/type_{t}.{kind}.tsv" for t in range(3) for kind in ("magnitude", "bootstraps")],
    *[f"results/aging/tiny_h5ad/cell_types/{t}.{kind}.tsv" for t in ("B", "NK", "T") for kind in ("magnitude", "bootstraps")],
    "results/sweeps/tiny_grid/replicates.tsv",
    "results/sweeps/tiny_grid/summary.tsv",
    *[f"results/sweeps/tiny_grid/chunks/{c}.tsv" for c in range(3)],
    "results/jacobian/tiny_decoder/estimates.tsv",
    *[f"results/vae/{run}/{table}.tsv" for run in ("tiny_beta", "tiny_atlas", "tiny_sprites_tc") for table in ("history", "metrics")],
    *[f"results/vae/{run}/replicate_{r}/{table}.tsv" for run, replicates in (("tiny_beta", 2), ("tiny_atlas", 1), ("tiny_sprites_tc", 1))
      for r in range(replicates) for table in ("history", "metrics")],
    "results/vae/baselines/tiny_expr.tsv",
    "results/vae/baselines/tiny_sprites.tsv",
    "results/vae/scores.tsv",
    "results/vae/comparison.tsv",
    "results/jacobian/tiny_flow/estimates.tsv",
    *[f"results/cnf/{run}/{table}.tsv" for run in ("tiny_moons", "tiny_cells") for table in ("history", "metrics")],
]
# wall times differ from run to run; every other value must be identical
TIMING_COLUMNS = ["seconds", "train_seconds", "nll_seconds"]


def assert_same_tables(one: Path, two: Path, first: str, second: str) -> None:
    """Every table under ``one/results`` (benchmarks aside) exists in ``two`` with the same
    content: byte for byte, or cell for cell without the wall-time columns."""
    tables = sorted(p.relative_to(one) for p in (one / "results").rglob("*.tsv") if "benchmarks" not in p.parts)
    assert len(tables) == len(EXPECTED_TABLES)
    for table in tables:
        a, b = (pd.read_csv(d / table, sep="\t", dtype=str, keep_default_na=False) for d in (one, two))
        timing = [c for c in TIMING_COLUMNS if c in a.columns]
        if timing:
            a, b = a.drop(columns=timing), b.drop(columns=timing)
            assert a.equals(b), f"{table} differs between {first} and {second} (timing columns aside)"
        else:
            assert filecmp.cmp(one / table, two / table, shallow=False), f"{table} differs between {first} and {second}"


@pytest.fixture
def small_h5ad(tmp_path):
    return write_small_h5ad(tmp_path / "small.h5ad")


@pytest.fixture
def user_maps(monkeypatch):
    """tests/data/user_maps.py importable as ``user_maps`` (users' maps, good and bad)."""
    monkeypatch.syspath_prepend(str(REPO / "tests" / "data"))
    yield
    sys.modules.pop("user_maps", None)


def _pdf_string(data: bytes, start: int) -> str:
    """The PDF literal string whose ``(`` is at ``start``, unescaped."""
    out, depth, i = bytearray(), 0, start
    escapes = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}
    while True:
        c = data[i]
        if c == ord("\\"):
            nxt = data[i + 1]
            out += escapes.get(nxt, bytes([nxt]))
            i += 2
            continue
        if c == ord("("):
            depth += 1
            if depth > 1:
                out.append(c)
        elif c == ord(")"):
            depth -= 1
            if depth == 0:
                return out.decode("latin-1")
            out.append(c)
        else:
            out.append(c)
        i += 1


def pdf_facts(path) -> dict:
    """What a journal checks in a PDF, read from its bytes (matplotlib writes the page and font
    dictionaries uncompressed): ``width_mm``, ``height_mm`` (the first page's MediaBox), the font
    ``subtypes``, and the Info strings ``Title``, ``Subject``, ``Keywords``."""
    import re

    data = Path(path).read_bytes()
    box = [float(v) for v in re.search(rb"/MediaBox\s*\[\s*([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s+([-\d.]+)\s*\]", data).groups()]
    facts = {"width_mm": (box[2] - box[0]) / 72 * 25.4, "height_mm": (box[3] - box[1]) / 72 * 25.4,
             "subtypes": {m.decode() for m in re.findall(rb"/Subtype\s*/(\w+)", data)}}
    for key in ("Title", "Subject", "Keywords"):
        m = re.search(rb"/" + key.encode() + rb"\s*\(", data)
        facts[key] = _pdf_string(data, m.end() - 1) if m else None
    return facts


@pytest.fixture
def two_numba_threads():
    """For a test that compares 1 and 2 numba threads: fails unless the kernels can really run on 2."""
    import numba

    from figureflow.threads import numba_threads

    with numba_threads(2) as n:
        assert n == 2 == numba.get_num_threads(), (
            f"numba's pool has {numba.config.NUMBA_NUM_THREADS} thread(s) (NUMBA_NUM_THREADS): "
            "a test of 1 against 2 threads would compare 1 with 1"
        )
    return 2
