"""Jacobian measure sampler: the fast path against the forward-difference loop, and time to 1e-3.

    python benchmarks/jacobian.py            # about two minutes on 2 cores
    python benchmarks/jacobian.py --quick    # section 1 only
    python benchmarks/jacobian.py --cold     # section 0 only

On the toy map x = 2^(-1/4) (z1^2/sqrt2, z2^2/sqrt2, z1 z2), with E[D] = 2 exactly:

0. Cold, as a job sees it: plain Monte Carlo of 2^20 and 2^24 samples, each case in a fresh
   process, timing its first call (compilation, or loading what numba compiled before,
   included) and then a second call (warm): the forward-difference loop (the seed's estimator,
   one thread) against the fast path (2 threads) with an empty kernel cache (a map's first job
   ever) and with the kernels cached on disk (every job after it). Also the seconds the
   process spent importing figureflow, the same for both.
1. The reference (a numba loop over samples that builds J by forward differences, step 1e-7,
   allocating its arrays per sample) against the fast path (analytic Jacobian; and the complex
   step, for maps without one; samples drawn, mapped and summed in one pass), each on 10^6
   standard normal samples drawn inside the timing, warm: samples/s of each, the ratio, the
   estimates. The row "sample held" is the fast path before the one-pass estimator (the sample
   drawn into memory, then mapped, then summed): the same points, so the same estimate up to
   the order of summation.
2. Time each estimator needs to get within 1e-3 of 2: sample sizes double until the 95% interval's
   half width is below 1e-3 (so the estimate is within 1e-3 at 95% confidence); plain Monte Carlo
   with the forward-difference loop, plain Monte Carlo with the fast path, and randomized QMC
   (16 scrambles of Sobol points). The |error| actually reached is printed too.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numba
import numpy as np

from figureflow.jacobian.maps import builtin_map
from figureflow.jacobian.measure import monte_carlo, randomized_qmc, standard_normal, volume_elements
from figureflow.seeding import seed_sequence

N = 1_000_000
REPO = Path(__file__).resolve().parents[1]


def throughput(latent, method, n_threads, repeats=3, held=False):
    """Best of ``repeats``: plain Monte Carlo of N samples (drawing included), warm; (samples/s,
    estimate). ``held``: the sample drawn into memory and then mapped (the path before the
    one-pass estimator)."""
    monte_carlo(latent, 1000, seed_sequence(0, "warm-up"), method=method, n_threads=n_threads)  # compile first
    volume_elements(latent, np.zeros((2, latent.d)), method, n_threads)
    best, estimate = np.inf, None
    for r in range(repeats):
        ss = seed_sequence(1, "bench_jacobian", {"repeat": r})
        start = time.perf_counter()
        if held:  # what monte_carlo did before: the whole sample in memory, then its sum and standard deviation
            values = volume_elements(latent, standard_normal(ss, N, latent.d, n_threads), method, n_threads)
            estimate, _ = float(np.sum(values) / N), float(np.std(values, ddof=1))
        else:
            estimate = monte_carlo(latent, N, ss, method=method, n_threads=n_threads).estimate
        best = min(best, time.perf_counter() - start)
    return N / best, estimate


def time_to_tolerance(latent, estimator, method, n_threads, start_n, tol=1e-3, limit=2**27):
    """Double n until the 95% half width is below ``tol``; returns (seconds, n, estimate, |error|)."""
    n = start_n
    total = 0.0
    while True:
        ss = seed_sequence(7, "bench_jacobian_tol", {"estimator": estimator, "method": method, "n": n})
        if estimator == "mc":
            est = monte_carlo(latent, n, ss, method=method, n_threads=n_threads)
        else:
            est = randomized_qmc(latent, n, ss, n_scrambles=16, method=method, n_threads=n_threads)
        total += est.seconds  # what a user pays: every try on the way
        half = 0.5 * (est.ci_high - est.ci_low)
        if half < tol or n >= limit:
            return total, n, est.estimate, abs(est.estimate - latent.exact_mean), half
        n *= 2


def cold_case(method: str, n: int, n_threads: int) -> dict:
    """In this (fresh) process: Monte Carlo of ``n`` samples twice; the first call's and the second's seconds."""
    began = time.perf_counter()
    toy = builtin_map("toy")
    ss = seed_sequence(1, "bench_jacobian_cold", {"n": n})
    first = time.perf_counter()
    a = monte_carlo(toy, n, ss, method=method, n_threads=n_threads)
    second = time.perf_counter()
    b = monte_carlo(toy, n, ss, method=method, n_threads=n_threads)
    end = time.perf_counter()
    assert a.estimate == b.estimate
    return {"first": second - first, "warm": end - second, "estimate": a.estimate, "setup": first - began}


def cold(threads: int) -> None:
    import json
    import os
    import subprocess
    import sys
    import tempfile

    print(f"0. cold, as a job sees it (each row a fresh process; first call with compilation or cache loading, then warm)")
    with tempfile.TemporaryDirectory() as caches:

        def run(method, n, n_threads, cache="kept"):
            env = dict(os.environ, FIGUREFLOW_KERNEL_CACHE=os.path.join(caches, cache))
            code = f"import json, sys; sys.path.insert(0, {str(REPO / 'benchmarks')!r}); from jacobian import cold_case; print(json.dumps(cold_case({method!r}, {n}, {n_threads})))"
            began = time.perf_counter()
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result["process"] = time.perf_counter() - began
            return result

        run("analytic", 1024, threads)  # fill the kept cache, as a map's first job does
        for n in (2**20, 2**24):
            reference = run("finite_difference", n, 1)
            empty = run("analytic", n, threads, cache=f"empty{n}")  # compiles, and fills a cache of its own
            cached = run("analytic", n, threads)  # loads what the first run (n = 2^20, empty cache) compiled
            print(f"   n = 2^{int(np.log2(n))}: forward-difference loop first call {reference['first']:7.3f} s, warm {reference['warm']:7.3f} s "
                  f"(estimate {reference['estimate']:.6f}; process {reference['process']:.1f} s)")
            for label, r in (("fast path, empty cache", empty), ("fast path, kernels cached", cached)):
                print(f"   {'':>9}{label:<27} first call {r['first']:7.3f} s, warm {r['warm']:7.3f} s (estimate {r['estimate']:.6f}; "
                      f"process {r['process']:.1f} s); ratio cold {reference['first'] / r['first']:6.1f}x, warm {reference['warm'] / r['warm']:6.1f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--cold", action="store_true")
    args = parser.parse_args()
    threads = numba.config.NUMBA_NUM_THREADS
    if not args.quick:
        cold(threads)
    if args.cold:
        return
    toy = builtin_map("toy")
    print(f"toy map, E[D] = 2; {N:,} standard normal samples, sampling included; {threads} threads for the fast path")
    fd_rate, fd_est = throughput(toy, "finite_difference", 1)
    print(f"1. forward-difference loop (reference, 1 thread): {fd_rate / 1e6:7.2f} M samples/s, estimate {fd_est:.6f}")
    for method, held in (("analytic", False), ("complex_step", False), ("analytic", True)):
        rate, est = throughput(toy, method, threads, held=held)
        label = f"{method}, sample held" if held else method
        print(f"   fast path, {label:<25} ({threads} threads): {rate / 1e6:7.2f} M samples/s, estimate {est:.15f}, "
              f"ratio {rate / fd_rate:6.1f}x")
    if args.quick:
        return
    print("2. time to |estimate - 2| < 1e-3 at 95% confidence (half width of the 95% interval below 1e-3)")
    randomized_qmc(toy, 64, seed_sequence(0, "warm-up"))  # compile the quantile kernel first
    rows = [
        ("plain MC, forward-difference loop", "mc", "finite_difference", 1, 2**16),
        ("plain MC, fast path", "mc", "analytic", threads, 2**16),
        ("randomized QMC, fast path", "rqmc", "analytic", threads, 2**10),
    ]
    results = {}
    for label, estimator, method, n_threads, start in rows:
        seconds, n, est, err, half = time_to_tolerance(toy, estimator, method, n_threads, start)
        results[label] = seconds
        print(f"   {label:<36} {seconds:8.3f} s (doubling up to n = {n:>10,}): estimate {est:.6f}, |error| {err:.1e}, "
              f"95% half width {half:.1e}")
    ratio = results["plain MC, forward-difference loop"] / results["randomized QMC, fast path"]
    print(f"   randomized QMC reaches it {ratio:,.0f}x sooner than plain MC with the forward-difference loop")


if __name__ == "__main__":
    main()
