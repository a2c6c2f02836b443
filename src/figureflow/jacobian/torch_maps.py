"""Jacobian measure of torch maps (e.g. a trained decoder) through ``torch.func``.

``torch_jacobians`` evaluates ``jacfwd`` of the map under ``vmap`` over a batch of latent points;
``reference_jacobians`` is the per-sample ``torch.autograd.functional.jacobian`` it is checked
against. ``random_mlp`` builds a seeded MLP decoder (weights from a ``torch.Generator`` seeded by
figureflow's seeding, never the global torch seed).
"""

from __future__ import annotations

import importlib

import numpy as np

from figureflow.io import InputError
from figureflow.jacobian.maps import LatentMap, _check_parameters, _number, _point, check_points

__all__ = [
    "BLOCK_BYTES",
    "block_rows",
    "torch_jacobians",
    "reference_jacobians",
    "torch_volume_elements",
    "random_mlp",
    "torch_map",
    "mlp_shape",
    "mlp_map",
    "load_torch_map",
    "check_torch_map",
]


def torch_jacobians(fn, Z, chunk: int = 65536):
    """``J(z)`` of a torch function ``fn: (d,) -> (D,)`` for each row of ``Z`` (tensor ``(n, d)``): ``(n, D, d)``."""
    import torch
    from torch.func import jacfwd, vmap

    batched = vmap(jacfwd(fn))
    with torch.no_grad():
        return torch.cat([batched(Z[i : i + chunk]) for i in range(0, Z.shape[0], chunk)])


def reference_jacobians(fn, Z):
    """The same with ``torch.autograd.functional.jacobian``, one sample at a time (the reference)."""
    import torch

    return torch.stack([torch.autograd.functional.jacobian(fn, z) for z in Z])


#: bytes of Jacobians (and their QR work) that one block of a torch map's samples may hold
BLOCK_BYTES = 64 * 2**20


