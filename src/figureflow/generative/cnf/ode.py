"""The CNF's ODE: the augmented dynamics, the torchdiffeq solve and its budget, log-densities and samples.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from figureflow.generative.cnf.field import VectorField
from figureflow.generative.settings import CNF_DEFAULTS as DEFAULTS
from figureflow.generative.settings import FIXED_STEP_SOLVERS
from figureflow.io import RunError

__all__ = [
    "ODESolveError",
    "EvaluationBudgetExceeded",
    "solver_options",
    "integrate",
    "standard_normal_log_density",
    "log_density",
    "sample",
    "_Dynamics",
]


class ODESolveError(RunError):
    """An ODE solve that did not reach its end time with a finite state, or took more field
    evaluations than its budget."""


class EvaluationBudgetExceeded(ODESolveError):
    """A training solve reached its ``max_evaluations`` (the memory its backward pass may keep)."""

    def __init__(self, evaluations: int):
        super().__init__(f"the solve stopped after {evaluations} field evaluations, its budget (max_evaluations)")
        self.evaluations = evaluations


class _Dynamics(nn.Module):
    """The augmented ODE ``d/dt (z, delta) = (f, -Tr(df/dz))`` (or just ``f``), counting evaluations.

    With ``regularized``, two more per-row integrands ride along: the kinetic energy ``||f||^2``
    and the Jacobian's squared Frobenius norm (Finlay et al. 2020). With ``radius`` R, the state is
    ``(z, delta, excess)``: beyond ``|z| = R`` the field and its trace are damped by
    ``exp(-(|z| - R)^2)`` (1 inside the ball, smoothly to 0 outside), so that a path that runs off
    to infinity stops instead of forcing ever smaller steps on the whole batch, and
    ``excess = int relu(|z| - R)^2 dt`` marks the rows whose path left the ball (inside it,
    nothing is damped and the solve is the plain one).
    """

    def __init__(self, field: VectorField, noise: torch.Tensor | None = None, with_trace: bool = True, regularized: bool = False,
                 radius: float | None = None, max_evaluations: int | None = None):
        super().__init__()
        self.field, self.noise, self.with_trace, self.regularized, self.nfe = field, noise, with_trace, regularized, 0
        self.radius, self.max_evaluations = radius, max_evaluations

    def forward(self, t, state):
        if self.max_evaluations is not None and self.nfe >= self.max_evaluations:
            raise EvaluationBudgetExceeded(self.nfe)
        self.nfe += 1
        if self.radius is not None:
            outside = torch.relu(state[0].norm(dim=1) - self.radius)
            damping = torch.exp(-outside * outside)
            if not self.with_trace:
                return self.field(t, state[0]) * damping[:, None], outside * outside
            f, div = self.field.divergence(t, state[0], self.noise)
            return f * damping[:, None], -div * damping, outside * outside
        if not self.with_trace:
            return self.field(t, state)
        if self.regularized:
            f, div, frobenius = self.field.divergence(t, state[0], self.noise, frobenius=True)
            return f, -div, (f * f).sum(dim=1), frobenius
        f, div = self.field.divergence(t, state[0], self.noise)
        return f, -div


def solver_options(options: Mapping, evaluation: bool = False) -> dict:
    """The solver settings of a run: training's (``solver``, ``rtol``, ``atol``, ``step_size``,
    ``adjoint``, ``max_steps``, ``max_evaluations`` as given: ``None`` is no bound) or, with
    ``evaluation``, the tight adaptive solve that scores it (``nll_solver``, ``nll_rtol``,
    ``nll_atol``, exact trace, no adjoint, no evaluation bound: it keeps no graph)."""
    options = {**DEFAULTS, **options}
    if evaluation:
        return {"solver": options["nll_solver"], "rtol": options["nll_rtol"], "atol": options["nll_atol"], "step_size": options["step_size"],
                "adjoint": False, "max_steps": options["max_steps"], "max_evaluations": None}
    return {k: options[k] for k in ("solver", "rtol", "atol", "step_size", "adjoint", "max_steps", "max_evaluations")}


def integrate(dynamics: nn.Module, state, times: torch.Tensor, solver: Mapping):
    """Solve ``dynamics`` from ``state`` at ``times[0]`` and return the states at ``times``.

    ``solver``: see :func:`solver_options`. Fixed-step solvers (``euler``, ``midpoint``, ``rk4``)
    take ``step_size``; adaptive ones (``dopri5``, ``bosh3``, ...) take ``rtol``/``atol`` and stop
    after ``max_steps`` steps.

    Raises
    ------
    ODESolveError
        When the solver gives up (step size underflow, which a NaN in the field also causes, or
        ``max_steps``) or returns a non-finite state; the message names the solver, the
        tolerances, the time span and the evaluations made.
    """
    from torchdiffeq import odeint, odeint_adjoint

    method = solver["solver"]
    if method in FIXED_STEP_SOLVERS:
        options = {"step_size": float(solver["step_size"])}
    else:
        options = {"max_num_steps": int(solver["max_steps"])}
    where = f"the {method} solve from t={float(times[0]):g} to t={float(times[-1]):g} (rtol {solver['rtol']:g}, atol {solver['atol']:g})"
    start = getattr(dynamics, "nfe", 0)
    try:
        if solver.get("adjoint"):
            out = odeint_adjoint(dynamics, state, times, rtol=solver["rtol"], atol=solver["atol"], method=method, options=options,
                                 adjoint_params=tuple(dynamics.parameters()))
        else:
            out = odeint(dynamics, state, times, rtol=solver["rtol"], atol=solver["atol"], method=method, options=options)
    except AssertionError as err:  # torchdiffeq signals underflow and the step budget by assertion
        raise ODESolveError(f"{where} failed after {getattr(dynamics, 'nfe', 0) - start} evaluations: {err}") from None
    for part in out if isinstance(out, tuple) else (out,):
        if not torch.isfinite(part).all():
            raise ODESolveError(f"{where} returned a non-finite state after {getattr(dynamics, 'nfe', 0) - start} evaluations")
    return out


def standard_normal_log_density(z: torch.Tensor) -> torch.Tensor:
    """``log N(z; 0, I)`` per row of ``z (B, D)``."""
    return -0.5 * (z * z).sum(dim=1) - 0.5 * z.shape[1] * math.log(2 * math.pi)


def log_density(field: VectorField, x: torch.Tensor, solver: Mapping, noise: torch.Tensor | None = None, regularized: bool = False,
                radius: float | None = None):
    """``log p(x)`` per row of ``x (B, D)`` and the number of field evaluations.

    Integrates ``(z, delta)`` from ``(x, 0)`` at ``t = 1`` to ``t = 0`` with
    ``d delta/dt = -Tr(df/dz)``: ``log p(x) = log N(z(0)) - delta(0)``. ``noise (B, D)`` selects
    Hutchinson's estimate (one probe per row for the whole solve); ``None``, the exact trace.
    With ``regularized``, also returns per row ``int_0^1 ||f||^2 dt`` and
    ``int_0^1 ||df/dz||_F^2 dt`` along the same solve: ``(logp, nfe, kinetic, frobenius)``.

    With ``radius`` R (for pictures over empty space, not for scores), a row whose inverse path
    leaves the ball ``|z| <= R`` gets ``log p = -inf``, and its path, which off the data can run
    away exponentially (thousands of steps for the whole batch), is stopped beyond the ball's edge
    instead of followed. Where such a path would have ended outside the ball, the point's preimage
    lies in the normal's tail (all such points together carry less than ``P(|z| > R)`` of the
    flow's mass); a path that would have come back in is cut too, so what a picture lost is
    checked by its total mass (see :func:`density_grid`).
    """
    times = torch.tensor([1.0, 0.0], dtype=x.dtype, device=x.device)
    zero = x.new_zeros(x.shape[0])
    if radius is not None:
        dynamics = _Dynamics(field, noise, radius=float(radius))
        z, delta, excess = integrate(dynamics, (x, zero, zero), times, solver)
        logp = standard_normal_log_density(z[-1]) - delta[-1]
        return torch.where(excess[-1] != 0, torch.full_like(logp, -math.inf), logp), dynamics.nfe
    dynamics = _Dynamics(field, noise, regularized=regularized, max_evaluations=solver.get("max_evaluations"))
    if regularized:
        z, delta, kinetic, frobenius = integrate(dynamics, (x, zero, zero, zero), times, solver)
        return standard_normal_log_density(z[-1]) - delta[-1], dynamics.nfe, -kinetic[-1], -frobenius[-1]  # integrated from 1 down to 0
    z, delta = integrate(dynamics, (x, zero), times, solver)
    return standard_normal_log_density(z[-1]) - delta[-1], dynamics.nfe


def sample(field: VectorField, z0: torch.Tensor, times, solver: Mapping, with_log_density: bool = True):
    """Push noise ``z0 (B, D)`` forward: states ``(T, B, D)`` at ``times`` (from 0 to 1) and,
    with ``with_log_density``, ``log p_t(z(t))`` ``(T, B)`` along the way (exact trace)."""
    times = torch.as_tensor(times, dtype=z0.dtype, device=z0.device)
    if not with_log_density:
        return integrate(_Dynamics(field, with_trace=False), z0, times, solver), None
    z, delta = integrate(_Dynamics(field), (z0, z0.new_zeros(z0.shape[0])), times, solver)
    return z, standard_normal_log_density(z0)[None] + delta
