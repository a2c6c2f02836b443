"""The CNF's divergence: hand-written forward-mode tangents against ``torch.func.jvp``.

    python benchmarks/cnf_jvp.py                 # the demo's field, batch 1024, one thread
    python benchmarks/cnf_jvp.py --batch 4096 --threads 2

What a training step of a maximum-likelihood CNF spends most of its time on is the field with its
trace, ``f(z, t)`` and ``Tr(df/dz)``, and the backward pass through both. The demo's two-moons field
(3 x 128 SiLU layers, time concatenated, 16 Fourier features; float32, as training runs) computes them in one forward pass
that carries tangent vectors through the MLP (:meth:`figureflow.generative.cnf.VectorField.jvp`).
The reference is ``torch.func.jvp`` over the same module, ``vmap``-ed over the tangents (the
unit vectors for the exact trace, one Rademacher probe for Hutchinson's estimate).

Printed per case: the median seconds of the forward (``f`` and the trace), of forward and
backward (the gradient of the mean trace with respect to the weights), both ways, the ratio
(reference / hand-written) and the largest difference of the traces and of the gradients.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def demo_field(dim: int = 2):
    from figureflow.generative.cnf import build_field

    options = {"hidden": [128, 128, 128], "activation": "silu", "conditioning": "concat", "fourier_features": 16, "fourier_scale": 1.5}
    return build_field(dim, options, 7)


def reference_divergence(field, t, z, noise=None):
    """``f`` and the trace by ``torch.func.jvp``, ``vmap``-ed over the tangents ``(K, B, D)``."""
    from torch.func import jvp, vmap

    B, D = z.shape
    tangents = torch.eye(D, dtype=z.dtype)[:, None, :].expand(D, B, D) if noise is None else noise[None]
    fs, Jt = vmap(lambda v: jvp(lambda x: field(t, x), (z,), (v,)))(tangents)
    if noise is None:
        return fs[0], torch.diagonal(Jt, dim1=0, dim2=2).sum(dim=1)
    return fs[0], (noise * Jt[0]).sum(dim=1)


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    field = demo_field()
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(args.batch, 2, generator=generator)  # float32, as training runs
    t = torch.tensor(0.3)
    probe = (torch.randint(0, 2, (args.batch, 2), generator=generator) * 2 - 1).float()
    print(f"field: 2 -> 3 x 128 SiLU -> 2, concat time, 16 Fourier features; batch {args.batch}, float32, {args.threads} thread(s), "
          f"median of {args.repeats}")
    print(f"{'trace':10s} {'pass':18s} {'hand-written s':>15s} {'torch.func s':>13s} {'ratio':>6s} {'max |diff|':>11s}")
    for name, noise in (("exact", None), ("hutchinson", probe)):
        mine = lambda: field.divergence(t, z, noise)  # noqa: E731
        theirs = lambda: reference_divergence(field, t, z, noise)  # noqa: E731
        with torch.no_grad():
            f1, d1 = mine()
            f2, d2 = theirs()
        diff = max(float((f1 - f2).abs().max()), float((d1 - d2).abs().max()))
        with torch.no_grad():
            a, b = timed(mine, args.repeats), timed(theirs, args.repeats)
        print(f"{name:10s} {'forward':18s} {a:15.5f} {b:13.5f} {b / a:6.2f} {diff:11.2e}")

        def backward(fn):
            field.zero_grad()
            fn()[1].mean().backward()
            return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in field.parameters()]

        g1, g2 = backward(mine), backward(theirs)
        gdiff = max(float((x - y).abs().max()) for x, y in zip(g1, g2))
        a, b = timed(lambda: backward(mine), args.repeats), timed(lambda: backward(theirs), args.repeats)
        print(f"{name:10s} {'forward+backward':18s} {a:15.5f} {b:13.5f} {b / a:6.2f} {gdiff:11.2e}")


if __name__ == "__main__":
    main()
