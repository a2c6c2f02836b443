"""Single-cell data at atlas size: ingestion, preprocessing and aging magnitudes, per rule.

    python benchmarks/atlas.py                          # 300,000 cells x 2,000 genes, 20 cell types
    python benchmarks/atlas.py --cells 30000 --keep /tmp/atlas30k

Published aging atlases hold 10^5 to 10^6 cells (Tabula Muris Senis about 350,000). This makes a
user's file of that size (simulated counts, int32 CSR in ``X``, obs ``cell_type`` and ``age`` with
the labels 3m and 24m; not timed), then runs the workflow on it as a user does, in a fresh working
directory: ``snakemake --cores 2 results/aging/atlas/magnitudes.tsv``, which ingests the file,
preprocesses it (normalize, log1p, highly variable genes, PCA; ``--umap`` adds the neighbour
graph and UMAP) and computes every cell type's bootstrapped aging magnitude.

Printed: per rule, the jobs, their seconds (sum and longest) and their peak resident memory
(Snakemake's ``benchmark:`` files), what each job asked for (``mem_mb``), the whole call's wall
time and the largest peak, against the goal of 15 minutes and 8 GB on 2 cores; and the planted
shifts against the magnitudes (Spearman), so that a fast run that computes nonsense shows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
RULES = ("ingest_h5ad", "preprocess_scrna", "aging_cell_type", "aging_magnitudes")


def make_input(path: Path, cells: int, genes: int, cell_types: int, seed: int) -> None:
    from figureflow.data.scrna import simulate_scrna
    from figureflow.io import write_h5ad
    from figureflow.seeding import seed_sequence

    adata = simulate_scrna(seed_sequence(seed, "bench_atlas"), n_cells=cells, n_genes=genes, n_cell_types=cell_types,
                           aging_shift=np.linspace(0.0, 6.0, cell_types), n_threads=2)
    adata.obs["age"] = adata.obs["age"].map({"young": "3m", "old": "24m"}).astype("category")
    write_h5ad(adata, path)


def config_text(path: Path, umap: bool) -> str:
    return f"""seed: 1
datasets:
  atlas: {{h5ad: {path}, young: ["3m"], old: ["24m"]}}
preprocess: {{n_top_genes: 2000, n_pcs: 30, umap: {str(umap).lower()}}}
aging: {{n_dims: 10, bootstraps: 100, n_per_sample: 500}}
"""


def rule_table(workdir: Path) -> pd.DataFrame:
    rows = []
    for rule in RULES:
        for f in sorted((workdir / "results/benchmarks" / rule).rglob("*.tsv")):
            b = pd.read_csv(f, sep="\t").iloc[-1]
            rows.append({"rule": rule, "job": f.stem, "seconds": float(b["s"]), "peak_mb": float(b["max_rss"])})
    return pd.DataFrame(rows)


def requested_mb(workdir: Path) -> dict:
    """mem_mb of each rule's jobs, as the dry run of the same call plans them (what SLURM would be asked for)."""
    out = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "-n", "-p",
                          "--forceall", "--cores", "2", "--", "results/aging/atlas/magnitudes.tsv"], capture_output=True, text=True)
    asked, rule = {}, None
    for line in out.stdout.splitlines():
        line = line.strip()
        if line.startswith("rule ") or line.startswith("localrule "):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("resources:") and rule in RULES:
            for part in line.split(":", 1)[1].split(","):
                key, _, value = part.strip().partition("=")
                if key == "mem_mb":
                    asked.setdefault(rule, set()).add(int(value))
    return asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=300_000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--cell-types", type=int, default=20)
    parser.add_argument("--umap", action="store_true")
    parser.add_argument("--keep", help="working directory to use and keep (default: a temporary one)")
    args = parser.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="figureflow_atlas_"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "atlas.h5ad"
    if not data.exists():
        start = time.perf_counter()
        make_input(data, args.cells, args.genes, args.cell_types, seed=7)
        print(f"input: {args.cells:,} cells x {args.genes:,} genes, {args.cell_types} cell types, {data.stat().st_size / 1e6:,.0f} MB "
              f"(made in {time.perf_counter() - start:.0f} s, not counted)")
    (workdir / "config.yaml").write_text(config_text(data.resolve(), args.umap))
    command = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(workdir), "--cores", "2",
               "--", "results/aging/atlas/magnitudes.tsv"]
    start = time.perf_counter()
    run = subprocess.run(command, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if run.returncode:
        sys.exit(f"the workflow failed after {wall:.0f} s:\n{run.stderr[-4000:]}")
    table = rule_table(workdir)
    asked = requested_mb(workdir)
    print(f"snakemake --cores 2 results/aging/atlas/magnitudes.tsv: {wall:.0f} s wall ({wall / 60:.1f} min), "
          f"largest job peak {table['peak_mb'].max() / 1024:.2f} GB (goal: 15 min and 8 GB)")
    print(f"{'rule':18s} {'jobs':>4s} {'job-s':>7s} {'longest':>8s} {'peak MB':>8s} {'asked MB':>9s}")
    for rule in RULES:
        part = table[table["rule"] == rule]
        if len(part):
            ask = ", ".join(str(v) for v in sorted(asked.get(rule, ()))) or "?"
            print(f"{rule:18s} {len(part):4d} {part['seconds'].sum():7.1f} {part['seconds'].max():8.1f} {part['peak_mb'].max():8.0f} {ask:>9s}")
    from scipy.stats import spearmanr

    from figureflow.data.ingest import read_h5ad_annotations

    truth = read_h5ad_annotations(data, obsm=[]).uns["truth"]
    planted = dict(zip(map(str, truth["cell_types"]), truth["aging_shift"]))
    magnitudes = pd.read_csv(workdir / "results/aging/atlas/magnitudes.tsv", sep="\t")
    ok = magnitudes["status"] == "ok"
    rho = spearmanr(magnitudes.loc[ok, "magnitude"], [planted[str(t)] for t in magnitudes.loc[ok, "cell_type"]]).statistic
    print(f"magnitudes against the planted shifts: Spearman {rho:.3f} over {int(ok.sum())} cell types")
    print(f"working directory: {workdir}")


if __name__ == "__main__":
    main()
