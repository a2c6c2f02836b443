"""Signal flow: dense pinv reference vs the sparse solver, timed as a workflow job sees them.

    python benchmarks/signal_flow.py           # about five minutes on 2 cores
    python benchmarks/signal_flow.py --quick   # section 1 only

1. The demo's noisy feedforward densities (p_low 0.05, p_within 0.2, p_forward 0.3) at n = 5000
   (5 blocks of 1000, 3.0 million edges), graph written to .npz as the workflow does. Each solver
   runs in a fresh Python process (the "cold" call: the first call of a job, with every lazy
   import and first touch of memory it pays), then a second time in the same process ("warm");
   the sparse solver in five processes (median and range), pinv in one. The ratio is
   pinv / sparse; the maximum |z_pinv - z_sparse| says they agree. Beside it, the
   system assembly alone, cold, with the one-pass assembly and with the whole-matrix scipy
   expression it replaced (figureflow.signal_flow.laplacian_system_reference).
2. The same two solvers in real workflow jobs (snakemake, rule signal_flow): the seconds column
   of each job's summary.tsv.
3. A 10^6-node SBM with ~10^7 edges: simulation and sparse solve timed separately, peak memory
   of the process (own process).
4. A mesh-like graph (directed 1000 x 1000 grid), where Jacobi-CG is slow and the solver switches
   to algebraic multigrid (own process).
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

from _util import peak_memory_mb, run_case

DENSITIES = (0.05, 0.2, 0.3)  # p_low, p_within, p_forward: the demo's noisy feedforward graphs
BLOCKS, BLOCK_SIZE = 5, 1000


def write_graph(path: Path) -> int:
    import scipy.sparse as sp

    from figureflow.data.sbm import feedforward_block_matrix, simulate_sbm
    from figureflow.seeding import seed_sequence

    P = feedforward_block_matrix(BLOCKS, *DENSITIES)
    A, _ = simulate_sbm([BLOCK_SIZE] * BLOCKS, P, seed_sequence(2026, "bench_signal_flow", {"n": BLOCKS * BLOCK_SIZE}))
    sp.save_npz(path, A, compressed=True)
    return int(A.nnz)


def solve_fresh(graph: str, solver: str, z_out: str) -> dict:
    """In this (fresh) process: import, load, solve twice; z to ``z_out``."""
    t = time.perf_counter()
    import scipy.sparse as sp

    from figureflow.signal_flow import signal_flow

    imported = time.perf_counter() - t
    A = sp.load_npz(graph).tocsr()
    t = time.perf_counter()
    first = signal_flow(A, solver=solver)
    cold = time.perf_counter() - t
    t = time.perf_counter()
    signal_flow(A, solver=solver)
    warm = time.perf_counter() - t
    np.save(z_out, first.z)
    return {"import_s": imported, "cold_s": cold, "warm_s": warm, "method": first.method, "iterations": first.iterations,
            "residual": first.residual, "F0": first.trophic_incoherence, "downhill": first.downhill_fraction}


def assemble_fresh(graph: str, which: str) -> dict:
    """In this (fresh) process: the signal-flow system of the graph, once (cold)."""
    import scipy.sparse as sp

    from figureflow.signal_flow import assemble_system, check_adjacency, laplacian_system_reference

    A = check_adjacency(sp.load_npz(graph).tocsr())
    t = time.perf_counter()
    assemble_system(A) if which == "one_pass" else laplacian_system_reference(A)
    return {"cold_s": time.perf_counter() - t}


def cold_and_warm(workdir: Path, repeats: int = 5):
    graph = workdir / "graph.npz"
    edges = write_graph(graph)
    # the sparse solver first (a process started just after pinv's finds memory slower to touch)
    sparse = [run_case(__file__, "solve", str(graph), "sparse", str(workdir / "z_sparse.npy")) for _ in range(repeats)]
    p = run_case(__file__, "solve", str(graph), "pinv", str(workdir / "z_pinv.npy"))
    diff = np.nanmax(np.abs(np.load(workdir / "z_pinv.npy") - np.load(workdir / "z_sparse.npy")))
    cold = np.array([r["cold_s"] for r in sparse])
    warm = np.array([r["warm_s"] for r in sparse])
    s = sparse[0]
    print(f"1. n = {BLOCKS * BLOCK_SIZE} ({BLOCKS} blocks of {BLOCK_SIZE}), {edges:,} edges, each run in a fresh process")
    print(f"   pinv:   cold {p['cold_s']:7.2f} s, warm {p['warm_s']:7.2f} s  (import figureflow.signal_flow {p['import_s']:.2f} s)")
    print(
        f"   sparse: cold {np.median(cold):7.3f} s, warm {np.median(warm):7.3f} s  (medians of {repeats} processes; cold "
        f"{cold.min():.3f}-{cold.max():.3f} s; {s['method']}, {s['iterations']} iterations, residual {s['residual']:.1e})"
    )
    print(
        f"   ratio pinv / sparse: cold {p['cold_s'] / np.median(cold):6.1f}x (worst sparse process {p['cold_s'] / cold.max():.1f}x), "
        f"warm {p['warm_s'] / np.median(warm):6.1f}x; max |z_pinv - z_sparse| = {diff:.1e}"
    )
    print(f"   trophic incoherence: pinv {p['F0']:.10f}, sparse {s['F0']:.10f}; downhill fraction: pinv {p['downhill']:.6f}, sparse {s['downhill']:.6f}")
    one, ref = (min(run_case(__file__, "assemble", str(graph), w)["cold_s"] for _ in range(3)) for w in ("one_pass", "reference"))
    print(f"   system assembly alone, cold (best of 3 fresh processes): one pass {one:.3f} s, whole-matrix scipy {ref:.3f} s ({ref / one:.1f}x)")


WORKFLOW_CONFIG = """seed: 2026
graphs:
  noisy: {{sbm: {{n_blocks: {blocks}, block_size: {size}, p_low: {p0}, p_within: {p1}, p_forward: {p2}}}}}
