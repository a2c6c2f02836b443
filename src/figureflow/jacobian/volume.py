"""The volume element ``D(z) = sqrt(det(J(z)^T J(z)))`` of a map at given latent points.

Jacobians come without a difference step: from the map's analytic Jacobian when it has one,
else by the complex step ``J[:, k] = Im f(z + i h e_k) / h`` with ``h = 1e-200``, which has no
subtractive cancellation and is exact to rounding for maps written with analytic operations.
``method="finite_difference"`` keeps the reference computation: a per-sample loop that builds
``J`` by forward differences and allocates its arrays per sample.

``D`` is computed stably for any ``d <= D``: the norm of the one column for ``d = 1``, the
Cauchy-Binet sum of squared 2 x 2 minors for ``d = 2``, and the product of ``|R_kk|`` of a
Householder QR for larger ``d``. The kernels of each map are compiled from the template
:mod:`figureflow.jacobian.map_kernels` and kept on disk by :mod:`figureflow.jacobian.kernel_cache`.
"""


from __future__ import annotations

import numpy as np
from numba import njit

from figureflow.io import InputError
from figureflow.jacobian.kernel_cache import map_kernels
from figureflow.jacobian.maps import LatentMap
from figureflow.threads import numba_threads

__all__ = [
    "CHUNK",
    "volume_from_jacobian",
    "jacobians",
    "volume_elements",
    "jacobian_memory_mb",
    "finite_difference_volume_elements",
    "require_finite",
]

CHUNK = 4096


@njit(inline="always")
def volume_from_jacobian(J, work, v):
    """``sqrt(det(J^T J))`` of a ``D x d`` matrix (``d <= D``); ``work`` (D x d) and ``v`` (D) are scratch."""
    D, d = J.shape
    if d == 1:
        s = 0.0
        for i in range(D):
            s += J[i, 0] * J[i, 0]
        return np.sqrt(s)
    if d == 2:
        s = 0.0  # Cauchy-Binet: det(J^T J) = sum over row pairs of the squared 2 x 2 minor
        for i in range(D):
            for j in range(i + 1, D):
                m = J[i, 0] * J[j, 1] - J[j, 0] * J[i, 1]
                s += m * m
        return np.sqrt(s)
    for i in range(D):
        for k in range(d):
            work[i, k] = J[i, k]
    prod = 1.0
    for k in range(d):  # Householder QR: |det R| = prod |R_kk|
        norm = 0.0
        for i in range(k, D):
            norm += work[i, k] * work[i, k]
        norm = np.sqrt(norm)
        if norm == 0.0:
            return 0.0
        alpha = -norm if work[k, k] >= 0 else norm
        prod *= norm
        vnorm = 0.0
        for i in range(k, D):
            v[i] = work[i, k]
        v[k] -= alpha
        for i in range(k, D):
            vnorm += v[i] * v[i]
        if vnorm == 0.0:
            continue
        for j in range(k + 1, d):
            dot = 0.0
            for i in range(k, D):
                dot += v[i] * work[i, j]
            f = 2.0 * dot / vnorm
            for i in range(k, D):
                work[i, j] -= f * v[i]
    return prod


_KERNELS: dict = {}


def _kernels(latent: LatentMap):
    """Compiled per-map kernels (per map function, for this process): for ``analytic`` (when the
    map has a Jacobian) and ``complex_step``, ``(volumes, jacobians)`` from
    :func:`map_kernels`; for ``finite_difference``, the reference loop."""
    key = (latent.f, latent.jac, latent.d, latent.D)
    if key in _KERNELS:
        return _KERNELS[key]
    f, d, D = latent.f, latent.d, latent.D

    class Lazy(dict):  # a method's module is made (and its kernels compiled) on first use
        def __missing__(self, method):
            if method == "analytic" and latent.jac is None:
                raise KeyError(method)
            module = map_kernels(latent, method)
            self[method] = (module.volumes, module.jacobians)
            return self[method]

    kernels = Lazy()

    @njit(cache=False)
    def finite_difference_volumes(Z, p, step):
        # the reference: a plain loop that allocates its arrays for every sample
        n = Z.shape[0]
        out = np.empty(n)
        for s in range(n):
            z = Z[s].copy()
            x0 = np.empty(D)
            f(z, p, x0)
            J = np.empty((D, d))
            for k in range(d):
                zk = z.copy()
                zk[k] += step
                xk = np.empty(D)
                f(zk, p, xk)
                for i in range(D):
                    J[i, k] = (xk[i] - x0[i]) / step
            G = J.T @ J
            out[s] = np.sqrt(max(np.linalg.det(G), 0.0))
        return out

    kernels["finite_difference"] = (finite_difference_volumes, None)
    _KERNELS[key] = kernels
    return kernels


