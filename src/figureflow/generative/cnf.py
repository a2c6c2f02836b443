"""Continuous normalizing flows: a time-conditioned vector field moved through torchdiffeq.

A CNF carries noise ``z(0) ~ N(0, I)`` to data ``x = z(1)`` along ``dz/dt = f(z, t)``; the
log-density changes by ``d log p(z(t)) / dt = -Tr(df/dz)`` (Chen et al. 2018), so

    log p(x) = log N(z(0); 0, I) - int_0^1 Tr(df/dz)(z(t), t) dt,

integrated backwards from ``z(1) = x``. The trace is either exact or Hutchinson's unbiased
estimate ``e^T (df/dz) e`` with ``e`` Rademacher or Gaussian, drawn once per solve (FFJORD,
Grathwohl et al. 2019). Both come from one forward-mode pass: :meth:`VectorField.jvp` carries
tangent vectors through the MLP with the field itself, ``D`` of them (the identity) for the
exact trace, one (``e``) for the estimate, which is the same number as FFJORD's vector-Jacobian
product ``e^T J`` dotted with ``e``, without a second backward graph.

Objectives (:func:`objective_terms`):

* ``maximum_likelihood``: minus the mean log-density of a minibatch, through the ODE solve
  (directly, or with the adjoint method);
* ``flow_matching`` (Lipman et al. 2023): regression of ``f(x_t, t)`` onto the conditional
  optimal-transport velocity ``x1 - (1 - sigma_min) x0`` at ``x_t = (1 - (1 - sigma_min) t) x0 + t x1``;
  no ODE solve while training;
* ``warm_start`` iterations of flow matching may precede maximum likelihood: flow matching finds
  the flow's shape quickly (a minibatch costs one pass of the MLP, a maximum-likelihood one some
  30 to 100 passes with tangents and their backward), and maximum likelihood then optimizes what
  is reported. Optional RNODE penalties (``kinetic_energy``, ``jacobian_norm``) keep a
  maximum-likelihood flow simple enough for a fixed-step solver to follow; without them a coarse
  RK4 grid is exploited (training NLL falls while the true NLL rises).

Whatever the objective, :func:`held_out_nll` scores the model with the exact trace and an adaptive
solver at tight tolerance. A solve that fails (step size underflow, the step budget, a non-finite
state) raises :class:`ODESolveError`; nothing is swallowed.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from figureflow.generative.settings import CNF_DEFAULTS as DEFAULTS
from figureflow.generative.settings import FIXED_STEP_SOLVERS, cnf_training_budget
from figureflow.generative.training import fit, held_out_split, init_weights, normal_noise, replicate_streams, resolve_device
from figureflow.io import RunError

__all__ = [
    "ODESolveError",
    "VectorField",
    "build_field",
    "hutchinson_noise",
    "integrate",
    "standard_normal_log_density",
    "log_density",
    "sample",
    "flow_matching_loss",
    "objective_terms",
    "train_cnf",
    "held_out_nll",
    "solver_options",
    "density_grid",
    "leaves_ball",
    "grid_radius",
    "trajectories",
    "FlowMap",
    "flow_jacobians",
    "save_model",
    "load_model",
]


class ODESolveError(RunError):
    """An ODE solve that did not reach its end time with a finite state, or took more field
    evaluations than its budget."""


class EvaluationBudgetExceeded(ODESolveError):
    """A training solve reached its ``max_evaluations`` (the memory its backward pass may keep)."""

    def __init__(self, evaluations: int):
        super().__init__(f"the solve stopped after {evaluations} field evaluations, its budget (max_evaluations)")
        self.evaluations = evaluations


def _activation(name: str):
    """``(a, slope) -> (sigma(a), sigma'(a) or None)``: the derivative only when ``slope`` is asked
    for (a tangent is being pushed), else the fused activation alone (cheaper, forward and backward)."""
    if name == "tanh":
        def act(a, slope=True):
            y = torch.tanh(a)
            return y, (1 - y * y) if slope else None
    elif name == "softplus":
        def act(a, slope=True):
            return nn.functional.softplus(a), torch.sigmoid(a) if slope else None
    elif name == "silu":
        def act(a, slope=True):
            if not slope:
                return nn.functional.silu(a), None
            s = torch.sigmoid(a)
            return nn.functional.silu(a), s * (1 + a * (1 - s))  # the same values with or without the slope
    else:
        raise ValueError(f"activation {name!r}: expected tanh, softplus or silu")
    return act


class _Layer(nn.Module):
    """``concat``: ``W [h, t] + b``; ``concatsquash``: ``(W h + b) * sigmoid(g t + c) + s t`` (FFJORD)."""

    def __init__(self, n_in: int, n_out: int, conditioning: str):
        super().__init__()
        self.n_in, self.conditioning = n_in, conditioning
        if conditioning == "concat":
            self.linear = nn.Linear(n_in + 1, n_out)
        elif conditioning == "concatsquash":
            self.linear = nn.Linear(n_in, n_out)
            self.gate = nn.Linear(1, n_out)
            self.shift = nn.Linear(1, n_out, bias=False)
        else:
            raise ValueError(f"conditioning {conditioning!r}: expected concat or concatsquash")

    def forward(self, t: torch.Tensor, h: torch.Tensor, tangent: torch.Tensor | None = None):
        """``t`` ``(1, 1)`` (one time for all rows) or ``(B, 1)``, ``h (B, n_in)``, tangents
        ``(K, B, n_in)`` -> output ``(B, n_out)`` and its tangents ``(K, B, n_out)``."""
        if self.conditioning == "concat":
            W = self.linear.weight[:, : self.n_in]
            if t.shape[0] == h.shape[0] and tangent is None:  # a time per row (flow matching): one fused product
                return nn.functional.linear(torch.cat([h, t], dim=1), self.linear.weight, self.linear.bias), None
            a = torch.addmm(nn.functional.linear(t, self.linear.weight[:, self.n_in :], self.linear.bias), h, W.t())
            return a, None if tangent is None else nn.functional.linear(tangent, W)
        gate = torch.sigmoid(self.gate(t))
        a = self.linear(h) * gate + self.shift(t)
        return a, None if tangent is None else nn.functional.linear(tangent, self.linear.weight) * gate


class VectorField(nn.Module):
    """An MLP ``f(z, t): R^D x [0, 1] -> R^D`` with time fed to every layer.

    Parameters
    ----------
    dim
        ``D``, the data dimension.
    hidden
        Widths of the hidden layers, e.g. ``[64, 64, 64]``.
    activation
        ``tanh``, ``softplus`` or ``silu`` (smooth, so that the flow is).
    conditioning
        ``concat`` (time as an extra input of each layer) or ``concatsquash`` (time gates and
        shifts each layer's output).
    fourier_features
        ``M``: the first layer also sees ``sin(z B)`` and ``cos(z B)`` for a fixed ``B (D, M)``
        (Tancik et al. 2020), which lets a small MLP draw a density's sharp edges; the buffer
        ``frequencies`` holds ``B`` (drawn by :func:`build_field`). 0 (the default): none.
    """

    def __init__(self, dim: int, hidden, activation: str = "tanh", conditioning: str = "concatsquash", fourier_features: int = 0):
        super().__init__()
        self.dim, self.n_fourier = int(dim), int(fourier_features)
        sizes = [self.dim + 2 * self.n_fourier, *map(int, hidden), self.dim]
        self.layers = nn.ModuleList(_Layer(a, b, conditioning) for a, b in zip(sizes[:-1], sizes[1:]))
        if self.n_fourier:
            self.register_buffer("frequencies", torch.zeros(self.dim, self.n_fourier))
        self.activation = activation
        self._act = _activation(activation)
        self.config = {"dim": self.dim, "hidden": [int(h) for h in hidden], "activation": activation, "conditioning": conditioning,
                       "fourier_features": self.n_fourier}

    def _features(self, z: torch.Tensor, tangent: torch.Tensor | None):
        """``[z, sin(z B), cos(z B)]`` and its tangents ``[v, cos(z B) (v B), -sin(z B) (v B)]``."""
        if not self.n_fourier:
            return z, tangent
        B = self.frequencies.to(z.dtype)
        phase = z @ B
        sin, cos = torch.sin(phase), torch.cos(phase)
        h = torch.cat([z, sin, cos], dim=-1)
        if tangent is None:
            return h, None
        dphase = tangent @ B
        return h, torch.cat([tangent, cos * dphase, -sin * dphase], dim=-1)

    @staticmethod
    def _time(t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """``(1, 1)`` for one time (an ODE solve: time features are computed once, not per row), else ``(B, 1)``."""
        t = torch.as_tensor(t, dtype=z.dtype, device=z.device)
        return t.reshape(1, 1) if t.numel() == 1 else t.reshape(z.shape[0], 1)

    def jvp(self, t: torch.Tensor, z: torch.Tensor, tangent: torch.Tensor | None = None):
        """``f(z, t)`` ``(B, D)`` and ``(df/dz) v`` for each tangent ``v`` of ``tangent (K, B, D)``:
        ``(K, B, D)``. ``t`` is a scalar or one time per row. With ``tangent=None``, only ``f``."""
        tt = self._time(t, z)
        h, v = self._features(z, tangent)
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            h, v = layer(tt, h, v)
            if i < last:
                h, slope = self._act(h, v is not None)
                if v is not None:
                    v = v * slope
        return h, v

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.jvp(t, z)[0]

    def divergence(self, t: torch.Tensor, z: torch.Tensor, noise: torch.Tensor | None = None, frobenius: bool = False):
        """``f(z, t)`` and ``Tr(df/dz)`` per row: exact with ``noise=None`` (``D`` tangents, the
        unit vectors), else Hutchinson's ``e^T (df/dz) e`` for the rows of ``noise (B, D)`` (one
        tangent). With ``frobenius``, also ``||df/dz||_F^2`` (exact), or its unbiased estimate
        ``||(df/dz) e||^2``."""
        B, D = z.shape
        if noise is None:
            eye = torch.eye(D, dtype=z.dtype, device=z.device)[:, None, :].expand(D, B, D)
            f, Jt = self.jvp(t, z, eye)  # Jt[k, b, :] = J_b e_k, column k of row b's Jacobian
            div = torch.diagonal(Jt, dim1=0, dim2=2).sum(dim=1)
            return (f, div, (Jt * Jt).sum(dim=(0, 2))) if frobenius else (f, div)
        f, Je = self.jvp(t, z, noise[None])
        div = (noise * Je[0]).sum(dim=1)
        return (f, div, (Je[0] * Je[0]).sum(dim=1)) if frobenius else (f, div)


def build_field(dim: int, options: Mapping, weight_seed: int) -> VectorField:
    """A :class:`VectorField` from a run's options, its weights (then its Fourier frequencies,
    standard normal times ``fourier_scale``) drawn from ``weight_seed``."""
    field = VectorField(dim, options["hidden"], options["activation"], options["conditioning"], int(options.get("fourier_features", 0)))
    generator = torch.Generator().manual_seed(int(weight_seed))
    init_weights(field, generator)
    if field.n_fourier:
        with torch.no_grad():
            field.frequencies.copy_(torch.randn(field.frequencies.shape, generator=generator) * float(options.get("fourier_scale", 1.0)))
    return field


def hutchinson_noise(shape, kind: str, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Probe vectors with ``E[e e^T] = I``: ``rademacher`` (+-1, each with probability 1/2) or
    ``gaussian`` (standard normal), drawn on the CPU from ``generator`` and moved to ``like``'s device.

    Rademacher probes give the smaller variance: ``Var = 2 sum_{i != j} A_ij^2`` against
    ``2 ||A||_F^2`` (Gaussian) for the symmetric part ``A`` of the Jacobian (Hutchinson 1990).
    """
    if kind == "rademacher":
        return (torch.randint(0, 2, shape, generator=generator, dtype=like.dtype) * 2 - 1).to(like.device)
    if kind == "gaussian":
        return normal_noise(shape, generator, like)
    raise ValueError(f"noise {kind!r}: expected rademacher or gaussian")


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


