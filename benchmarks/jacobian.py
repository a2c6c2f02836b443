"""Jacobian measure sampler: the fast path against the forward-difference loop, and time to 1e-3.

    python benchmarks/jacobian.py            # about a minute on 2 cores
    python benchmarks/jacobian.py --quick

On the toy map x = 2^(-1/4) (z1^2/sqrt2, z2^2/sqrt2, z1 z2), with E[D] = 2 exactly:

1. The reference (a numba loop over samples that builds J by forward differences, step 1e-7,
   allocating its arrays per sample) against the fast path (analytic Jacobian; and the complex
   step, for maps without one), each on 10^6 standard normal samples drawn inside the timing:
   samples/s of each, the ratio, both estimates.
2. Time each estimator needs to get within 1e-3 of 2: sample sizes double until the 95% interval's
   half width is below 1e-3 (so the estimate is within 1e-3 at 95% confidence); plain Monte Carlo
   with the forward-difference loop, plain Monte Carlo with the fast path, and randomized QMC
   (16 scrambles of Sobol points). The |error| actually reached is printed too.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from figureflow.jacobian.maps import builtin_map
from figureflow.jacobian.measure import monte_carlo, randomized_qmc, standard_normal, volume_elements
from figureflow.seeding import seed_sequence

N = 1_000_000


def throughput(latent, method, n_threads, repeats=3):
    """Best of ``repeats``: draw N normal samples and average D over them; (samples/s, estimate)."""
    volume_elements(latent, np.zeros((2, latent.d)), method, n_threads)  # compile first
    best, estimate = np.inf, None
    for r in range(repeats):
        start = time.perf_counter()
        Z = standard_normal(seed_sequence(1, "bench_jacobian", {"repeat": r}), N, latent.d, n_threads)
        estimate = float(np.mean(volume_elements(latent, Z, method, n_threads)))
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


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    threads = numba.config.NUMBA_NUM_THREADS
    toy = builtin_map("toy")
    print(f"toy map, E[D] = 2; {N:,} standard normal samples, sampling included; {threads} threads for the fast path")
    fd_rate, fd_est = throughput(toy, "finite_difference", 1)
    print(f"1. forward-difference loop (reference, 1 thread): {fd_rate / 1e6:7.2f} M samples/s, estimate {fd_est:.6f}")
    for method in ("analytic", "complex_step"):
        rate, est = throughput(toy, method, threads)
        print(f"   fast path, {method:<13} ({threads} threads): {rate / 1e6:7.2f} M samples/s, estimate {est:.6f}, "
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
