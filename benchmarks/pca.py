"""PCA of log-normalized expression: figureflow's covariance path against scanpy's ARPACK.

    python benchmarks/pca.py                       # 100,000 simulated cells x 2,000 genes
    python benchmarks/pca.py --cells 300000 --h5ad results/processed/atlas.h5ad

Each path runs in a fresh process on the same matrix (the highly variable genes of the file's
log-normalized ``X``, or of a simulated dataset normalized and log-transformed here, not timed),
on 2 threads, and prints its seconds, then the ratio and how far the two agree: the variance
along each component, the angle between components, and the scores.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys, time
start = time.perf_counter()
import numpy as np, scipy.sparse as sp
from threadpoolctl import threadpool_limits
path, solver, n_comps, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
X = sp.load_npz(path)
loaded = time.perf_counter()
with threadpool_limits(2):
    if solver == "covariance":
        from figureflow.data.preprocess import covariance_pca
        scores, components, variance, _ = covariance_pca(X, n_comps, n_threads=2)
    else:
        import anndata as ad, scanpy as sc
        a = ad.AnnData(X)
        sc.pp.pca(a, n_comps=n_comps, svd_solver="arpack", random_state=0)
        scores, components, variance = a.obsm["X_pca"], a.varm["PCs"], a.uns["pca"]["variance"]
done = time.perf_counter()
np.savez(out, scores=scores, components=components, variance=variance)
print(json.dumps({"pca_s": done - loaded, "process_s": done - start}))
"""


def matrix(args, workdir: Path) -> Path:
    import anndata as ad
    import scanpy as sc
    import scipy.sparse as sp

    if args.h5ad:
        adata = ad.read_h5ad(args.h5ad)
        X = adata.X[:, adata.var["highly_variable"].to_numpy()] if "highly_variable" in adata.var else adata.X
        X = X[: args.cells]
    else:
        from figureflow.data.scrna import simulate_scrna
        from figureflow.seeding import seed_sequence

        adata = simulate_scrna(seed_sequence(7, "bench_pca"), n_cells=args.cells, n_genes=args.genes, n_cell_types=20,
                               aging_shift=np.linspace(0.0, 6.0, 20), n_threads=2)
        adata.X = sp.csr_matrix(adata.X, dtype=np.float32)
        sc.pp.normalize_total(adata, target_sum=1e4)
        sc.pp.log1p(adata)
        X = adata.X
    path = workdir / "X.npz"
    sp.save_npz(path, sp.csr_matrix(X, dtype=np.float32), compressed=False)
    return path


def run(path: Path, solver: str, n_comps: int, workdir: Path) -> tuple[dict, dict]:
    out = workdir / f"{solver}.npz"
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), solver, str(n_comps), str(out)], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{solver} failed:\n{done.stderr[-3000:]}")
    timing = json.loads(done.stdout.strip().splitlines()[-1])
    with np.load(out) as f:
        return timing, {k: f[k] for k in f.files}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=100_000)
    parser.add_argument("--genes", type=int, default=2000)
    parser.add_argument("--comps", type=int, default=30)
    parser.add_argument("--h5ad", help="a processed file (figureflow's results/processed/<dataset>.h5ad)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="figureflow_pca_") as tmp:
        workdir = Path(tmp)
        start = time.perf_counter()
        path = matrix(args, workdir)
        import scipy.sparse as sp

        X = sp.load_npz(path)
        print(f"{X.shape[0]:,} cells x {X.shape[1]:,} genes, {X.nnz:,} stored values (prepared in {time.perf_counter() - start:.0f} s, "
              f"not timed); {args.comps} components, 2 threads, each path in a fresh process")
        ref_t, ref = run(path, "arpack", args.comps, workdir)
        fast_t, fast = run(path, "covariance", args.comps, workdir)
    print(f"   reference (scanpy, ARPACK)   PCA {ref_t['pca_s']:7.1f} s (process {ref_t['process_s']:.1f} s)")
    print(f"   fast path (covariance)       PCA {fast_t['pca_s']:7.1f} s (process {fast_t['process_s']:.1f} s)")
    print(f"   ratio (reference / fast)     {ref_t['pca_s'] / fast_t['pca_s']:.1f}x on the PCA, "
          f"{ref_t['process_s'] / fast_t['process_s']:.1f}x on the process")
    rel = np.abs(fast["variance"] - ref["variance"]) / ref["variance"]
    cos = np.abs(np.sum(fast["components"] * ref["components"], axis=0))
    scale = np.abs(ref["scores"]).max()
    diff = np.abs(np.abs(fast["scores"].astype(np.float64)) - np.abs(ref["scores"].astype(np.float64))).max()
    print(f"   variance along each component: largest relative difference {rel.max():.1e}")
    print(f"   components: smallest |cos| between the two {cos.min():.7f} (component {int(cos.argmin()) + 1})")
    print(f"   scores (up to sign): largest difference {diff:.1e}, against a largest score of {scale:.1f}")


if __name__ == "__main__":
    main()
