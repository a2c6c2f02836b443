"""Aging magnitudes: the published loop against figureflow's, and the approximate metrics.

    python benchmarks/aging.py            # 20 cell types x 100 bootstraps: several minutes on 2 cores
    python benchmarks/aging.py --quick    # 5 cell types x 20 bootstraps

One data set for every path: cell types with young and old cells in a 30-dimensional embedding
(1,200 young and 1,100 old each; old cells shifted along a random direction by a planted amount
from 0 to 2), 500 cells per sample, disjoint samples, the same samples for every path (bootstrap
b of cell type t draws from the same seeded stream). Each path runs in a fresh process, as a job
does, and is timed whole (imports and data included):

* reference: the published loop, one cost matrix and one scipy linear_sum_assignment per pair,
  serial, written out here;
* fast path: figureflow.aging.aging_bootstraps (metric emd) on 1 and on 2 threads;
* approximate metrics (sinkhorn, sliced, energy) through the same function on 2 threads.

Printed: the times and speedups, the largest relative difference between the exact values of
the reference and of the fast path, and each approximate metric's Spearman correlation of the
per-cell-type magnitudes with the exact ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import run_case  # noqa: E402

DIMS, N_YOUNG, N_OLD, N_PER_SAMPLE = 30, 1200, 1100, 500


def data(n_types: int):
    """Young and old embeddings per cell type, with planted shifts from 0 to 2 (the first two types 0)."""
    rng = np.random.default_rng(2024)
    shifts = np.concatenate([[0.0, 0.0], np.linspace(0.2, 2.0, n_types - 2)])
    types = []
    for shift in shifts:
        direction = rng.normal(size=DIMS)
        direction /= np.linalg.norm(direction)
        types.append((rng.normal(size=(N_YOUNG, DIMS)), rng.normal(size=(N_OLD, DIMS)) + shift * direction))
    return shifts, types


def stream(t: int):
    from figureflow.seeding import seed_sequence

    return seed_sequence(1, "aging_magnitudes", {"dataset": "bench", "cell_type": f"type_{t}"})


def reference(types, n_bootstraps):
    """The published way: per pair, a Euclidean cost matrix and one linear_sum_assignment, serially."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    from figureflow.aging import draw_samples, sample_size
    from figureflow.seeding import spawn_generators

    def distance(A, B):
        cost = cdist(A, B)
        rows, cols = linear_sum_assignment(cost)
        return cost[rows, cols].mean()

    values = []
    for t, (young, old) in enumerate(types):
        n = sample_size(len(young), len(old), N_PER_SAMPLE)
        for rng in spawn_generators(stream(t), n_bootstraps):
            s = draw_samples(len(young), len(old), n, rng)
            values.append([distance(old[s.old_a], young[s.young_a]), distance(young[s.young_a], young[s.young_b]), distance(old[s.old_a], old[s.old_b])])
    return np.array(values).reshape(len(types), n_bootstraps, 3)


def figureflow_path(types, n_bootstraps, metric, n_threads):
    from figureflow.aging import aging_bootstraps

    tables = [aging_bootstraps(young, old, stream(t), n_bootstraps, N_PER_SAMPLE, metric, "disjoint", n_threads) for t, (young, old) in enumerate(types)]
    return np.array([table[["old_young", "null_young", "null_old"]].to_numpy() for table in tables])


def case(name: str, n_types: int, n_bootstraps: int) -> dict:
    start = time.perf_counter()
    _, types = data(n_types)
    if name == "reference":
        values = reference(types, n_bootstraps)
    else:
        metric, threads = name.split(":")
        values = figureflow_path(types, n_bootstraps, metric, int(threads))
    return {"seconds": time.perf_counter() - start, "values": values.tolist()}


def magnitudes(values: np.ndarray) -> np.ndarray:
    return (values[..., 0] / values[..., 1:].max(axis=-1)).mean(axis=1)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--types", type=int)
    parser.add_argument("--bootstraps", type=int)
    args = parser.parse_args()
    n_types = args.types or (5 if args.quick else 20)
    n_bootstraps = args.bootstraps or (20 if args.quick else 100)
    if args.case:
        print(json.dumps(case(args.case, n_types, n_bootstraps)))
        return
    from scipy.stats import spearmanr

    sizes = ["--types", str(n_types), "--bootstraps", str(n_bootstraps)]
    pairs = n_types * n_bootstraps * 3
    print(f"{n_types} cell types x {n_bootstraps} bootstraps x 3 pairs = {pairs} OT problems, {N_PER_SAMPLE} cells per sample, {DIMS} dimensions")
    results = {name: run_case(__file__, name, *sizes) for name in ["reference", "emd:1", "emd:2", "sinkhorn:2", "sliced:2", "energy:2"]}
    ref = np.array(results["reference"]["values"])
    t_ref = results["reference"]["seconds"]
    print(f"{'path':<34} {'seconds':>8} {'ms/pair':>8} {'vs reference':>13}")
    labels = {
        "reference": "reference loop (LSA per pair, serial)",
        "emd:1": "figureflow emd, 1 thread",
        "emd:2": "figureflow emd, 2 threads",
        "sinkhorn:2": "sinkhorn, 2 threads",
        "sliced:2": "sliced W1, 2 threads",
        "energy:2": "energy distance, 2 threads",
    }
    for name, result in results.items():
        s = result["seconds"]
        print(f"{labels[name]:<34} {s:8.2f} {1e3 * s / pairs:8.2f} {t_ref / s:12.2f}x")
    for name in ("emd:1", "emd:2"):
        values = np.array(results[name]["values"])
        print(f"{labels[name]}: largest relative difference to the reference {np.max(np.abs(values - ref) / ref):.2e}")
    exact = magnitudes(ref)
    print("magnitudes, exact:", " ".join(f"{m:.3f}" for m in exact))
    for name in ("sinkhorn:2", "sliced:2", "energy:2"):
        m = magnitudes(np.array(results[name]["values"]))
        print(f"{labels[name]}: Spearman with the exact magnitudes {spearmanr(m, exact).statistic:.3f}")


if __name__ == "__main__":
    main()
