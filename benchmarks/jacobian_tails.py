"""Heavy tails: the Pareto k-hat and E[log D] beside E[D], and memory as the sample grows.

    python benchmarks/jacobian_tails.py                 # 2^20, 2^22 and 2^24 samples
    python benchmarks/jacobian_tails.py --sizes 20 24

For the light ``toy`` map (E[D] = 2) and the heavy map ``x_i = z_i exp(a z_i^2 / 2)`` (a = 0.7:
E[D] = (1 - a)^-3 = 37.04, infinite variance), each plain Monte Carlo estimate runs in a fresh
process (as a job does, compilation or cache loading included). Printed per row: E[D] with its
interval (or none, and why), its Pareto k-hat and status, E[log D] with its interval against
the truth (log 2 - gamma for toy; 2 (a/2 + E[log(1 + a z^2)]) by quadrature for the heavy map),
the seconds, and the process's peak resident memory: the sample is drawn and mapped 2^20 points
at a time and only ``2 (3 sqrt(n) + 1)`` tail values are kept, so the peak should not grow with n.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from _util import peak_memory_mb, run_case

HERE = Path(__file__).resolve()
REPO = HERE.parents[1]
HEAVY = 0.7


def case(name: str, n: int) -> dict:
    sys.path.insert(0, str(REPO / "tests" / "data"))
    from figureflow.jacobian.maps import builtin_map, load_user_map
    from figureflow.jacobian.measure import monte_carlo
    from figureflow.seeding import seed_sequence

    latent = builtin_map("toy") if name == "toy" else load_user_map("user_maps:heavy_tail", 2, 2, [HEAVY], name="heavy")
    start = time.perf_counter()
    est = monte_carlo(latent, n, seed_sequence(1, "bench_tails", {"map": name}), n_threads=2)
    seconds = time.perf_counter() - start
    log = est.log_d
    return {"map": name, "n": n, "estimate": est.estimate, "ci": [est.ci_low, est.ci_high], "k": est.pareto_k, "status": est.status,
            "log_estimate": log.estimate, "log_ci": [log.ci_low, log.ci_high], "log_k": log.pareto_k, "seconds": seconds,
            "peak_mb": peak_memory_mb()}


def truths() -> dict:
    from scipy import integrate

    inner, _ = integrate.quad(lambda z: math.log1p(HEAVY * z * z) * math.exp(-z * z / 2) / math.sqrt(2 * math.pi), -math.inf, math.inf)
    return {"toy": (2.0, math.log(2.0) - 0.5772156649015329), "heavy": ((1 - HEAVY) ** -3, 2 * (HEAVY / 2 + inner))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case")
    parser.add_argument("--n", type=int)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 22, 24], help="powers of 2")
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.n)))
        return
    truth = truths()
    print(f"{'map':6s} {'n':>6s} {'E[D] [95% interval]':>32s} {'k-hat':>6s} {'status':>18s} {'E[log D] [95% interval]':>34s} "
          f"{'truth':>8s} {'s':>6s} {'peak MB':>8s}")
    for name in ("toy", "heavy"):
        for power in args.sizes:
            r = run_case(str(HERE), name, "--n", str(2**power))
            d = f"{r['estimate']:.5g} [{r['ci'][0]:.5g}, {r['ci'][1]:.5g}]" if r["status"] == "ok" else f"{r['estimate']:.5g} (no interval)"
            log = f"{r['log_estimate']:.6f} [{r['log_ci'][0]:.6f}, {r['log_ci'][1]:.6f}]"
            print(f"{name:6s} {'2^' + str(power):>6s} {d:>32s} {r['k']:6.3f} {r['status']:>18s} {log:>34s} {truth[name][1]:8.5f} "
                  f"{r['seconds']:6.1f} {r['peak_mb']:8.0f}")
    print(f"truth E[D]: toy 2, heavy (a = {HEAVY}) {truth['heavy'][0]:.4f}")


if __name__ == "__main__":
    main()
