"""Signal flow: dense pinv reference vs the sparse solver, and a million-node graph.

    python benchmarks/signal_flow.py           # about two minutes on 2 cores
    python benchmarks/signal_flow.py --quick   # n = 2500 only, no large graph

1. The blog's noisy feedforward SBMs (p_low 0.05, p_within 0.2, p_forward 0.3) at n = 2500
   (5 blocks of 500) and n = 5000 (10 blocks of 500): z = pinv(L) b against solver="sparse" on
   the same graph, time of each (BLAS threads: all cores for pinv), ratio, max |difference|.
2. A 10^6-node SBM with ~10^7 edges: simulation and sparse solve timed separately, peak memory
   of the process (own process).
3. A mesh-like graph (directed 1000 x 1000 grid), where Jacobi-CG is slow and the solver switches
   to algebraic multigrid (own process).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from _util import peak_memory_mb, run_case


def compare(n_blocks, size):
    from figureflow.data.sbm import feedforward_block_matrix, simulate_sbm
    from figureflow.seeding import seed_sequence
    from figureflow.signal_flow import signal_flow

    P = feedforward_block_matrix(n_blocks, 0.05, 0.2, 0.3)
    A, _ = simulate_sbm([size] * n_blocks, P, seed_sequence(2026, "bench_signal_flow", {"n": n_blocks * size}))
    t = time.perf_counter()
    dense = signal_flow(A, solver="pinv")
    t_dense = time.perf_counter() - t
    t = time.perf_counter()
    sparse = signal_flow(A, solver="sparse")
    t_sparse = time.perf_counter() - t
    diff = np.abs(dense.z - sparse.z).max()
    print(
        f"n = {A.shape[0]:>5}, {A.nnz:>9,} edges: pinv {t_dense:7.2f} s, sparse {t_sparse:6.3f} s "
        f"({sparse.method}, {sparse.iterations} iterations, residual {sparse.residual:.1e}), "
        f"ratio {t_dense / t_sparse:6.1f}x, max |z_pinv - z_sparse| = {diff:.1e}"
    )
    print(
        f"    trophic incoherence: pinv {dense.trophic_incoherence:.10f}, sparse {sparse.trophic_incoherence:.10f}; "
        f"downhill fraction: pinv {dense.downhill_fraction:.6f}, sparse {sparse.downhill_fraction:.6f}"
    )


def million():
    from figureflow.data.sbm import feedforward_block_matrix, simulate_sbm
    from figureflow.seeding import seed_sequence
    from figureflow.signal_flow import signal_flow

    P = feedforward_block_matrix(10, 3e-6, 3e-5, 5e-5)
    t = time.perf_counter()
    A, blocks = simulate_sbm([100_000] * 10, P, seed_sequence(2026, "bench_signal_flow"), n_threads=2)
    t_sim = time.perf_counter() - t
    t = time.perf_counter()
    result = signal_flow(A, solver="sparse")
    t_solve = time.perf_counter() - t
    means = [float(np.nanmean(result.z[blocks == k])) for k in range(10)]
    return {
        "nodes": A.shape[0], "edges": int(A.nnz), "simulate_s": t_sim, "solve_s": t_solve,
        "method": result.method, "iterations": result.iterations, "residual": result.residual,
        "components": result.n_components, "isolated": result.n_isolated,
        "F0": result.trophic_incoherence, "downhill": result.downhill_fraction, "block_means": means,
    }


def mesh():
    import scipy.sparse as sp

    from figureflow.signal_flow import signal_flow

    n = 1000
    step = sp.diags([1.0], [1], shape=(n, n))
    A = (sp.kron(sp.identity(n), step) + sp.kron(step, sp.identity(n))).tocsr()
    t = time.perf_counter()
    result = signal_flow(A, solver="sparse")
    return {
        "nodes": A.shape[0], "edges": int(A.nnz), "solve_s": time.perf_counter() - t, "method": result.method,
        "iterations": result.iterations, "residual": result.residual, "z_range": float(np.nanmax(result.z) - np.nanmin(result.z)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--case", choices=["million", "mesh"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        result = {"million": million, "mesh": mesh}[args.case]()
        result["peak_mb"] = peak_memory_mb()
        print(json.dumps(result))
        return
    print("1. dense pinv reference vs sparse solver, same graphs (the blog's noisy feedforward SBMs)")
    for n_blocks in ([5] if args.quick else [5, 10]):
        compare(n_blocks, 500)
    if args.quick:
        return
    r = run_case(__file__, "million")
    print(
        f"2. SBM with {r['nodes']:,} nodes, {r['edges']:,} edges: simulated in {r['simulate_s']:.2f} s, solved in "
        f"{r['solve_s']:.2f} s ({r['method']}, {r['iterations']} iterations, residual {r['residual']:.1e}); "
        f"total {r['simulate_s'] + r['solve_s']:.2f} s, peak memory {r['peak_mb']:.0f} MB"
    )
    print(
        f"    {r['components']} component(s), {r['isolated']} isolated node(s); trophic incoherence {r['F0']:.4f}, "
        f"downhill fraction {r['downhill']:.4f}; mean z per block {np.round(r['block_means'], 3).tolist()}"
    )
    r = run_case(__file__, "mesh")
    print(
        f"3. directed {int(np.sqrt(r['nodes']))} x {int(np.sqrt(r['nodes']))} grid ({r['nodes']:,} nodes, {r['edges']:,} edges): "
        f"solved in {r['solve_s']:.1f} s ({r['method']}, {r['iterations']} iterations incl. the Jacobi attempt, residual "
        f"{r['residual']:.1e}); z spans {r['z_range']:.9f} (exact: {2 * (int(np.sqrt(r['nodes'])) - 1)}); peak memory {r['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
