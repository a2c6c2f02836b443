"""The CNF's vector field: an MLP ``f(z, t)`` with time fed to every layer, and its forward-mode tangents.

:meth:`VectorField.jvp` carries tangent vectors through the MLP with the field itself, so the
exact trace (``D`` tangents) or Hutchinson's estimate (one) comes from one forward pass;
``benchmarks/cnf_jvp.py`` races it against ``torch.func.jvp`` (1.4 to 2 times faster).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from figureflow.generative.training import init_weights

__all__ = ["VectorField", "build_field"]


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
