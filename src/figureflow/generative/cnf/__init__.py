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

The package, one module per concern (this face re-exports their public names):

* :mod:`~figureflow.generative.cnf.field`: the vector field and its forward-mode tangents;
* :mod:`~figureflow.generative.cnf.ode`: the augmented dynamics, the torchdiffeq solve and its
  evaluation budget, log-densities and samples;
* :mod:`~figureflow.generative.cnf.objectives`: flow matching, maximum likelihood, Hutchinson's probes;
* :mod:`~figureflow.generative.cnf.train`: the training loop and the held-out NLL;
* :mod:`~figureflow.generative.cnf.grids`: what the figures draw (density grid, trajectories);
* :mod:`~figureflow.generative.cnf.flow_map`: a trained flow as a Jacobian map;
* :mod:`~figureflow.generative.cnf.run`: a run end to end (data, baseline, saving and loading).
"""

from figureflow.generative.cnf.field import VectorField, build_field
from figureflow.generative.cnf.flow_map import FLOW_BLOCK, LIOUVILLE_FACTOR, FlowMap, flow_jacobians
from figureflow.generative.cnf.grids import density_grid, grid_radius, leaves_ball, trajectories
from figureflow.generative.cnf.objectives import flow_matching_loss, hutchinson_noise, objective_terms
from figureflow.generative.cnf.ode import (
    EvaluationBudgetExceeded,
    ODESolveError,
    _Dynamics,
    integrate,
    log_density,
    sample,
    solver_options,
    standard_normal_log_density,
)
from figureflow.generative.cnf.run import gaussian_mixture_nll, load_model, save_model, train_run, training_data
from figureflow.generative.cnf.train import held_out_nll, train_cnf
from figureflow.io import RunError

__all__ = [
    "ODESolveError",
    "EvaluationBudgetExceeded",
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
    "FLOW_BLOCK",
    "LIOUVILLE_FACTOR",
    "flow_jacobians",
    "save_model",
    "load_model",
    "training_data",
    "gaussian_mixture_nll",
    "train_run",
    "RunError",
    "_Dynamics",
]
