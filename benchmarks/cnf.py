"""CNF on two moons: the reference FFJORD setup against figureflow's fast path, time to NLL <= 1.20.

    python benchmarks/cnf.py                   # reference capped at 25 minutes: about 32 minutes on 2 cores
    python benchmarks/cnf.py --reference-minutes 5 --quick

One data set for both paths, the demo's: two moons (noise 0.05), 12,000 points standardized by one
global mean and standard deviation, 10,000 training and 2,000 held-out rows (the same split). Each
path runs in a fresh process, as a job does, through figureflow.generative.cnf.train_cnf:

* reference (FFJORD's setup): a 3 x 64 tanh concatsquash field, maximum likelihood through dopri5
  with the adjoint method, exact trace, rtol = atol = 1e-5, batch 512, Adam at 1e-3;
* fast path (the demo's two_moons run, read from config.yaml): flow matching (no ODE solve) with
  a 3 x 128 SiLU field that also sees 16 Fourier features of the state, as a warm start, then
  maximum likelihood through dopri5 at 1e-3 with the exact trace carried forward-mode, cosine
  learning rates.

Every ``--every`` iterations the held-out NLL is measured the way metrics.tsv reports it (exact
trace, dopri5 at rtol = atol = 1e-6); that measurement is not counted in the training clock. The
clock starts when the process starts (imports, data and set-up included). Printed: for each path the
clock when the held-out NLL first reached <= 1.20 and the final NLL; the ratio of the two times;
the true density's NLL and a 32-component Gaussian mixture's on the same held-out rows.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import run_case  # noqa: E402

THRESHOLD = 1.20
DATA = {"data": "moons", "size": 12000, "noise": 0.05, "held_out_fraction": 1 / 6}
REFERENCE = {
    "objective": "maximum_likelihood", "trace": "exact", "hidden": [64, 64, 64], "activation": "tanh", "conditioning": "concatsquash",
    "solver": "dopri5", "rtol": 1e-5, "atol": 1e-5, "adjoint": True, "batch_size": 512, "learning_rate": 1e-3, "lr_schedule": "constant",
}


def fast_options() -> dict:
    """The demo's two_moons run (config.yaml), so that the benchmark times what the demo runs."""
    import yaml

    with open(Path(__file__).resolve().parent.parent / "config.yaml") as handle:
        return yaml.safe_load(handle)["cnf"]["runs"]["two_moons"]


def case(name: str, iterations: int, every: int, minutes: float) -> dict:
    import numpy as np
    import torch

    from figureflow.generative import cnf
    from figureflow.generative.settings import CNF_DEFAULTS
    from figureflow.generative.toys import toy_log_density

    torch.set_num_threads(2)
    spec = {**DATA, **(REFERENCE if name == "reference" else fast_options())}
    spec.update(DATA)
    if name == "reference":
        spec["iterations"] = iterations
    options = {**CNF_DEFAULTS, **spec, "evaluate_every": every, "device": "cpu"}
    data = cnf.training_data(options, 0, "two_moons")
    held_rows = []
    log = {"iteration": [], "seconds": [], "nll": []}
    excluded = [0.0]

    class Enough(Exception):
        pass

    def monitor(epoch, row, field):
        if not np.isfinite(row["held_out_loss"]):
            return
        began = time.perf_counter()
        nll = cnf.held_out_nll(field, data["x"][held_rows[0]], options)["nll"]
        excluded[0] += time.perf_counter() - began
        clock = time.perf_counter() - STARTED - excluded[0]
        log["iteration"].append(int(row["iteration"]))
        log["seconds"].append(clock)
        log["nll"].append(nll)
        print(f"{name}: iteration {row['iteration']}, {clock:.1f} s, held-out NLL {nll:.4f}", file=sys.stderr, flush=True)
        if clock > 60 * minutes:
            raise Enough

    from figureflow.generative.training import held_out_split, replicate_streams

    streams = replicate_streams(0, "cnf_train", {"run": "two_moons"}, 0)
    held_rows.append(held_out_split(len(data["x"]), float(options["held_out_fraction"]), streams["numpy"])[1])
    try:
        cnf.train_cnf(data["x"], options, 0, "two_moons", threads=2, progress=False, on_epoch=monitor)
        stopped = "iterations done"
    except Enough:
        stopped = f"time cap of {minutes:g} min"
    held = data["x"][held_rows[0]]
    true = -float(np.mean(toy_log_density("moons", held, data["noise"], data["shift"], data["scale"])))
    reached = [s for s, v in zip(log["seconds"], log["nll"]) if v <= THRESHOLD]
    return {"case": name, "stopped": stopped, "log": log, "time_to_threshold": reached[0] if reached else None,
            "final_nll": log["nll"][-1], "best_nll": min(log["nll"]), "true_nll": true,
            "gmm_nll": cnf.gaussian_mixture_nll(np.delete(data["x"], held_rows[0], axis=0), held, 32, 0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", choices=["reference", "fast"])
    parser.add_argument("--reference-minutes", type=float, default=25.0, help="stop the reference after this long")
    parser.add_argument("--reference-iterations", type=int, default=3000)
    parser.add_argument("--every", type=int, default=50, help="iterations between held-out measurements")
    parser.add_argument("--quick", action="store_true", help="the fast path measured every 2000 iterations (else 1000)")
    args = parser.parse_args()
    if args.case:
        every = args.every if args.case == "reference" else (2000 if args.quick else 1000)
        minutes = args.reference_minutes if args.case == "reference" else 30.0
        print(json.dumps(case(args.case, args.reference_iterations, every, minutes)))
        return
    fast = run_case(__file__, "fast", "--every", str(args.every), *(["--quick"] if args.quick else []))
    reference = run_case(__file__, "reference", "--every", str(args.every), "--reference-minutes", str(args.reference_minutes),
                         "--reference-iterations", str(args.reference_iterations))
    print(f"two moons, noise 0.05, 10000 training / 2000 held-out points; true-density NLL {fast['true_nll']:.4f}, "
          f"32-component GMM {fast['gmm_nll']:.4f} (held-out, nats per point)")
    for r in (reference, fast):
        reached = f"{r['time_to_threshold']:.1f} s" if r["time_to_threshold"] is not None else f"not reached ({r['stopped']})"
        print(f"{r['case']:>9}: NLL <= {THRESHOLD} at {reached}; final NLL {r['final_nll']:.4f} after {r['log']['iteration'][-1]} iterations, "
              f"{r['log']['seconds'][-1]:.1f} s; best {r['best_nll']:.4f}")
    if fast["time_to_threshold"] is not None:
        if reference["time_to_threshold"] is not None:
            print(f"ratio (reference / fast, time to NLL <= {THRESHOLD}): {reference['time_to_threshold'] / fast['time_to_threshold']:.1f}x")
        else:
            print(f"ratio (reference / fast) > {reference['log']['seconds'][-1] / fast['time_to_threshold']:.1f}x (the reference did not reach it)")


if __name__ == "__main__":
    main()