def flow_matching_loss(field: VectorField, x1: torch.Tensor, generator: torch.Generator, sigma_min: float = 0.0) -> torch.Tensor:
    """Conditional flow matching with optimal-transport paths (Lipman et al. 2023):
    ``E || f(x_t, t) - (x1 - (1 - sigma_min) x0) ||^2`` with ``x0 ~ N(0, I)``, ``t ~ U(0, 1)`` and
    ``x_t = (1 - (1 - sigma_min) t) x0 + t x1``, averaged over the rows of ``x1``."""
    x0 = normal_noise(x1.shape, generator, x1)
    t = torch.rand((x1.shape[0], 1), generator=generator, dtype=x1.dtype).to(x1.device)
    xt = (1 - (1 - sigma_min) * t) * x0 + t * x1
    return ((field(t, xt) - (x1 - (1 - sigma_min) * x0)) ** 2).sum(dim=1).mean()


def objective_terms(field: VectorField, x: torch.Tensor, options: Mapping, state: Mapping) -> dict:
    """A minibatch's loss for step ``state["step"]``: flow matching during the first
    ``warm_start`` steps of a ``maximum_likelihood`` run and throughout a ``flow_matching`` run,
    else minus the mean log-density (with the run's trace and training solver), plus
    ``kinetic_energy`` times the mean ``int ||f||^2 dt`` and ``jacobian_norm`` times the mean
    ``int ||df/dz||_F^2 dt`` (RNODE, Finlay et al. 2020: simple dynamics, that a fixed-step solver
    follows faithfully)."""
    generator = state["generator"]
    if options["objective"] == "flow_matching" or state["step"] < int(options["warm_start"]):
        loss = flow_matching_loss(field, x, generator, float(options["sigma_min"]))
        return {"loss": loss, "flow_matching": loss.detach()}
    noise = None if options["trace"] == "exact" else hutchinson_noise(x.shape, options["hutchinson_noise"], generator, x)
    lam_k, lam_j = float(options["kinetic_energy"]), float(options["jacobian_norm"])
    if lam_k or lam_j:
        logp, nfe, kinetic, frobenius = log_density(field, x, solver_options(options), noise, regularized=True)
        nll = -logp.mean()
        loss = nll + lam_k * kinetic.mean() + lam_j * frobenius.mean()
        return {"loss": loss, "nll": nll.detach(), "nfe": float(nfe), "kinetic_energy": kinetic.mean().detach(), "jacobian_norm": frobenius.mean().detach()}
    logp, nfe = log_density(field, x, solver_options(options), noise)
    loss = -logp.mean()
    return {"loss": loss, "nll": loss.detach(), "nfe": float(nfe)}


