"""The VAE's networks: MLP, convolutional and Burgess et al. (2018) encoders and decoders, and the model that joins them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import nn

from figureflow.generative.training import init_weights
from figureflow.generative.vae.likelihoods import bernoulli_log_likelihood, gaussian_log_likelihood, nb_log_likelihood

__all__ = ["burgess_convolutions", "VAE", "build_vae"]


def _mlp(sizes, last_activation=False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class _ConvEncoder(nn.Module):
    def __init__(self, canvas: int, hidden: int, out: int):
        super().__init__()
        self.canvas = canvas
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.SiLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.SiLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.SiLU(),
            nn.Flatten(), nn.Linear(64 * (canvas // 8) ** 2, hidden), nn.SiLU(), nn.Linear(hidden, out),
        )

    def forward(self, x):
        return self.net(x.reshape(-1, 1, self.canvas, self.canvas))


class _ConvDecoder(nn.Module):
    def __init__(self, canvas: int, hidden: int, latent: int):
        super().__init__()
        self.canvas = canvas
        self.net = nn.Sequential(
            nn.Linear(latent, hidden), nn.SiLU(), nn.Linear(hidden, 64 * (canvas // 8) ** 2), nn.SiLU(),
            nn.Unflatten(-1, (64, canvas // 8, canvas // 8)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.SiLU(), nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.SiLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
        )

    def forward(self, z):
        out = self.net(z.reshape(-1, z.shape[-1]))
        return out.reshape(*z.shape[:-1], self.canvas * self.canvas)


def burgess_convolutions(canvas: int) -> int:
    """Stride-2 convolutions of the Burgess pair on a ``canvas``-pixel square: down to 4 x 4 (4 at
    64 x 64, as published; 3 at 32 x 32)."""
    n = int(round(math.log2(canvas / 4)))
    if canvas < 16 or 4 * 2**n != canvas:
        raise ValueError(f"the Burgess pair needs a canvas of 16, 32, 64, ... pixels, found {canvas}")
    return n


class _BurgessEncoder(nn.Module):
    """Burgess et al. (2018, appendix A.1): 4 x 4 convolutions of 32 channels, stride 2, down to
    4 x 4 pixels, then two dense layers of 256 units (ReLU throughout)."""

    def __init__(self, canvas: int, out: int):
        super().__init__()
        self.canvas = canvas
        layers: list[nn.Module] = []
        for i in range(burgess_convolutions(canvas)):
            layers += [nn.Conv2d(1 if i == 0 else 32, 32, 4, 2, 1), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(32 * 4 * 4, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, out))

    def forward(self, x):
        return self.net(x.reshape(-1, 1, self.canvas, self.canvas))


class _BurgessDecoder(nn.Module):
    """The encoder's transpose: dense 256, 256 and 32 x 4 x 4, then transposed convolutions up to the canvas."""

    def __init__(self, canvas: int, latent: int):
        super().__init__()
        self.canvas = canvas
        n = burgess_convolutions(canvas)
        layers: list[nn.Module] = [nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 32 * 4 * 4), nn.ReLU(),
                                   nn.Unflatten(-1, (32, 4, 4))]
        for i in range(n):
            layers.append(nn.ConvTranspose2d(32, 1 if i == n - 1 else 32, 4, 2, 1))
            if i < n - 1:
                layers.append(nn.ReLU())
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        out = self.net(z.reshape(-1, z.shape[-1]))
        return out.reshape(*z.shape[:-1], self.canvas * self.canvas)


class VAE(nn.Module):
    """Encoder, decoder and likelihood parameters; see the module docstring.

    ``forward``-free: :meth:`encode` gives ``(mu, logvar)``, :meth:`decode` the decoder's output
    (means, softmax logits or Bernoulli logits) for latent points ``z (..., latent_dim)``.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden, likelihood: str, architecture: str = "mlp", library: float = 1.0):
        super().__init__()
        self.config = {"data_dim": int(data_dim), "latent_dim": int(latent_dim), "hidden": [int(h) for h in hidden],
                       "likelihood": likelihood, "architecture": architecture, "library": float(library)}
        if architecture == "conv":
            canvas = int(round(math.sqrt(data_dim)))
            self.encoder = _ConvEncoder(canvas, self.config["hidden"][0], 2 * latent_dim)
            self.decoder = _ConvDecoder(canvas, self.config["hidden"][0], latent_dim)
        elif architecture == "burgess":
            canvas = int(round(math.sqrt(data_dim)))
            self.encoder = _BurgessEncoder(canvas, 2 * latent_dim)
            self.decoder = _BurgessDecoder(canvas, latent_dim)
        else:
            self.encoder = _mlp([data_dim, *hidden, 2 * latent_dim])
            self.decoder = _mlp([latent_dim, *reversed(list(hidden)), data_dim])
        # per-feature log scale (gaussian) or log inverse dispersion (nb)
        self.feature_parameter = nn.Parameter(torch.zeros(data_dim)) if likelihood in ("gaussian", "nb") else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.log1p(x) if self.config["likelihood"] == "nb" else x)
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def log_likelihood(self, x: torch.Tensor, out: torch.Tensor, library: torch.Tensor | None) -> torch.Tensor:
        kind = self.config["likelihood"]
        if kind == "gaussian":
            return gaussian_log_likelihood(x, out, self.feature_parameter)
        if kind == "nb":
            mean = library[:, None] * torch.softmax(out, dim=-1)
            return nb_log_likelihood(x, mean, torch.exp(self.feature_parameter))
        return bernoulli_log_likelihood(x, out)

    def mean(self, out: torch.Tensor, library: float | torch.Tensor | None = None) -> torch.Tensor:
        """The likelihood's mean given decoder output: ``out``, ``library * softmax(out)`` or ``sigmoid(out)``."""
        kind = self.config["likelihood"]
        if kind == "nb":
            return (self.config["library"] if library is None else library) * torch.softmax(out, dim=-1)
        if kind == "bernoulli":
            return torch.sigmoid(out)
        return out


def build_vae(data_dim: int, options: Mapping, weight_seed: int, library: float = 1.0) -> VAE:
    """A :class:`VAE` for ``options`` (a run's settings) with weights drawn from ``weight_seed``."""
    model = VAE(data_dim, options["latent_dim"], options["hidden"], options["likelihood"], options["architecture"], library)
    return init_weights(model, torch.Generator().manual_seed(int(weight_seed)))
