"""Seeded sweeps: 40 replicates of the post's experiment, serially and through the sweep engine.

    python benchmarks/sweeps.py               # about 3 minutes on 2 cores
    python benchmarks/sweeps.py --replicates 200 --repeats 1

The post's experiment (300 points in 3 blobs, cluster_std 2.5, sheared; a full-covariance GMM and
K-means with 20 inits each, ARI against the truth), every path in a fresh process as a job runs it,
timed whole (imports included) and, beside it, the sweep call alone:

* serial, default thread pools: a plain loop, BLAS/OpenMP pools as they start (the hazard);
* serial, one thread: the same loop inside threadpoolctl's limit of one thread;
* the sweep engine (figureflow.sweeps.run_sweep) with 1 and with 2 workers: with 2, the job's
  process and one loky worker, started first thing (``figureflow.parallel.start_workers``) as
  the sweep_chunk script does, so that its start overlaps this process's imports.

All four paths draw every replicate from the same seeded stream, so their tables must be equal.
Each path runs ``--repeats`` times (fresh processes, interleaved); the median time is printed.

The ceiling on 2 cores is below 2x: two processes of this experiment each run about 5% slower
side by side than one alone (shared memory bandwidth), and the import of scikit-learn (about a
second) is serial, so the whole-process ratio is bounded further (Amdahl: about 1.65x for 40
replicates here) than the call's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import run_case  # noqa: E402


def case(name: str, replicates: int) -> dict:
    start = time.perf_counter()
    if name.startswith("engine"):  # as the sweep_chunk job does: workers start while this process imports
        from figureflow.parallel import start_workers

        start_workers(int(name.split(":")[1]), preload=["figureflow.sweeps:load_libraries"])
    from figureflow.sweeps import EXPERIMENTS, gather_chunks, load_libraries, replicate_generator, run_sweep

    load_libraries()  # scikit-learn: imported in every path before the clock for the call starts
    imported = time.perf_counter()
    if name.startswith("serial"):
        function, defaults = EXPERIMENTS["gmm_vs_kmeans"]

        def loop():
            rows = []
            for r in range(replicates):
                rng, _ = replicate_generator(1, "bench", {}, r)
                rows.append(function(rng, **defaults)["ari_diff"])
            return rows

        if name == "serial_one_thread":
            from threadpoolctl import threadpool_limits

            with threadpool_limits(limits=1):
                values = loop()
        else:
            values = loop()
    else:
        workers = int(name.split(":")[1])
        values = gather_chunks([run_sweep("gmm_vs_kmeans", {}, replicates, 1, "bench", n_jobs=workers)])["ari_diff"].tolist()
    end = time.perf_counter()
    return {"whole_s": end - start, "call_s": end - imported, "values": values}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case")
    parser.add_argument("--replicates", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per path; the median is printed")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.replicates)))
        return
    names = {
        "serial_default": "serial, default thread pools",
        "serial_one_thread": "serial, one thread",
        "engine:1": "sweep engine, 1 worker",
        "engine:2": "sweep engine, 2 workers",
    }
    runs = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            runs[name].append(run_case(__file__, name, "--replicates", str(args.replicates)))
    results = {
        name: {
            "whole_s": statistics.median(r["whole_s"] for r in rs),
            "call_s": statistics.median(r["call_s"] for r in rs),
            "values": rs[0]["values"],
            "same": all(r["values"] == rs[0]["values"] for r in rs),
        }
        for name, rs in runs.items()
    }
    print(f"{args.replicates} replicates of gmm_vs_kmeans (300 points, 20 inits each), a fresh process per path,")
    print(f"median of {args.repeats}; 'sweep call' is the first call in that process, worker start included")
    print(f"{'path':<30} {'whole process':>14} {'sweep call':>11}")
    for name, label in names.items():
        r = results[name]
        print(f"{label:<30} {r['whole_s']:12.2f} s {r['call_s']:9.2f} s")
    one, two, loop = results["engine:1"], results["engine:2"], results["serial_one_thread"]
    print(f"2 workers vs 1 worker: {one['whole_s'] / two['whole_s']:.2f}x whole process, {one['call_s'] / two['call_s']:.2f}x the call")
    print(f"1 worker vs the serial one-thread loop: {one['whole_s'] / loop['whole_s']:.3f} of its time (whole process)")
    same = all(results[n]["values"] == loop["values"] and results[n]["same"] for n in names)
    print(f"every path and repeat gives the same {args.replicates} ARI differences: {same}")


if __name__ == "__main__":
    main()