def _schedule(options: Mapping):
    """Learning-rate factor by step, relative to ``learning_rate``: during a maximum-likelihood
    run's flow-matching warm start, ``warm_start_learning_rate / learning_rate``; with
    ``lr_schedule: cosine``, times a cosine decay to 0 over each phase (warm start, then the rest)."""
    total = int(options["iterations"])
    warm = int(options["warm_start"]) if options["objective"] == "maximum_likelihood" else 0
    base = float(options["learning_rate"])
    warm_factor = float(options["warm_start_learning_rate"] or base) / base
    if options["lr_schedule"] == "constant" and warm_factor == 1.0:
        return None
    cosine = options["lr_schedule"] == "cosine"

    def factor(step: int) -> float:
        start, length, scale = (0, warm, warm_factor) if step < warm else (warm, total - warm, 1.0)
        return scale * (0.5 * (1 + math.cos(math.pi * min(1.0, (step - start) / max(1, length)))) if cosine else 1.0)

    return factor


def train_cnf(x: np.ndarray, options: Mapping, seed: int, run: str, checkpoint=None, threads: int | None = None, progress: bool = True, on_epoch=None,
              checkpoint_seconds: float = 10.0):
    """Train the CNF of run ``run`` on ``x (n, D)`` (standardized).

    Streams come from ``(seed, "cnf_train", {"run": run})``. ``iterations`` minibatches of
    ``batch_size`` rows (epochs of the training rows, the last one cut at ``iterations``); every
    ``evaluate_every`` iterations the held-out NLL under the training solver (exact trace) is
    recorded, and the model with the lowest is kept. A ``checkpoint`` file is written after an
    epoch every ``checkpoint_seconds`` (and after the last) and resumed from
    (:func:`figureflow.generative.training.fit`); ``on_epoch(epoch, row, field)``
    is called after each epoch (a benchmark's monitor, a test's interruption).

    Returns the field (CPU, eval mode), the history (``epoch``, ``iteration``, ``train_loss``,
    ``held_out_loss``, ``flow_matching`` or ``nll``/``nfe`` means) and ``{"train_rows",
    "held_rows", "device", "seconds"}``.
    """
    options = {**DEFAULTS, **options}
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    device = resolve_device(options["device"], f"cnf.runs.{run}.device")
    streams = replicate_streams(seed, "cnf_train", {"run": run}, 0)
    train_rows, held_rows = held_out_split(x.shape[0], float(options["held_out_fraction"]), streams["numpy"])
    X = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)
    field = build_field(x.shape[1], options, streams["weights"]).to(device)
    generator = torch.Generator().manual_seed(streams["training"])
    batch_size = min(int(options["batch_size"]), len(train_rows))
    steps_per_epoch = math.ceil(len(train_rows) / batch_size)
    iterations = int(options["iterations"])
    epochs = math.ceil(iterations / steps_per_epoch)
    every = max(1, round(int(options["evaluate_every"]) / steps_per_epoch))
    held_solver = {**solver_options({**options, "adjoint": False}), "max_evaluations": None}  # no graph kept
    budget = cnf_training_budget(options, x.shape[1])
    bounded = {**options, "max_evaluations": budget["max_evaluations"]}

    def step_loss(model, batch, state):
        if state["step"] >= iterations:  # the last epoch stops at the iteration budget
            return None
        try:
            return objective_terms(model, batch[0], bounded, state)
        except EvaluationBudgetExceeded as exceeded:
            raise ODESolveError(
                f"CNF run {run}, iteration {state['step'] + 1}: the training solve ({options['solver']}, rtol {options['rtol']:g}, "
                f"atol {options['atol']:g}) stopped after {exceeded.evaluations} field evaluations, the most that fit in "
                f"memory_mb {budget['mem_mb']} at {budget['evaluation_mb']:.1f} MB each (max_evaluations); the flow has become too stiff "
                f"to follow: lower learning_rate (now {options['learning_rate']:g}), or loosen rtol/atol, or use trace: hutchinson or "
                f"adjoint: true, or raise memory_mb"
            ) from None

    def evaluate(model, batch, state):
        logp, nfe = log_density(model, batch[0], held_solver)
        return {"held_out_loss": -logp.mean(), "held_out_nfe": float(nfe)}

    identity = repr(sorted({**options, "seed": seed, "run": run, "n": x.shape[0], "D": x.shape[1]}.items()))
    field, history = fit(
        field, [X], train_rows, held_rows, step_loss, evaluate,
        epochs=epochs, batch_size=batch_size, learning_rate=float(options["learning_rate"]), generator=generator,
        patience=None, checkpoint=checkpoint, identity=identity, progress=progress, label=f"CNF run {run}",
        evaluate_every=every, schedule=_schedule(options), checkpoint_seconds=checkpoint_seconds, on_epoch=None if on_epoch is None else lambda epoch, row: on_epoch(epoch, row, field),
    )
    return field.cpu().eval(), history, {"train_rows": train_rows, "held_rows": held_rows, "device": str(device), "seconds": history.attrs["seconds"]}


