"""The VAE's probability pieces: the likelihoods of its decoders, the KL to the prior, the total correlation and the capacity schedule.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "LOG_2PI",
    "kl_standard_normal",
    "gaussian_log_likelihood",
    "nb_log_likelihood",
    "bernoulli_log_likelihood",
    "total_correlation",
    "capacity",
]



LOG_2PI = math.log(2 * math.pi)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` per row: ``1/2 sum_j (mu^2 + e^logvar - 1 - logvar)``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """``sum_i log N(x_i; mean_i, exp(log_scale_i)^2)`` per row."""
    return (-0.5 * LOG_2PI - log_scale - 0.5 * ((x - mean) * torch.exp(-log_scale)).pow(2)).sum(dim=-1)


def nb_log_likelihood(x: torch.Tensor, mean: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``sum_i log NB(x_i; mean_i, theta_i)`` per row, the negative binomial with mean ``mean`` and
    variance ``mean + mean^2 / theta`` (``scipy.stats.nbinom(n=theta, p=theta / (theta + mean))``)."""
    log_total = torch.log(theta + mean + eps)
    return (
        torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1.0)
        + theta * (torch.log(theta + eps) - log_total) + x * (torch.log(mean + eps) - log_total)
    ).sum(dim=-1)


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``sum_i x_i log p_i + (1 - x_i) log(1 - p_i)`` per row, ``p = sigmoid(logits)``."""
    return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n_data: int) -> torch.Tensor:
    """Minibatch-weighted-sampling estimate of ``TC = E_q(z) [log q(z) - sum_j log q(z_j)]``.

    With a minibatch of ``M`` rows from ``N = n_data``, ``log q(z_i) ~ logsumexp_k log q(z_i |
    x_k) - log(N M)`` and likewise per dimension (Chen et al. 2018, eq. S4); the mean over the
    minibatch of the difference.
    """
    M = z.shape[0]
    pair = _log_normal(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # (M, M, d): z_i under q(.|x_k)
    log_norm = math.log(n_data * M)
    joint = torch.logsumexp(pair.sum(dim=2), dim=1) - log_norm
    marginals = (torch.logsumexp(pair, dim=1) - log_norm).sum(dim=1)
    return (joint - marginals).mean()


def capacity(step: int, C_max: float, C_steps: int) -> float:
    """The capacity target after ``step`` minibatches: ``C_max * min(1, step / C_steps)`` nats."""
    return float(C_max) * min(1.0, step / max(1, int(C_steps)))
