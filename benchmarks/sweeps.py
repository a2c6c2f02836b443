"""Seeded sweeps: 40 replicates of the post's experiment, serially and through the sweep engine.

    python benchmarks/sweeps.py               # about a minute on 2 cores
    python benchmarks/sweeps.py --replicates 200

The post's experiment (300 points in 3 blobs, cluster_std 2.5, sheared; a full-covariance GMM and
K-means with 20 inits each, ARI against the truth), every path in a fresh process as a job runs it,
timed whole (imports included) and, beside it, the sweep call alone:

* serial, default thread pools: a plain loop, BLAS/OpenMP pools as they start (the hazard);
* serial, one thread: the same loop inside threadpoolctl's limit of one thread;
* the sweep engine (figureflow.sweeps.run_sweep) with 1 and with 2 workers.

All four paths draw every replicate from the same seeded stream, so their tables must be equal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import run_case  # noqa: E402


def case(name: str, replicates: int) -> dict:
    start = time.perf_counter()
    from figureflow.sweeps import EXPERIMENTS, gather_chunks, replicate_generator, run_sweep

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
    results = {name: run_case(__file__, name, "--replicates", str(args.replicates)) for name in names}
    print(f"{args.replicates} replicates of gmm_vs_kmeans (300 points, 20 inits each), a fresh process per path")
    print(f"{'path':<30} {'whole process':>14} {'sweep call':>11}")
    for name, label in names.items():
        r = results[name]
        print(f"{label:<30} {r['whole_s']:12.2f} s {r['call_s']:9.2f} s")
    one, two, loop = results["engine:1"], results["engine:2"], results["serial_one_thread"]
    print(f"2 workers vs 1 worker: {one['whole_s'] / two['whole_s']:.2f}x whole process, {one['call_s'] / two['call_s']:.2f}x the call")
    print(f"1 worker vs the serial one-thread loop: {one['whole_s'] / loop['whole_s']:.3f} of its time (whole process)")
    same = all(results[n]["values"] == loop["values"] for n in names)
    print(f"every path gives the same {args.replicates} ARI differences: {same}")


if __name__ == "__main__":
    main()