def held_out_nll(field: VectorField, x: np.ndarray, options: Mapping, batch_size: int = 4096) -> dict:
    """The score of a trained field on rows ``x (n, D)``: ``{"nll"`` (minus the mean log-density,
    nats, exact trace, the tight evaluation solve of :func:`solver_options`), ``"nfe"`` (field
    evaluations per solve, the largest over batches), ``"seconds"}``; float64 throughout."""
    double = copy.deepcopy(field).double().eval()
    solver = solver_options(options, evaluation=True)
    began, total, nfe = time.perf_counter(), 0.0, 0
    X = torch.as_tensor(np.asarray(x, dtype=np.float64))
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            logp, n = log_density(double, X[i : i + batch_size], solver)
            total += float(logp.sum())
            nfe = max(nfe, n)
    return {"nll": -total / len(X), "nfe": nfe, "seconds": time.perf_counter() - began}


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


class _Variational(nn.Module):
    """The flow with its variational equations: ``d/dt (z, V) = (f(z, t), (df/dz) V)``.

    ``V (D, B, D)`` holds, for every row, the ``D`` columns of ``dz(t)/dz(0)`` as tangents
    (``V[k, b]`` is column ``k`` of row ``b``'s Jacobian, the unit vector ``e_k`` at ``t = 0``);
    :meth:`VectorField.jvp` carries them through the MLP beside the field in one pass."""

    def __init__(self, field: VectorField):
        super().__init__()
        self.field, self.nfe = field, 0

    def forward(self, t, state):
        self.nfe += 1
        return self.field.jvp(t, state[0], state[1])