def block_rows(d: int, D: int) -> int:
    """Samples per block of :func:`torch_volume_elements` for a map ``R^d -> R^D``: the largest power
    of 2 up to 4096 whose Jacobians, ``rows x D x d`` float64 with four times that in forward-mode
    tangents and QR work, fit in :data:`BLOCK_BYTES`. A function of the map's shape only, so the
    blocks, and with them every bit of an estimate, are the same for any sample count, machine or
    memory limit."""
    rows = max(1, BLOCK_BYTES // (5 * 8 * int(d) * int(D)))
    return int(min(4096, 2 ** int(np.floor(np.log2(rows)))))


def torch_volume_elements(fn, Z) -> np.ndarray:
    """``sqrt(det(J^T J))`` per row of ``Z`` (numpy ``(n, d)``), through QR: ``prod |R_kk|``.

    Rows go through ``torch.func`` in blocks of :func:`block_rows` (the last one shorter), each its
    own call, so memory holds one block's Jacobians whatever ``n`` is (2^20 samples of a 5 -> 300
    decoder held 12.6 GB of Jacobians at once before), and a row's value depends only on its block.

    A function that ``torch.func`` cannot batch (an adaptive ODE solve) brings its own
    ``fn.volume_elements(Z)``, which is used instead (and blocks its own work).
    """
    import torch

    if hasattr(fn, "volume_elements"):
        return np.asarray(fn.volume_elements(np.asarray(Z, dtype=np.float64)))

    Z = np.ascontiguousarray(Z, dtype=np.float64)
    out = np.empty(Z.shape[0])
    if Z.shape[0] == 0:
        return out
    probe = fn(torch.as_tensor(Z[0]))
    rows = block_rows(Z.shape[1], int(probe.shape[0]))
    for start in range(0, Z.shape[0], rows):
        J = torch_jacobians(fn, torch.as_tensor(Z[start : start + rows]), chunk=rows)
        R = torch.linalg.qr(J, mode="r").R
        out[start : start + rows] = torch.diagonal(R, dim1=-2, dim2=-1).abs().prod(dim=-1).numpy()
    return out


def random_mlp(d: int, D: int, hidden: int, seed: int, dtype=None):
    """A seeded MLP decoder ``x = W2 tanh(W1 z + b1) + b2`` from ``R^d`` to ``R^D`` (a function of one point)."""
    import torch

    dtype = dtype or torch.float64
    g = torch.Generator().manual_seed(int(seed))
    W1 = torch.randn(hidden, d, generator=g, dtype=dtype) / np.sqrt(d)
    b1 = torch.randn(hidden, generator=g, dtype=dtype) * 0.1
    W2 = torch.randn(D, hidden, generator=g, dtype=dtype) / np.sqrt(hidden)
    b2 = torch.randn(D, generator=g, dtype=dtype) * 0.1

    def mlp(z):
        return W2 @ torch.tanh(W1 @ z + b1) + b2

    return mlp


def torch_map(name: str, fn, d: int, D: int) -> LatentMap:
    """Wrap a torch function as a :class:`LatentMap` whose volume elements come from ``torch.func``."""
    latent = LatentMap(name, int(d), int(D), f=None)
    latent.torch_fn = fn
    return latent


def mlp_shape(params, key: str) -> tuple[int, int, int]:
    """``(latent_dim, data_dim, hidden)`` of the built-in ``mlp`` map from its ``params`` (defaults
    2, 3 and 32), checked without building it (no torch import: the config check uses this).

    Raises
    ------
    InputError
        For an unknown or non-numeric parameter, or ``latent_dim > data_dim``, naming ``key``.
    """
    params = _check_parameters("mlp", params, key)
    d, D, hidden = (int(_number(params.get(k, v), f"{key}.{k}")) for k, v in (("latent_dim", 2), ("data_dim", 3), ("hidden", 32)))
    if not 1 <= d <= D:
        raise InputError(f"config key {key}: need 1 <= latent_dim <= data_dim, found {d} and {D}")
    return d, D, hidden


def mlp_map(name: str, params, seed: int, key: str) -> LatentMap:
    """The built-in ``mlp`` map: a :func:`random_mlp` decoder whose weights come from ``seed`` and ``name``.

    ``params`` may set ``latent_dim`` (default 2), ``data_dim`` (3) and ``hidden`` (32).

    Raises
    ------
    InputError
        For an unknown or non-numeric parameter, or ``latent_dim > data_dim``, naming ``key``.
    """
    from figureflow.seeding import generator

    d, D, hidden = mlp_shape(params, key)
    weight_seed = int(generator(seed, "jacobian_map", {"map": name}).integers(2**31 - 1))
    return torch_map(name, random_mlp(d, D, hidden, weight_seed), d, D)


def load_torch_map(path: str, d: int, D: int, name: str, key: str) -> LatentMap:
    """``package.module:factory`` whose ``factory()`` returns a torch callable ``(d,) -> (D,)``; checked on a test point.

    Raises
    ------
    InputError
        If the module does not import, the factory is missing or fails, or the output has the
        wrong shape or non-finite values.
    """
    import torch

    module_name, _, attr = path.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except Exception as exc:
        raise InputError(f"config key {key}: cannot load torch map '{path}' ({type(exc).__name__}: {exc})") from None
    try:
        fn = factory()
        x = fn(torch.linspace(0.3, 0.7, d, dtype=torch.float64))
    except Exception as exc:
        raise InputError(f"config key {key}: torch map '{path}' failed on a test point of dimension {d} ({type(exc).__name__}: {exc})") from None
    if tuple(x.shape) != (D,):
        raise InputError(f"config key {key}: torch map '{path}' returned shape {tuple(x.shape)}, expected ({D},) (data_dim)")
    if not torch.isfinite(x).all():
        raise InputError(f"config key {key}: torch map '{path}' returned NaN or infinite values at a test point")
    return torch_map(name, fn, d, D)


def check_torch_map(latent: LatentMap, key: str, seed: int) -> None:
    """A torch map's volume element is finite at every point of :func:`~figureflow.jacobian.maps.check_points`.

    Raises
    ------
    InputError
        Naming the map and the first latent point where ``D`` is not finite.
    """
    Z = check_points(latent, seed)
    values = torch_volume_elements(latent.torch_fn, Z)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise InputError(
            f"config key {key}: torch map '{latent.name}' has a non-finite volume element D at the latent point "
            f"z = {_point(Z[bad[0]])}; the map must be finite and differentiable wherever the latent density reaches"
        )
