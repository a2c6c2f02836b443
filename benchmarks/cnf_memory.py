"""A CNF on a dataset's principal components: the job's peak memory, before and after a change.

    python benchmarks/cnf_memory.py --before 3c24a40          # 100,000 cells x 2,000 genes
    python benchmarks/cnf_memory.py --cells 20000 --keep /tmp/cnfmem

Makes a user's atlas (simulated counts, as ``benchmarks/atlas.py`` does; not timed), runs the
workflow to its processed h5ad (ingestion and preprocessing, as a user's first run does; not
timed), then runs the ``cnf_train`` job on its first 4 principal components (flow matching, 300
iterations) as ``snakemake --cores 1`` does, once with this checkout and, with ``--before REV``,
once with the workflow at ``REV`` (a git worktree) on the same processed file. Printed for each:
the job's peak resident memory (Snakemake's ``benchmark:`` file), what it asked for (``mem_mb``)
and its seconds, beside the size of the processed file's matrices, so that a job that reads the
whole file shows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

from atlas import make_input  # noqa: E402


def config_text(path: Path) -> str:
    return f"""seed: 1
datasets:
  atlas: {{h5ad: {path}, young: ["3m"], old: ["24m"]}}
preprocess: {{n_top_genes: 2000, n_pcs: 30, umap: false}}
cnf:
  runs:
    cells: {{data: atlas, n_dims: 4, objective: flow_matching, iterations: 300, evaluate_every: 100, hidden: [32, 32],
            batch_size: 256, solver: rk4, step_size: 0.25, gmm_components: 4}}
"""


def snakemake(repo: Path, workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(workdir), *args]
    return subprocess.run(command, capture_output=True, text=True)


def cnf_job(repo: Path, workdir: Path, label: str) -> dict:
    """Run the cnf_train job with ``repo``'s workflow; its peak, request and seconds."""
    target = "results/cnf/cells/metrics.tsv"
    run = snakemake(repo, workdir, "--cores", "1", "--rerun-triggers", "mtime", "--forcerun", "cnf_train", "--", target)
    if run.returncode:
        sys.exit(f"{label}: the cnf_train job failed:\n{run.stderr[-4000:]}")
    bench = pd.read_csv(workdir / "results/benchmarks/cnf_train/cells.tsv", sep="\t").iloc[-1]
    plan = snakemake(repo, workdir, "-n", "--rerun-triggers", "mtime", "--forcerun", "cnf_train", "--cores", "1", "--", target)
    asked = None
    for line in plan.stdout.splitlines():
        if line.strip().startswith("resources:") and "mem_mb=" in line:
            asked = int(line.split("mem_mb=")[1].split(",")[0])
    metrics = pd.read_csv(workdir / "results/cnf/cells/metrics.tsv", sep="\t")
    nll = float(metrics["held_out_nll"].iloc[0])
    return {"label": label, "peak_mb": float(bench["max_rss"]), "asked_mb": asked, "seconds": float(bench["s"]), "nll": nll}


def matrices_mb(path: Path) -> dict:
    """Bytes of the processed file's matrices as anndata reads them (X, layers, obsp), in MB."""
    import h5py

    sizes = {}
    with h5py.File(path, "r") as handle:
        def size(group) -> float:
            if isinstance(group, h5py.Dataset):
                return group.size * group.dtype.itemsize / 1e6
            return sum(size(group[k]) for k in group)

        for part in ("X", "layers", "obsp", "obsm"):
            if part in handle:
                sizes[part] = size(handle[part])
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--before", help="a git revision whose workflow runs the same job first (e.g. 3c24a40)")
    parser.add_argument("--keep", help="working directory to use and keep (default: a temporary one)")
    args = parser.parse_args()
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="figureflow_cnfmem_"))
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "atlas.h5ad"
    if not data.exists():
        make_input(data, args.cells, args.genes, 10, seed=7)
    (workdir / "config.yaml").write_text(config_text(data.resolve()))
    processed = workdir / "results/processed/atlas.h5ad"
    prep = snakemake(REPO, workdir, "--cores", "2", "--", str(processed.relative_to(workdir)))
    if prep.returncode:
        sys.exit(f"preprocessing failed:\n{prep.stderr[-4000:]}")
    sizes = matrices_mb(processed)
    print(f"processed file: {args.cells:,} cells x {args.genes:,} genes; as read: "
          + ", ".join(f"{k} {v:,.0f} MB" for k, v in sizes.items()))
    rows = []
    if args.before:
        tree = Path(tempfile.mkdtemp(prefix="figureflow_before_")) / "repo"
        subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), args.before], check=True, capture_output=True)
        try:
            rows.append(cnf_job(tree, workdir, f"before ({args.before})"))
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(tree)], capture_output=True)
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows.append(cnf_job(REPO, workdir, f"this checkout ({head})"))
    print(f"{'cnf_train on 4 PCs':28s} {'peak MB':>8s} {'asked MB':>9s} {'seconds':>8s} {'held-out NLL':>13s}")
    for r in rows:
        print(f"{r['label']:28s} {r['peak_mb']:8.0f} {r['asked_mb'] or 0:9d} {r['seconds']:8.1f} {r['nll']:13.5f}")
    if len(rows) == 2:
        print(f"peak after / before: {rows[1]['peak_mb'] / rows[0]['peak_mb']:.2f}; same held-out NLL: {rows[0]['nll'] == rows[1]['nll']}")
    print(f"working directory: {workdir}")


if __name__ == "__main__":
    main()
