"""The CNF's objectives: flow matching and maximum likelihood (with RNODE penalties), and Hutchinson's probes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from figureflow.generative.cnf.field import VectorField
from figureflow.generative.cnf.ode import log_density, solver_options
from figureflow.generative.training import normal_noise

__all__ = ["hutchinson_noise", "flow_matching_loss", "objective_terms"]


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
