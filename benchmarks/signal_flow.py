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
   expression it replaced (figureflow.signal_flow.reference.laplacian_system_reference).
2. The same two solvers in real workflow jobs (snakemake, rule signal_flow): the seconds column
   of each job's summary.tsv.
3. A 10^6-node SBM with ~10^7 edges: simulation and sparse solve timed separately, peak memory
   of the process (own process).
4. A mesh-like graph (directed 1000 x 1000 grid), where Jacobi-CG is slow and the solver switches
   to algebraic multigrid (own process).
5. The user's call at 10^6 nodes (``--users-call`` runs only this): ``snakemake --cores 2
   results/signal_flow/<graph>/summary.tsv`` in a fresh directory, simulation included, with each
   job's time, peak memory and phases, and Snakemake's own start; then the same graph by the
   reference path (figureflow before: zlib-compressed graph, scipy's whole-matrix assembly and
   components, scipy CG one right-hand side at a time, pandas' CSV writer) and by the fast path,
   phase by phase, each in a fresh process, with max |z_fast - z_reference|.
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

    from figureflow.signal_flow import assemble_system, check_adjacency
    from figureflow.signal_flow.reference import laplacian_system_reference

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


MILLION = dict(blocks=10, size=100_000, p0=3e-6, p1=3e-5, p2=5e-5)  # 10^6 nodes, about 10^7 edges


def _log_times(path: Path) -> dict[str, float]:
    """Seconds from a job log's first line to its lines saying 'edges' (graph read or simulated),
    'iterations, residual' (solved) and 'done in' (outputs written)."""
    import datetime

    marks = {}
    lines = path.read_text().splitlines()
    t0 = datetime.datetime.strptime(lines[0][:23], "%Y-%m-%d %H:%M:%S,%f")
    for line in lines:
        t = (datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f") - t0).total_seconds()
        for key in ("edges", "iterations, residual", "done in"):
            if key in line and key not in marks:
                marks[key] = t
    return marks


def users_call(workdir: Path) -> dict:
    """``snakemake results/signal_flow/million/summary.tsv`` as a user runs it: a fresh process in a
    fresh directory, simulation and solve included; per job its seconds and peak memory
    (Snakemake's benchmark files) and the phases its log shows."""
    repo = Path(__file__).resolve().parents[1]
    run = workdir / "users_call"
    run.mkdir()
    m = MILLION
    p0, p1, p2 = (f"{m[k]:.1e}" for k in ("p0", "p1", "p2"))  # YAML reads 3e-06 as text, 3.0e-06 as a number
    (run / "c.yaml").write_text(WORKFLOW_CONFIG.format(blocks=m["blocks"], size=m["size"], p0=p0, p1=p1, p2=p2, solver="sparse"))
    base = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(run), "--configfile", str(run / "c.yaml")]
    t = time.perf_counter()
    subprocess.run(base + ["-n", "results/signal_flow/noisy/summary.tsv"], check=True, capture_output=True, cwd=run)
    dry = time.perf_counter() - t
    t = time.perf_counter()
    subprocess.run(base + ["--cores", "2", "results/signal_flow/noisy/summary.tsv"], check=True, capture_output=True, cwd=run)
    whole = time.perf_counter() - t
    jobs = {}
    for rule in ("simulate_sbm", "signal_flow"):
        rows = (run / f"results/benchmarks/{rule}/noisy.tsv").read_text().splitlines()
        bench = dict(zip(rows[0].split("\t"), rows[1].split("\t")))
        jobs[rule] = {"s": float(bench["s"]), "max_rss": float(bench["max_rss"]), **_log_times(run / f"logs/{rule}/noisy.log")}
    summary = (run / "results/signal_flow/noisy/summary.tsv").read_text().splitlines()
    row = dict(zip(summary[0].split("\t"), summary[1].split("\t")))
    return {"whole_s": whole, "dry_run_s": dry, "jobs": jobs, "summary": row, "graph_mb": (run / "results/graphs/noisy.npz").stat().st_size / 1e6}


def _scipy_cg_reference(system, rhss, comp, n_comp, tol=1e-10, maxiter=500):
    """The solve as figureflow did it before the numba path: scipy's ``cg`` with a Jacobi
    preconditioner on the grounded operator, one right-hand side at a time, refined on the true
    residual (the reference for the timings and for z)."""
    from scipy.sparse.linalg import LinearOperator, cg

    from figureflow.signal_flow import component_residual, grounded_nodes

    n = system.degree.size
    keep = np.ones(n, dtype=bool)
    keep[grounded_nodes(system.degree, comp, n_comp)] = False
    kv, held = keep.astype(float), ~keep

    def matvec(x):
        x = np.ravel(x)
        kept = kv * x
        y = system.degree * x - 0.5 * (system.A @ kept + system.AT @ kept)
        y[held] = x[held]
        return y

    L = LinearOperator((n, n), matvec=matvec, dtype=float)
    diag = np.where(keep, system.degree, 1.0)
    M = LinearOperator((n, n), matvec=lambda v: np.ravel(v) / diag, dtype=float)
    out, iterations = [], [0]
    for rhs in rhss:
        rhs_r, x = rhs * keep, np.zeros(n)
        for _ in range(4):
            dx, info = cg(L, rhs_r - L @ x, rtol=tol / 10, atol=0.0, maxiter=maxiter, M=M, callback=lambda _: iterations.__setitem__(0, iterations[0] + 1))
            x = (x + dx) * keep
            if component_residual(rhs - system.matvec(x), rhs, comp, n_comp) <= tol:
                break
        out.append(x)
    return out, iterations[0]


def million_paths(graph: str, nodes: str, which: str, out_dir: str) -> dict:
    """In this (fresh) process, the 10^6-node graph's round trip and solve by one path, each phase
    timed: ``fast`` (figureflow now) or ``reference`` (zlib-compressed graph, scipy's whole-matrix
    assembly and components, scipy CG per right-hand side, pandas' CSV writer)."""
    import pandas as pd
    import scipy.sparse as sp

    from figureflow import signal_flow as S
    from figureflow.io import read_nodes, write_table

    times = {}
    t = time.perf_counter()
    A = S.check_adjacency(sp.load_npz(graph).tocsr())
    node_table = read_nodes(nodes)
    t_save = time.perf_counter()
    sp.save_npz(Path(out_dir) / f"{which}.npz", A, compressed=(which == "reference"))
    times["write graph"] = time.perf_counter() - t_save
    t_load = time.perf_counter()
    A = sp.load_npz(Path(out_dir) / f"{which}.npz").tocsr()
    times["read graph"] = time.perf_counter() - t_load
    t = time.perf_counter()
    if which == "fast":
        comp = S.weak_components(A)
        system = S.assemble_system(A)
    else:
        from figureflow.signal_flow.reference import laplacian_system_reference, weak_components_reference

        comp = weak_components_reference(A)
        L, b, trophic = laplacian_system_reference(A)
        AT = A.T.tocsr()
        degree = 0.5 * (np.asarray(A.sum(axis=1)).ravel() + np.asarray(A.sum(axis=0)).ravel())
        system = S.LaplacianSystem(A, AT, degree, b, trophic)
    times["components and assembly"] = time.perf_counter() - t
    n_comp = int(comp.max() + 1)
    t = time.perf_counter()
    if which == "fast":
        (z, h), _, iterations, _ = S._solve_sparse(system, [system.b, system.trophic_rhs], comp, n_comp, 1e-10, 500, 500, None, 2)
    else:
        (z, h), iterations = _scipy_cg_reference(system, [system.b, system.trophic_rhs], comp, n_comp)
    times["solve (z and h)"] = time.perf_counter() - t
    z = S._mean_zero(z, comp, n_comp)
    frame = pd.DataFrame({"node": node_table["node"].to_numpy(), "z": z, "component": comp, "block": node_table["block"].to_numpy()})
    t = time.perf_counter()
    if which == "fast":
        write_table(frame, Path(out_dir) / f"{which}.tsv")
    else:
        frame.to_csv(Path(out_dir) / f"{which}.tsv", sep="\t", index=False, na_rep="", lineterminator="\n")
    times["write nodes.tsv"] = time.perf_counter() - t
    np.save(Path(out_dir) / f"z_{which}.npy", z)
    return {"times": times, "iterations": int(iterations)}


def print_users_call(call: dict):
    sim, solve = call["jobs"]["simulate_sbm"], call["jobs"]["signal_flow"]
    row = call["summary"]
    print(
        f"5. the user's call, 'snakemake --cores 2 results/signal_flow/<graph>/summary.tsv' in a fresh directory "
        f"({int(row['n_nodes']):,} nodes, {int(row['n_edges']):,} edges, graph file {call['graph_mb']:.0f} MB):"
    )
    print(f"   whole call {call['whole_s']:.1f} s wall; Snakemake's own start ('snakemake -n' for the same target): {call['dry_run_s']:.1f} s")
    print(
        f"   simulate_sbm: {sim['s']:.1f} s, peak {sim['max_rss']:.0f} MB (start and imports {sim['s'] - sim['done in']:.1f} s, "
        f"simulation {sim['edges']:.1f} s, writing the graph {sim['done in'] - sim['edges']:.1f} s)"
    )
    print(
        f"   signal_flow:  {solve['s']:.1f} s, peak {solve['max_rss']:.0f} MB (start and imports {solve['s'] - solve['done in']:.1f} s, "
        f"reading {solve['edges']:.1f} s, solving {float(row['seconds']):.1f} s ({row['method']}, {row['iterations']} steps), "
        f"writing {solve['done in'] - solve['iterations, residual']:.1f} s)"
    )
    print(f"   between and around the jobs (Snakemake): {call['whole_s'] - sim['s'] - solve['s']:.1f} s")


def compare_million(workdir: Path, call: dict):
    run = workdir / "users_call"
    graph, nodes = str(run / "results/graphs/noisy.npz"), str(run / "results/graphs/noisy.nodes.tsv")
    paths = {which: run_case(__file__, "million_paths", graph, nodes, which, str(workdir)) for which in ("reference", "fast")}
    z_ref, z_fast = np.load(workdir / "z_reference.npy"), np.load(workdir / "z_fast.npy")
    print("   the same graph by each path, each in a fresh process (reference: figureflow before; fast: now):")
    for phase in paths["fast"]["times"]:
        ref, fast = paths["reference"]["times"][phase], paths["fast"]["times"][phase]
        print(f"     {phase:<26} reference {ref:7.2f} s   fast {fast:7.2f} s   {ref / fast:6.1f}x")
    ref_total, fast_total = (sum(paths[w]["times"].values()) for w in ("reference", "fast"))
    print(f"     {'together':<26} reference {ref_total:7.2f} s   fast {fast_total:7.2f} s   {ref_total / fast_total:6.1f}x")
    print(
        f"     CG steps: reference {paths['reference']['iterations']} (one right-hand side per step), fast {paths['fast']['iterations']} "
        f"(both per step); max |z_fast - z_reference| = {np.abs(z_fast - z_ref).max():.1e} (|z| up to {np.abs(z_ref).max():.2f})"
    )


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
    parser.add_argument("--users-call", action="store_true", help="section 5 only (the 10^6-node graph as a user's snakemake call)")
    parser.add_argument("--case", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        name, *rest = args.case
        cases = {"million": million, "mesh": mesh, "solve": solve_fresh, "assemble": assemble_fresh, "million_paths": million_paths}
        result = cases[name](*rest)
        result["peak_mb"] = peak_memory_mb()
        print(json.dumps(result))
        return
    with tempfile.TemporaryDirectory() as tmp:
        if args.users_call:
            call = users_call(Path(tmp))
            print_users_call(call)
            compare_million(Path(tmp), call)
            return
        cold_and_warm(Path(tmp))
        if args.quick:
            return
        in_workflow(Path(tmp))
        call = users_call(Path(tmp))
        print_users_call(call)
        compare_million(Path(tmp), call)
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
