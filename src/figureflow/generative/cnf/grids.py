"""What a CNF's figures draw: its density over a grid and sample trajectories (computed once, drawn from arrays).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import numpy as np
import torch

from figureflow.generative.cnf.field import VectorField
from figureflow.generative.cnf.ode import _Dynamics, integrate, log_density, sample, solver_options

__all__ = ["leaves_ball", "grid_radius", "density_grid", "trajectories"]


def leaves_ball(field: VectorField, x: torch.Tensor, solver: Mapping, radius: float) -> torch.Tensor:
    """Which rows of ``x (B, D)`` have an inverse path (``t = 1`` to ``0``) that leaves the ball
    ``|z| <= radius``: a boolean ``(B,)``. The field alone is integrated (no trace: about a third
    of :func:`log_density`'s cost per step), damped beyond the ball so that a runaway path stops
    there (see :class:`_Dynamics`)."""
    dynamics = _Dynamics(field, with_trace=False, radius=float(radius))
    _, excess = integrate(dynamics, (x, x.new_zeros(x.shape[0])), torch.tensor([1.0, 0.0], dtype=x.dtype, device=x.device), solver)
    return excess[-1] != 0


def grid_radius(extent: float) -> float:
    """The ball a density grid's inverse paths must stay in: ``max(6, sqrt(2) extent + 1)``, so
    that the grid's corners start inside it, and a path that ends outside it ends where the 2-D
    normal has less than ``exp(-18)`` of its mass beyond."""
    return max(6.0, math.sqrt(2.0) * float(extent) + 1.0)


def density_grid(field: VectorField, options: Mapping, extent: float, size: int, tolerance: float = 1e-4,
                 radius: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``log p`` of a 2-D flow on the ``size x size`` grid over ``[-extent, extent]^2`` (rows: the
    second coordinate); returns the axis and the ``(size, size)`` values.

    A picture, not a score: solved with the evaluation solver (float64, exact trace) at
    ``rtol = atol = tolerance``. On the demo's moons 1e-4 moves no grid value of ``p`` by more
    than 0.05% of its peak against the 1e-6 solve that scores a run, in a third of the time.
    Points whose inverse path leaves the ball ``|z| <= radius`` (default :func:`grid_radius`) are
    ``-inf``, drawn as zero density: they are found first by :func:`leaves_ball` (the field
    alone, no trace), and only the others are solved with the trace. Off the data a field is
    unconstrained: after 60000 iterations on the moons, paths from the grid's empty top ran away
    exponentially, and one batch solve of the whole grid took over ten minutes (every row takes
    the steps of the worst); with the stop, 27 s. Whether the picture lost mass that way shows
    in its sum, ``sum(exp(log p)) h^2``, which ``train_run`` logs (1.0002 there).
    """
    radius = grid_radius(extent) if radius is None else float(radius)
    axis = np.linspace(-extent, extent, size)
    g1, g2 = np.meshgrid(axis, axis)
    points = torch.as_tensor(np.stack([g1.ravel(), g2.ravel()], axis=1))
    double = copy.deepcopy(field).double().eval()
    with torch.no_grad():
        solver = {**solver_options(options, evaluation=True), "rtol": float(tolerance), "atol": float(tolerance)}
        off = leaves_ball(double, points, solver, radius)
        logp = torch.full((len(points),), -math.inf, dtype=points.dtype)
        if not off.all():
            logp[~off] = log_density(double, points[~off], solver, radius=radius)[0]
    return axis, logp.numpy().reshape(size, size)


def trajectories(field: VectorField, options: Mapping, n: int, times, seed_word: int) -> np.ndarray:
    """``n`` noise draws (from ``seed_word``) pushed through the flow: states ``(T, n, D)`` at ``times``."""
    z0 = torch.randn((n, field.dim), generator=torch.Generator().manual_seed(int(seed_word)), dtype=torch.float64)
    double = copy.deepcopy(field).double().eval()
    with torch.no_grad():
        z, _ = sample(double, z0, np.asarray(times, dtype=np.float64), solver_options(options, evaluation=True), with_log_density=False)
    return z.numpy()
