"""Data-layer speed: the O(edges) SBM sampler against a dense n x n draw, and the large simulations.

    python benchmarks/data_layer.py            # everything (about a minute on 2 cores)
    python benchmarks/data_layer.py --quick    # small sizes only

1. SBM: geometric skipping (figureflow) vs the reference dense Bernoulli draw of an n x n matrix,
   same block model, same n, on a dense and a sparse model; time of each, ratio, and both results
   (edges, and the largest |z|-score of an edge count per block pair against its expectation).
2. SBM at 10^6 nodes and ~10^7 edges: time and peak memory (own process).
3. scRNA simulation at 100k cells x 2k genes: time and peak memory (own process).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from _util import peak_memory_mb, run_case


def dense_reference_sbm(sizes, P, rng):
    """Reference: one Bernoulli draw per ordered node pair (O(n^2) time and memory), no self-loops."""
    blocks = np.repeat(np.arange(len(sizes)), sizes)
    prob = P[blocks[:, None], blocks[None, :]]
    A = rng.random(prob.shape) < prob
    np.fill_diagonal(A, False)
    return A, blocks


def pair_counts(rows, cols, blocks, B):
    return np.bincount(blocks[rows] * B + blocks[cols], minlength=B * B).reshape(B, B)


def compare(n_blocks, block_size, p_low, p_within, p_forward):
    from figureflow.data.sbm import feedforward_block_matrix, simulate_sbm
    from figureflow.seeding import seed_sequence

    sizes = np.full(n_blocks, block_size)
    P = feedforward_block_matrix(n_blocks, p_low, p_within, p_forward)
    n = n_blocks * block_size
    t = time.perf_counter()
    A, blocks = simulate_sbm(sizes, P, seed_sequence(1, "bench"), n_threads=1)
    fast = time.perf_counter() - t
    t = time.perf_counter()
    D, _ = dense_reference_sbm(sizes, P, np.random.default_rng(1))
    dense = time.perf_counter() - t
    coo = A.tocoo()
    fast_counts = pair_counts(coo.row, coo.col, blocks, n_blocks)
    r, c = np.nonzero(D)
    dense_counts = pair_counts(r, c, blocks, n_blocks)
    expected = np.outer(sizes, sizes) * P - np.diag(sizes * np.diag(P))
    sd = np.sqrt(expected * (1 - P))
    z_fast = np.abs(fast_counts - expected)[sd > 0] / sd[sd > 0]
    z_dense = np.abs(dense_counts - expected)[sd > 0] / sd[sd > 0]
    density = A.nnz / (n * (n - 1))
    print(f"n = {n:>6} ({n_blocks} blocks x {block_size}, density {density:.1e}): fast {fast:8.3f} s, dense reference {dense:8.3f} s, "
          f"ratio {dense / fast:6.1f}x")
    print(f"    edges: fast {A.nnz:,}, dense {int(D.sum()):,}, expected {expected.sum():,.0f}; "
          f"max |z| over block pairs: fast {z_fast.max():.2f}, dense {z_dense.max():.2f}")


def large_sbm():
    from figureflow.data.sbm import feedforward_block_matrix, simulate_sbm
    from figureflow.seeding import seed_sequence

    n_blocks, size = 10, 100_000
    P = feedforward_block_matrix(n_blocks, 3e-6, 3e-5, 5e-5)
    t = time.perf_counter()
    A, _ = simulate_sbm([size] * n_blocks, P, seed_sequence(1, "bench"), n_threads=2)
    seconds = time.perf_counter() - t
    return {"nodes": A.shape[0], "edges": int(A.nnz), "seconds": seconds}


def large_scrna():
    from figureflow.data.scrna import simulate_scrna
    from figureflow.seeding import seed_sequence

    t = time.perf_counter()
    a = simulate_scrna(seed_sequence(1, "bench"), n_cells=100_000, n_genes=2000, n_threads=2)
    seconds = time.perf_counter() - t
    return {"cells": a.n_obs, "genes": a.n_vars, "nonzero": int(a.X.nnz), "seconds": seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--case", choices=["large_sbm", "large_scrna"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        result = {"large_sbm": large_sbm, "large_scrna": large_scrna}[args.case]()
        result["peak_mb"] = peak_memory_mb()
        print(json.dumps(result))
        return
    print("1. SBM sampler: geometric skipping vs dense n x n Bernoulli draw (1 thread each)")
    print("   the blog's noisy feedforward model (p_low 0.05, p_within 0.2, p_forward 0.3): edges ~ n^2")
    for n_blocks, size in ([(5, 400)] if args.quick else [(5, 500), (10, 500), (10, 1000)]):
        compare(n_blocks, size, 0.05, 0.2, 0.3)
    print("   sparse feedforward model (p_low 1e-4, p_within 2e-3, p_forward 4e-3), as real graphs are")
    for n_blocks, size in ([(5, 400)] if args.quick else [(10, 500), (10, 1000), (10, 2000)]):
        compare(n_blocks, size, 1e-4, 2e-3, 4e-3)
    if args.quick:
        return
    r = run_case(__file__, "large_sbm")
    print(f"2. SBM at {r['nodes']:,} nodes: {r['edges']:,} edges in {r['seconds']:.2f} s (2 threads), "
          f"peak memory {r['peak_mb']:.0f} MB (whole process, imports included)")
    r = run_case(__file__, "large_scrna")
    print(f"3. scRNA simulation {r['cells']:,} cells x {r['genes']:,} genes: {r['nonzero']:,} nonzero counts in "
          f"{r['seconds']:.1f} s (2 threads), peak memory {r['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