def _resolve(latent: LatentMap, method: str) -> str:
    if method == "auto":
        return "analytic" if latent.jac is not None else "complex_step"
    if method == "analytic" and latent.jac is None:
        raise ValueError(f"map '{latent.name}' provides no analytic Jacobian; use method 'complex_step'")
    if method not in ("analytic", "complex_step", "finite_difference"):
        raise ValueError(f"method must be 'auto', 'analytic', 'complex_step' or 'finite_difference', got {method!r}")
    return method


def _as_latent_points(latent: LatentMap, Z) -> np.ndarray:
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    if Z.ndim != 2 or Z.shape[1] != latent.d:
        raise ValueError(f"map '{latent.name}' takes latent points of dimension {latent.d}; got an array of shape {Z.shape}")
    return Z


def jacobians(latent: LatentMap, Z, method: str = "complex_step") -> np.ndarray:
    """``J(z)`` for each row of ``Z (n, d)``: array ``(n, D, d)`` (method ``complex_step`` or ``analytic``)."""
    method = _resolve(latent, method)
    if method == "finite_difference":
        raise ValueError("jacobians() offers 'analytic' and 'complex_step'")
    return _kernels(latent)[method][1](_as_latent_points(latent, Z), latent.params)


def volume_elements(latent: LatentMap, Z, method: str = "auto", n_threads: int | None = None) -> np.ndarray:
    """``D(z) = sqrt(det(J^T J))`` for each row of ``Z (n, d)``.

    Parameters
    ----------
    method
        ``"auto"`` (analytic Jacobian if the map has one, else complex step), ``"analytic"``,
        ``"complex_step"``, or ``"finite_difference"`` (the per-sample reference loop, step 1e-7).
        Torch maps always use ``torch.func``.
    n_threads
        numba threads (default: numba's current setting); results do not depend on it.
    """
    if latent.torch_fn is not None:
        from figureflow.jacobian.torch_maps import torch_volume_elements

        return torch_volume_elements(latent.torch_fn, _as_latent_points(latent, Z))
    method = _resolve(latent, method)
    Z = _as_latent_points(latent, Z)
    kernel = _kernels(latent)[method][0]
    with numba_threads(n_threads):
        if method == "finite_difference":
            return kernel(Z, latent.params, 1e-7)
        return kernel(Z, latent.params)


def jacobian_memory_mb(n_max: int, d: int) -> int:
    """What a ``jacobian_estimates`` job asks for (SLURM's --mem), in MB: 1000 for Python, numba and
    torch, four float64 arrays of the largest sample (points, normals, values and a temporary:
    ``4 n (d + 1)`` values) and two blocks of a torch map's Jacobians
    (:data:`figureflow.jacobian.torch_maps.BLOCK_BYTES`), rounded up to 500 MB. Jacobians are never
    held for a whole sample, so this grows with ``n`` only by ``d + 1`` numbers per sample."""
    from figureflow.jacobian.torch_maps import BLOCK_BYTES

    need = 1000 + (4 * int(n_max) * (int(d) + 1) * 8 + 2 * BLOCK_BYTES) / 1e6
    return int(np.ceil(need / 500.0) * 500)


def finite_difference_volume_elements(latent: LatentMap, Z, step: float = 1e-7) -> np.ndarray:
    """The reference: forward-difference Jacobians in a per-sample loop that allocates (one thread)."""
    return _kernels(latent)["finite_difference"][0](_as_latent_points(latent, Z), latent.params, step)


def require_finite(latent: LatentMap, Z: np.ndarray, values: np.ndarray, what: str) -> np.ndarray:
    """``values`` (``D`` at the rows of ``Z``) if all finite; else an error naming the map and a point.

    An estimate over a sample with one NaN would be NaN or infinite, and written as a number.

    Raises
    ------
    InputError
        Naming the map, the first latent point where ``D`` is not finite and what was computed.
    """
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise _not_finite(latent, Z[bad[0]], values[bad[0]], bad.size, values.size, what)
    return values


def _not_finite(latent: LatentMap, z, value: float, count: int, total: int, what: str) -> InputError:
    point = ", ".join(f"{v:.6g}" for v in z)
    return InputError(
        f"map '{latent.name}': the volume element D(z) is {value} at the latent point z = [{point}] "
        f"({count} of {total} points of {what}); the map or its Jacobian is not finite there, so no "
        "estimate is written"
    )
