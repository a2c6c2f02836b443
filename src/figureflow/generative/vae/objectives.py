"""The VAE's objectives (vae, beta, capacity, tc) on a minibatch, and the held-out terms every objective is scored by.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from figureflow.generative.settings import OBJECTIVES
from figureflow.generative.training import normal_noise
from figureflow.generative.vae.likelihoods import capacity, kl_standard_normal, total_correlation
from figureflow.generative.vae.models import VAE

__all__ = ["objective_terms", "EVALUATION_ROWS", "held_out_terms"]


def objective_terms(model: VAE, x: torch.Tensor, library: torch.Tensor | None, options: Mapping, state: Mapping, train: bool = True) -> dict:
    """The minibatch mean of the objective and its parts: ``loss``, ``reconstruction``, ``kl``,
    and ``C`` (capacity) or ``tc`` (total correlation) for those objectives.

    With ``train=False`` (held-out rows), ``loss`` is the negative ELBO ``R + KL`` whatever the
    objective, and ``objective`` the value of the objective being optimized at ``state`` (the
    same posterior draw), both without gradient."""
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * normal_noise(mu.shape, state["generator"], mu)
    reconstruction = -model.log_likelihood(x, model.decode(z), library)
    kl = kl_standard_normal(mu, logvar)
    terms = {"reconstruction": reconstruction.mean(), "kl": kl.mean()}
    warmup = int(options.get("warmup_epochs", 0))
    w = min(1.0, (state["epoch"] + 1) / warmup) if warmup > 0 else 1.0
    objective = options["objective"]
    if objective == "vae":
        loss = terms["reconstruction"] + w * terms["kl"]
    elif objective == "beta":
        loss = terms["reconstruction"] + w * float(options["beta"]) * terms["kl"]
    elif objective == "capacity":
        C = capacity(state["step"], options["C_max"], options["C_steps"])
        loss = terms["reconstruction"] + float(options["gamma"]) * (terms["kl"] - C).abs()
        terms["C"] = torch.tensor(C)
    elif objective == "tc":
        tc = total_correlation(z, mu, logvar, state["n_train"])
        loss = terms["reconstruction"] + w * terms["kl"] + (float(options["beta"]) - 1.0) * tc
        terms["tc"] = tc
    else:
        raise ValueError(f"objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    if not train:
        terms["objective"] = loss.detach()
        terms["loss"] = terms["reconstruction"] + terms["kl"]
        return {k: v.detach() for k, v in terms.items()}
    terms["loss"] = loss
    return {k: (v if k == "loss" else v.detach()) for k, v in terms.items()}


#: held-out rows evaluated at once (a conv net's activations on 10^5 images would not fit)
EVALUATION_ROWS = 1024


def held_out_terms(model: VAE, x: torch.Tensor, library: torch.Tensor, options: Mapping, state: Mapping) -> dict:
    """:func:`objective_terms` (``train=False``) over held-out rows in chunks of
    :data:`EVALUATION_ROWS`, averaged over rows (the total correlation is estimated within each chunk)."""
    sums: dict[str, float] = {}
    for i in range(0, x.shape[0], EVALUATION_ROWS):
        part = objective_terms(model, x[i : i + EVALUATION_ROWS], library[i : i + EVALUATION_ROWS], options, state, train=False)
        for k, v in part.items():
            sums[k] = sums.get(k, 0.0) + float(v) * min(EVALUATION_ROWS, x.shape[0] - i)
    return {k: torch.tensor(v / x.shape[0]) for k, v in sums.items()}
