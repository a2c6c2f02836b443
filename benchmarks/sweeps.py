"""Seeded sweeps: 40 replicates of the post's experiment, serially and through the sweep engine.

    python benchmarks/sweeps.py               # about 3 minutes on 2 cores
    python benchmarks/sweeps.py --replicates 200 --repeats 1
    python benchmarks/sweeps.py --job         # only the whole sweep_chunk job, 1 and 2 threads

The post's experiment (300 points in 3 blobs, cluster_std 2.5, sheared; a full-covariance GMM and
K-means with 20 inits each, ARI against the truth), every path in a fresh process as a job runs it,
timed whole (imports included) and, beside it, the sweep call alone:

* serial, default thread pools: a plain loop, BLAS/OpenMP pools as they start (the hazard);
* serial, one thread: the same loop inside threadpoolctl's limit of one thread;
* the sweep engine (figureflow.sweeps.run_sweep) with 1 and with 2 workers: with 2, the job's
  process and one loky worker, started first thing (``figureflow.parallel.start_workers``) as
  the sweep_chunk script does, so that its start overlaps this process's imports.

All four paths draw every replicate from the same seeded stream, so their tables must be equal.
Last, the whole ``sweep_chunk`` job as Snakemake runs it, on 1 and on 2 threads: the seconds of
its benchmark file, from the interpreter's start to the table written.
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


JOB_CONFIG = """seed: 20261122
sweeps:
  post: {{experiment: gmm_vs_kmeans, replicates: {replicates}}}
"""


def whole_job(replicates: int, repeats: int) -> dict:
    """The demo's ``post`` sweep as its Snakemake job: ``sweep_chunk`` on 1 and on 2 threads
    (``--set-threads``), each in a fresh directory; the job's own seconds (its benchmark file: the
    interpreter's start, Snakemake's script preamble and every import included), median of
    ``repeats``, and whether the two tables are byte-identical."""
    import subprocess
    import tempfile

    repo = Path(__file__).resolve().parents[1]
    seconds, tables = {1: [], 2: []}, {}
    for r in range(repeats):
        for threads in (1, 2):
            with tempfile.TemporaryDirectory() as tmp:
                run = Path(tmp)
                (run / "c.yaml").write_text(JOB_CONFIG.format(replicates=replicates))
                command = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(run), "--configfile",
                           str(run / "c.yaml"), "--cores", "2", "--set-threads", f"sweep_chunk={threads}", "--", "results/sweeps/post/chunks/0.tsv"]
                subprocess.run(command, check=True, capture_output=True, cwd=run)
                rows = (run / "results/benchmarks/sweep_chunk/post/0.tsv").read_text().splitlines()
                seconds[threads].append(float(dict(zip(rows[0].split("\t"), rows[1].split("\t")))["s"]))
                tables.setdefault(threads, (run / "results/sweeps/post/chunks/0.tsv").read_bytes())
    return {t: statistics.median(v) for t, v in seconds.items()} | {"same": tables[1] == tables[2]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case")
    parser.add_argument("--replicates", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per path; the median is printed")
    parser.add_argument("--job", action="store_true", help="only the whole sweep_chunk job on 1 and 2 threads")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.replicates)))
        return
    if args.job:
        print_job(args.replicates, args.repeats)
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
    print_job(args.replicates, args.repeats)


def print_job(replicates: int, repeats: int):
    job = whole_job(replicates, repeats)
    print(
        f"the whole sweep_chunk job ({replicates} replicates, Snakemake's benchmark seconds, median of {repeats}): "
        f"1 thread {job[1]:.2f} s, 2 threads {job[2]:.2f} s, {job[1] / job[2]:.2f}x; tables byte-identical: {job['same']}"
    )


if __name__ == "__main__":
    main()