#: rows of one batched solve of :meth:`FlowMap.jacobians` (whatever the sample count, so that a
#: row's value, which depends on the steps its block took, is the same for any ``n``)
FLOW_BLOCK = 4096

#: :meth:`FlowMap.check` accepts ``|log N(z) - log|det J(z)| - log p(x(z))|`` up to this many
#: times the solve's tolerance, ``max(rtol, atol)``, in nats (1e-3 at the evaluation default 1e-6)
LIOUVILLE_FACTOR = 1000.0


class FlowMap:
    """A trained flow's sampler ``z(0) -> x(1)`` as a Jacobian map (``d = D``), float64.

    Called on one latent point ``(D,)`` it returns ``x(1)``; :meth:`batch` maps rows of a numpy
    array; :meth:`volume_elements` gives ``|det J(z)|`` from the variational equations
    (:meth:`jacobians`), integrated in the same adaptive solve as the flow: the Jacobian of the
    flow itself, to the solver's tolerance, which :meth:`check` compares with the flow's own
    density (the integrated trace).

    (Reverse mode through the solve, the earlier path, gives the exact derivative of the discrete
    solve, whose steps are chosen for ``x`` alone; a flow whose Jacobian varies faster than its
    values needs finer steps for ``J``. On the demo's two-moons flow at ``rtol = 1e-6`` that path's
    ``|det J|`` was up to 1% off a finite difference of a solve at ``1e-11``; here the error control
    covers ``J`` too, and the error is about 4e-4. ``benchmarks/cnf_jacobian.py`` measures both.)
    """

    def __init__(self, field: VectorField, options: Mapping):
        self.field = copy.deepcopy(field).double().eval()
        for p in self.field.parameters():
            p.requires_grad_(False)
        self.solver = solver_options(options, evaluation=True)
        self.evaluations = 0  # field evaluations of the variational solves so far (each carries D tangents)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self._push(z[None, :])[0]

    def _push(self, Z: torch.Tensor) -> torch.Tensor:
        return integrate(_Dynamics(self.field, with_trace=False), Z, torch.tensor([0.0, 1.0], dtype=Z.dtype), self.solver)[-1]

    def batch(self, Z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self._push(torch.as_tensor(np.asarray(Z, dtype=np.float64))).numpy()

    def jacobians(self, Z: np.ndarray, block: int = FLOW_BLOCK) -> tuple[np.ndarray, np.ndarray]:
        """``x(1)`` ``(n, D)`` and ``dx(1)/dz(0)`` ``(n, D, D)`` at the rows of ``Z``.

        Each block of ``block`` rows is one adaptive solve of the flow and its variational
        equations together (forward-mode tangents, no graph kept), so memory holds one block's
        states whatever ``n`` is."""
        Z = np.asarray(Z, dtype=np.float64)
        n, D = Z.shape
        X, J = np.empty((n, D)), np.empty((n, D, D))
        times = torch.tensor([0.0, 1.0], dtype=torch.float64)
        with torch.no_grad():
            for start in range(0, n, block):
                z = torch.as_tensor(Z[start : start + block])
                V = torch.eye(D, dtype=z.dtype)[:, None, :].expand(D, z.shape[0], D).contiguous()
                dynamics = _Variational(self.field)
                x, V1 = integrate(dynamics, (z, V), times, self.solver)
                self.evaluations += dynamics.nfe
                X[start : start + block] = x[-1].numpy()
                J[start : start + block] = V1[-1].permute(1, 2, 0).numpy()  # J[b, i, k] = V[k, b, i]
        return X, J

    def volume_elements(self, Z: np.ndarray, block: int = FLOW_BLOCK) -> np.ndarray:
        """``|det J(z)|`` per row of ``Z`` (:meth:`jacobians`, block by block)."""
        Z = np.asarray(Z, dtype=np.float64)
        out = np.empty(len(Z))
        for start in range(0, len(Z), block):
            out[start : start + block] = np.abs(np.linalg.det(self.jacobians(Z[start : start + block], block)[1]))
        return out

    def liouville_gap(self, Z: np.ndarray) -> np.ndarray:
        """Per row of ``Z``: ``log N(z) - log|det J(z)| - log p(x(z))`` in nats, where ``log p``
        is the flow's density at ``x(z)`` from the trace integrated backwards (:func:`log_density`,
        exact trace). Zero for the exact flow (Liouville's formula: ``log|det J|`` is the
        integrated trace); what is left is the two solves' error."""
        X, J = self.jacobians(Z)
        with torch.no_grad():
            logp, _ = log_density(self.field, torch.as_tensor(X), self.solver)
        log_normal = standard_normal_log_density(torch.as_tensor(np.asarray(Z, dtype=np.float64))).numpy()
        return log_normal - np.log(np.abs(np.linalg.det(J))) - logp.numpy()

    def check(self, Z: np.ndarray, name: str = "flow") -> float:
        """The largest :meth:`liouville_gap` over ``Z``.

        Raises
        ------
        RunError
            If it exceeds :data:`LIOUVILLE_FACTOR` times the solve's tolerance, naming the map, the
            point, the gap and the solver settings to tighten.
        """
        gap = self.liouville_gap(Z)
        worst = int(np.argmax(np.abs(gap)))
        tolerance = LIOUVILLE_FACTOR * max(float(self.solver["rtol"]), float(self.solver["atol"]))
        if not np.abs(gap[worst]) <= tolerance:
            raise RunError(
                f"CNF map {name}: at z = {np.round(np.asarray(Z)[worst], 4).tolist()} log|det J| from the variational equations and the "
                f"integrated trace differ by {gap[worst]:.3g} nats (tolerance {tolerance:g}); the {self.solver['solver']} solve "
                f"(rtol {self.solver['rtol']:g}, atol {self.solver['atol']:g}) does not follow this flow: tighten the run's nll_rtol and nll_atol"
            )
        return float(np.abs(gap[worst]))


def flow_jacobians(flow: FlowMap, Z: np.ndarray, block: int = FLOW_BLOCK) -> np.ndarray:
    """``dx(1)/dz(0)`` ``(n, D, D)`` at the rows of ``Z`` (:meth:`FlowMap.jacobians`)."""
    return flow.jacobians(Z, block)[1]


def save_model(path, field: VectorField, options: Mapping, standardization: Mapping) -> None:
    """Write the field's weights, the run's options and the data's standardization (``shift``,
    ``scale``) to one ``model.pt`` (atomically)."""
    from figureflow.io import atomic_output

    with atomic_output(path) as tmp:
        torch.save({"config": field.config, "options": dict(options), "standardization": dict(standardization), "field": field.state_dict()}, tmp)


def load_model(path) -> tuple[VectorField, dict]:
    """The field (CPU, eval mode) and the saved dict (``options``, ``standardization``) of a ``model.pt``."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    c = saved["config"]
    field = VectorField(c["dim"], c["hidden"], c["activation"], c["conditioning"], c.get("fourier_features", 0))
    field.load_state_dict(saved["field"])
    return field.eval(), saved


def training_data(spec: Mapping, seed: int, run: str, annotations=None, path=None) -> dict:
    """A run's data, standardized: ``{"x" (n, D), "shift", "scale", "toy", "noise", "names"}``.

    Toys are drawn from ``(seed, "cnf_data", {"run": run})`` (``size`` points, ``noise``); a
    dataset's rows are the first ``n_dims`` columns of ``obsm["X_pca"]`` of ``annotations``, the
    processed h5ad at ``path`` read without its matrices
    (:func:`figureflow.data.ingest.read_h5ad_annotations`: a flow on 4 principal components has no
    use for the gene matrix, its counts or its neighbour graph); ``cell_type`` comes along when
    present. Standardized by one global mean and
    standard deviation (:func:`figureflow.generative.toys.standardize`).

    Raises
    ------
    InputError
        When the h5ad has no ``X_pca`` or fewer than ``n_dims`` components.
    """
    from figureflow.generative.toys import TOYS, standardize, toy_sample
    from figureflow.io import InputError
    from figureflow.seeding import generator

    options = {**DEFAULTS, **spec}
    out = {"toy": None, "noise": float(options["noise"])}
    if options["data"] in TOYS:
        raw = toy_sample(options["data"], int(options["size"]), float(options["noise"]), generator(seed, "cnf_data", {"run": run}))
        out["toy"], out["names"] = options["data"], np.array(["x1", "x2"])
    else:
        adata = annotations
        if "X_pca" not in adata.obsm:
            raise InputError(f"h5ad file '{path}': cnf run {run!r} models obsm['X_pca'], found obsm keys {sorted(adata.obsm)}")
        pca = np.asarray(adata.obsm["X_pca"], dtype=np.float64)
        if pca.shape[1] < int(options["n_dims"]):
            raise InputError(f"h5ad file '{path}': cnf.runs.{run}.n_dims is {options['n_dims']}, but obsm['X_pca'] has {pca.shape[1]} components")
        raw = pca[:, : int(options["n_dims"])]
        out["names"] = np.array([f"PC{i + 1}" for i in range(raw.shape[1])])
        if "cell_type" in adata.obs:
            out["cell_type"] = adata.obs["cell_type"].astype(str).to_numpy(dtype=str)
    out["x"], out["shift"], out["scale"] = standardize(raw)
    return out


def gaussian_mixture_nll(train: np.ndarray, held: np.ndarray, components: int, seed_word: int) -> float:
    """Held-out NLL (nats per point) of a full-covariance Gaussian mixture (scikit-learn, k-means
    initialisation from ``seed_word``) fitted to ``train``: the baseline a flow should beat."""
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(n_components=min(int(components), len(train)), covariance_type="full", random_state=int(seed_word) % 2**32, max_iter=500)
    return -float(gmm.fit(train).score(held))


def train_run(data: Mapping, options: Mapping, seed: int, run: str, figures: Mapping, checkpoint=None, threads: int | None = None, log=None) -> dict:
    """Train one CNF run and score it: :func:`train_cnf`, then :func:`held_out_nll` (exact
    trace, tight tolerance), the true density's NLL on the same held-out rows (toys with a known
    density) and a Gaussian mixture's; what the figures draw.

    Returns ``{"field", "history", "metrics"`` (one row: ``run``, ``data``, ``dims``, ``objective``,
    ``trace``, ``iterations``, ``held_out_nll``, ``nfe``, ``train_seconds``, ``nll_seconds``,
    ``true_nll``, ``gap``, ``gmm_nll``), ``"arrays"`` (``held_out`` data, ``samples``,
    ``trajectory (T, n, D)``, ``times``, for 2-D ``grid_axis``, ``log_density``, else
    ``held_out_log_density``)``}``.
    """
    from figureflow.generative.toys import KNOWN_DENSITY, toy_log_density
    from figureflow.seeding import seed_sequence

    options = {**DEFAULTS, **options}
    x = data["x"]
    field, history, info = train_cnf(x, options, seed, run, checkpoint=checkpoint, threads=threads, progress=True)
    held = x[info["held_rows"]]
    score = held_out_nll(field, held, options)
    row = {"run": run, "data": options["data"], "dims": x.shape[1], "objective": options["objective"], "trace": options["trace"],
           "iterations": int(history["iteration"].iloc[-1]), "held_out_nll": score["nll"], "nfe": score["nfe"],
           "train_seconds": info["seconds"], "nll_seconds": score["seconds"], "true_nll": np.nan, "gap": np.nan}
    if data.get("toy") in KNOWN_DENSITY:
        row["true_nll"] = -float(np.mean(toy_log_density(data["toy"], held, data["noise"], data["shift"], data["scale"])))
        row["gap"] = row["held_out_nll"] - row["true_nll"]
    words = seed_sequence(seed, "cnf_evaluate", {"run": run}).generate_state(2, np.uint64) >> np.uint64(1)
    row["gmm_nll"] = gaussian_mixture_nll(x[info["train_rows"]], held, options["gmm_components"], int(words[0]))
    if log is not None:
        log.info("%s: %d iterations in %.1f s on %s; held-out NLL %.4f (%d evaluations, %.1f s), true %.4f, GMM %.4f",
                 run, row["iterations"], row["train_seconds"], info["device"], row["held_out_nll"], row["nfe"], row["nll_seconds"], row["true_nll"], row["gmm_nll"])
    times = np.asarray(figures["trajectory_times"], dtype=np.float64)
    times = np.unique(np.concatenate([[0.0], times, [1.0]]))
    path = trajectories(field, options, int(figures["samples"]), times, int(words[1]))
    arrays = {"held_out": held, "samples": path[-1], "trajectory": path, "times": times, "names": data["names"]}
    if x.shape[1] == 2:
        began = time.perf_counter()
        axis, grid = arrays["grid_axis"], arrays["log_density"] = density_grid(field, options, float(figures["grid_extent"]), int(figures["grid_size"]))
        if log is not None:
            log.info("%s: density grid %d x %d over [%g, %g]^2 in %.1f s; its mass %.4f; %d points whose inverse path runs off (|z| > %g) drawn as zero",
                     run, len(axis), len(axis), axis[0], axis[-1], time.perf_counter() - began, float(np.exp(grid).sum()) * (axis[1] - axis[0]) ** 2,
                     int(np.isneginf(grid).sum()), grid_radius(float(figures["grid_extent"])))
    else:
        double = copy.deepcopy(field).double().eval()
        with torch.no_grad():
            arrays["held_out_log_density"] = log_density(double, torch.as_tensor(held), solver_options(options, evaluation=True))[0].numpy()
    if "cell_type" in data:
        arrays["held_out_cell_type"] = data["cell_type"][info["held_rows"]]
    return {"field": field, "history": history, "metrics": pd.DataFrame([row]), "arrays": arrays}
