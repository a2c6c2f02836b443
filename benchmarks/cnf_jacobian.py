"""A trained flow as a Jacobian map: ``|det J|`` by the variational equations against reverse mode.

    python benchmarks/cnf_jacobian.py                         # the demo's flow: results/cnf/two_moons/model.pt
    python benchmarks/cnf_jacobian.py --model PATH --samples 16384

Needs a trained flow; ``snakemake --cores 2 results/cnf/two_moons/model.pt`` makes the demo's (about
6 minutes). Both paths get the same standard normal draws (``--samples``, seeded) and 2 threads, and
each runs in a fresh process as a ``jacobian_estimates`` job does (imports, loading the model and
the first call included; the call's own seconds are printed beside the process's):

* reference: reverse mode through the adaptive solve (the earlier ``FlowMap.volume_elements``):
  one batched dopri5 solve of 4096 rows at the model's evaluation tolerance, then ``D`` backward
  passes through its graph;
* fast path: ``FlowMap.volume_elements``, the variational equations solved with the flow
  (forward-mode tangents, error control over ``x`` and ``J``, no graph).

Printed: samples/s and ``E[D]`` (with its standard error) of each, and the ratio; the accuracy of
each on 32 of the points against central differences of a solve at 1e-11; the largest Liouville
gap (``log|det J|`` against the flow's integrated trace) on those points; and the arithmetic floor:
field evaluations per block, multiply-adds per sample (the field and its ``D`` tangents), this
machine's float64 matrix-product rate at the field's shapes, and the samples/s those allow.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = REPO / "results/cnf/two_moons/model.pt"
BLOCK = 4096


def latent_points(n: int, dim: int) -> np.ndarray:
    from figureflow.seeding import generator

    return generator(0, "bench_cnf_jacobian", {"dim": dim}).standard_normal((n, dim))


def reverse_mode_volumes(flow, Z: np.ndarray) -> np.ndarray:
    """The reference: ``|det|`` of the Jacobian of the discrete adaptive solve, by reverse mode."""
    import torch

    out = np.empty(len(Z))
    D = Z.shape[1]
    for start in range(0, len(Z), BLOCK):
        z = torch.as_tensor(Z[start : start + BLOCK]).requires_grad_(True)
        x = flow._push(z)
        rows = [torch.autograd.grad(x[:, i].sum(), z, retain_graph=i < D - 1)[0] for i in range(D)]
        out[start : start + BLOCK] = np.abs(np.linalg.det(torch.stack(rows, dim=1).numpy()))
    return out


def case(path: str, model: str, n: int, threads: int) -> dict:
    import torch

    from figureflow.generative.cnf import FlowMap, load_model

    torch.set_num_threads(threads)
    field, saved = load_model(model)
    flow = FlowMap(field, saved["options"])
    Z = latent_points(n, field.dim)
    start = time.perf_counter()
    values = reverse_mode_volumes(flow, Z) if path == "reference" else flow.volume_elements(Z)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "process": time.perf_counter() - STARTED, "mean": float(values.mean()),
            "se": float(values.std(ddof=1) / np.sqrt(n)), "evaluations": flow.evaluations}


def tight_push(flow, Z):
    import torch

    from figureflow.generative.cnf import _Dynamics, integrate

    solver = {**flow.solver, "rtol": 1e-11, "atol": 1e-11}
    with torch.no_grad():
        return integrate(_Dynamics(flow.field, with_trace=False), torch.as_tensor(Z), torch.tensor([0.0, 1.0], dtype=torch.float64), solver)[-1].numpy()


def accuracy(model: str, n_points: int = 32) -> None:
    from figureflow.generative.cnf import FlowMap, load_model

    field, saved = load_model(model)
    flow = FlowMap(field, saved["options"])
    Z = latent_points(BLOCK, field.dim)  # the first block: the reference's and the fast path's rows are solved with these
    h = 1e-5
    idx = np.arange(n_points)
    truth = np.stack([(tight_push(flow, Z[idx] + h * e) - tight_push(flow, Z[idx] - h * e)) / (2 * h) for e in np.eye(field.dim)], axis=2)
    exact = np.abs(np.linalg.det(truth))
    fast = flow.volume_elements(Z)[idx]
    reference = reverse_mode_volumes(flow, Z)[idx]
    gap = np.abs(flow.liouville_gap(Z[idx]))
    print(f"   accuracy on {n_points} of the points against central differences (step 1e-5) of a solve at 1e-11, largest relative error of |det J|:")
    print(f"     reference (reverse mode)   {np.max(np.abs(reference / exact - 1)):.2e}")
    print(f"     fast path (variational)    {np.max(np.abs(fast / exact - 1)):.2e}")
    print(f"   Liouville: largest |log N(z) - log|det J| - log p(x)| on those points {gap.max():.2e} nats (the job's check allows "
          f"{1000 * max(flow.solver['rtol'], flow.solver['atol']):g})")


def floor(model: str, threads: int, evaluations_per_block: float) -> None:
    """Multiply-adds per sample and the machine's float64 product rate at the field's shapes."""
    import torch

    from figureflow.generative.cnf import load_model

    torch.set_num_threads(threads)
    field, _ = load_model(model)
    shapes = [(layer.linear.in_features, layer.linear.out_features) for layer in field.layers]
    macs = sum(a * b for a, b in shapes) + field.dim * field.n_fourier
    per_sample = evaluations_per_block * (1 + field.dim) * macs
    widest = max(shapes, key=lambda s: s[0] * s[1])
    A = torch.randn(BLOCK * (1 + field.dim), widest[0], dtype=torch.float64)
    W = torch.randn(widest[0], widest[1], dtype=torch.float64)
    A @ W
    reps = 20
    start = time.perf_counter()
    for _ in range(reps):
        A @ W
    rate = reps * A.shape[0] * widest[0] * widest[1] / (time.perf_counter() - start)
    print(f"   floor: {evaluations_per_block:.0f} field evaluations per block of {BLOCK}, each {macs:,} multiply-adds per row "
          f"times {1 + field.dim} (the field and {field.dim} tangents): {per_sample / 1e6:.1f} M per sample;")
    print(f"          float64 products at {widest[0]} x {widest[1]} run at {rate / 1e9:.1f} G multiply-adds/s on {threads} threads here: "
          f"at most {rate / per_sample:,.0f} samples/s for this field at this tolerance")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL))
    parser.add_argument("--samples", type=int, default=2 * BLOCK)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--case", choices=["reference", "fast"])
    args = parser.parse_args()
    if args.case:
        print(json.dumps(case(args.case, args.model, args.samples, args.threads)))
        return
    if not Path(args.model).exists():
        sys.exit(f"benchmarks/cnf_jacobian.py: no trained flow at {args.model}; make the demo's with "
                 "`snakemake --cores 2 results/cnf/two_moons/model.pt` (about 6 minutes) or pass --model")
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _util import run_case

    print(f"{args.model}: {args.samples} standard normal samples, {args.threads} threads, each path in a fresh process")
    results = {}
    for path in ("reference", "fast"):
        r = run_case(__file__, path, "--model", args.model, "--samples", str(args.samples), "--threads", str(args.threads))
        results[path] = r
        label = "reference (reverse mode)" if path == "reference" else "fast path (variational)"
        print(f"   {label:26s} {args.samples / r['seconds']:8,.0f} samples/s (call {r['seconds']:.1f} s, process {r['process']:.1f} s), "
              f"E[D] = {r['mean']:.6f} +- {r['se']:.6f}")
    ratio = results["reference"]["seconds"] / results["fast"]["seconds"]
    print(f"   ratio (reference time / fast time) {ratio:.2f}x")
    accuracy(args.model)
    blocks = -(-args.samples // BLOCK)
    floor(args.model, args.threads, results["fast"]["evaluations"] / blocks)


if __name__ == "__main__":
    main()