signal_flow: {{solver: {solver}}}
"""


def in_workflow(workdir: Path):
    repo = Path(__file__).resolve().parents[1]
    seconds = {}
    for solver in ("pinv", "sparse"):
        run = workdir / solver
        run.mkdir()
        p0, p1, p2 = DENSITIES
        (run / "c.yaml").write_text(WORKFLOW_CONFIG.format(blocks=BLOCKS, size=BLOCK_SIZE, p0=p0, p1=p1, p2=p2, solver=solver))
        command = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(run), "--configfile",
                   str(run / "c.yaml"), "--cores", "2", "results/signal_flow/noisy/summary.tsv"]
        subprocess.run(command, check=True, capture_output=True, cwd=run)
        summary = (run / "results/signal_flow/noisy/summary.tsv").read_text().splitlines()
        row = dict(zip(summary[0].split("\t"), summary[1].split("\t")))
        seconds[solver] = float(row["seconds"])
    print(
        f"2. in workflow jobs (rule signal_flow, summary.tsv seconds): pinv {seconds['pinv']:.2f} s, sparse {seconds['sparse']:.3f} s, "
        f"ratio {seconds['pinv'] / seconds['sparse']:.1f}x"
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
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        name, *rest = args.case
        cases = {"million": million, "mesh": mesh, "solve": solve_fresh, "assemble": assemble_fresh}
        result = cases[name](*rest)
        result["peak_mb"] = peak_memory_mb()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        cold_and_warm(Path(tmp))
        if args.quick:
            return
        in_workflow(Path(tmp))
    r = run_case(__file__, "million")
    print(
        f"3. SBM with {r['nodes']:,} nodes, {r['edges']:,} edges: simulated in {r['simulate_s']:.2f} s, solved in "
        f"{r['solve_s']:.2f} s ({r['method']}, {r['iterations']} iterations, residual {r['residual']:.1e}); "
        f"total {r['simulate_s'] + r['solve_s']:.2f} s, peak memory {r['peak_mb']:.0f} MB"
    )
    print(
        f"    {r['components']} component(s), {r['isolated']} isolated node(s); trophic incoherence {r['F0']:.4f}, "
        f"downhill fraction {r['downhill']:.4f}; mean z per block {np.round(r['block_means'], 3).tolist()}"
    )
    r = run_case(__file__, "mesh")
    print(
        f"4. directed {int(np.sqrt(r['nodes']))} x {int(np.sqrt(r['nodes']))} grid ({r['nodes']:,} nodes, {r['edges']:,} edges): "
        f"solved in {r['solve_s']:.1f} s ({r['method']}, {r['iterations']} iterations incl. the Jacobi attempt, residual "
        f"{r['residual']:.1e}); z spans {r['z_range']:.9f} (exact: {2 * (int(np.sqrt(r['nodes'])) - 1)}); peak memory {r['peak_mb']:.0f} MB"
    )


if __name__ == "__main__":
    main()
