"""The Jacobian measure: ``E[D(z)]`` with ``D(z) = sqrt(det(J(z)^T J(z)))``, ``J = dx/dz``.

Jacobians come without a difference step: from the map's analytic Jacobian when it has one,
else by the complex step ``J[:, k] = Im f(z + i h e_k) / h`` with ``h = 1e-200``, which has no
subtractive cancellation and is exact to rounding for maps written with analytic operations.
``method="finite_difference"`` keeps the reference computation: a per-sample loop that builds
``J`` by forward differences and allocates its arrays per sample.

``D`` is computed stably for any ``d <= D``: the norm of the one column for ``d = 1``, the
Cauchy-Binet sum of squared 2 x 2 minors for ``d = 2``, and the product of ``|R_kk|`` of a
Householder QR for larger ``d``.

Samples are split into fixed chunks (4096 points for the kernels over given points, 65,536 for
plain Monte Carlo) that numba runs on the available threads; every sample's value is computed
alone and sums are taken in a fixed order, so estimates do not depend on the number of threads.
Plain Monte Carlo over a numba map draws and maps its points a block of 2^20 at a time into one
buffer, so its memory does not grow with the sample size.

The kernels of each map are compiled from the template :mod:`figureflow.jacobian.map_kernels`
and kept on disk by :mod:`figureflow.jacobian.kernel_cache`, so that a job loads what an earlier
job compiled in a fraction of a second instead of compiling it again; its docstring says exactly
what the cache key covers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from figureflow.io import InputError, describe
from figureflow.jacobian.kernel_cache import map_kernels
from figureflow.jacobian.maps import LatentMap
from figureflow.jacobian.normal import SAMPLE_CHUNK, chunk_states, ndtri_array, standard_normal
from figureflow.jacobian.tails import STATUS_INFINITE_MEAN, STATUS_OK, TailKeeper, tail_size, tail_status
from figureflow.seeding import spawn_generators
from figureflow.threads import numba_threads

__all__ = [
    "CHUNK",
    "jacobians",
    "volume_elements",
    "finite_difference_volume_elements",
    "jacobian_memory_mb",
    "standard_normal",
    "Estimate",
    "monte_carlo",
    "randomized_qmc",
    "volume_from_jacobian",
    "check_sample_sizes",
    "estimate_table",
    "convergence_check",
    "latent_grid",
    "figure_grids",
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


@dataclass
class Estimate:
    """One estimate of ``E[D]`` (``quantity`` ``D``) or of ``E[log D]`` (``log_D``): value,
    standard error, 95% interval, samples, wall time, the Pareto k-hat of the sample's tail
    (:mod:`figureflow.jacobian.tails`; NaN where the values do not spread) and its ``status``.

    ``status`` ``ok``: all numbers as computed. ``infinite_variance`` (k-hat from 0.5): the standard
    error and interval are NaN (written empty), since they assume a finite variance.
    ``infinite_mean`` (k-hat from 1, or ``log D`` of a sample where ``D`` is 0): the estimate is
    NaN too. ``log_d`` holds the ``E[log D]`` estimate of the same sample."""

    estimator: str
    n_samples: int
    estimate: float
    std_error: float
    ci_low: float
    ci_high: float
    seconds: float
    quantity: str = "D"
    pareto_k: float = float("nan")
    status: str = STATUS_OK
    log_d: "Estimate | None" = None

    def as_row(self, map_name: str, exact: float | None) -> dict:
        return {
            "map": map_name,
            "quantity": self.quantity,
            "estimator": self.estimator,
            "n_samples": self.n_samples,
            "estimate": self.estimate,
            "std_error": self.std_error,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "exact": exact,
            "pareto_k": self.pareto_k,
            "status": self.status,
            "seconds": round(self.seconds, 4),
        }


def _judged(estimator: str, n: int, quantity: str, mean: float, se: float, half: float, k: float, seconds: float) -> Estimate:
    """An :class:`Estimate` whose numbers the tail's k-hat allows (see :class:`Estimate`)."""
    status = tail_status(k)
    k = float(k) if np.isfinite(k) else float("nan")
    nan = float("nan")
    if status == STATUS_OK:
        return Estimate(estimator, n, mean, se, mean - half, mean + half, seconds, quantity, k, status)
    return Estimate(estimator, n, mean if status != STATUS_INFINITE_MEAN else nan, nan, nan, nan, seconds, quantity, k, status)


def _log_estimate(estimator: str, n: int, mean: float, se: float, half: float, k: float, zeros: int, seconds: float) -> Estimate:
    """The ``E[log D]`` estimate; where ``D`` is 0 at some sample point, ``log D`` is ``-inf`` there
    and so is its mean: no estimate (status ``infinite_mean``)."""
    if zeros:
        nan = float("nan")
        return Estimate(estimator, n, nan, nan, nan, nan, seconds, "log_D", nan, STATUS_INFINITE_MEAN)
    return _judged(estimator, n, "log_D", mean, se, half, k, seconds)


class _Tails:
    """The tails one sample keeps for its k-hats: ``D``'s upper tail, both tails of ``log D``, and
    how many points have ``D = 0`` (whose log is ``-inf``)."""

    def __init__(self, n: int):
        self.d = TailKeeper(tail_size(n))
        self.log = TailKeeper(tail_size(n), lower=True)
        self.zeros = 0

    def add(self, values: np.ndarray) -> np.ndarray | None:
        """Keep the block's tails; return its ``log D`` (None where some ``D`` is 0)."""
        self.d.add(values)
        zeros = int(np.count_nonzero(values == 0.0))
        self.zeros += zeros
        if zeros:
            return None
        logs = np.log(values)
        self.log.add(logs)
        return logs


def monte_carlo(
    latent: LatentMap, n: int, seed_seq: np.random.SeedSequence, method: str = "auto", n_threads: int = 1
) -> Estimate:
    """Plain Monte Carlo: ``n`` standard normal samples; standard error ``sd / sqrt(n)``, normal 95%
    interval, where the tail allows them (:class:`Estimate`); ``E[log D]`` of the same sample in
    ``.log_d``.

    The samples are :func:`standard_normal`'s for ``seed_seq``. For a numba map (``method``
    ``auto``, ``analytic`` or ``complex_step``) they are drawn and mapped in blocks of 2^20
    (:func:`_streamed_moments`): memory does not grow with ``n``, and the result does not depend
    on ``n_threads``. ``method="finite_difference"`` and torch maps hold the whole sample.
    Sampling is included in ``seconds``.
    """
    if n < 2:
        raise ValueError("Monte Carlo needs n >= 2 samples for a standard error")
    start = time.perf_counter()
    what = f"the mc sample of n = {n}"
    if latent.torch_fn is None and _resolve(latent, method) != "finite_difference":
        mean, variance, log_mean, log_variance, tails = _streamed_moments(latent, n, seed_seq, _resolve(latent, method), n_threads, what)
    else:
        Z = standard_normal(seed_seq, n, latent.d, n_threads)
        values = require_finite(latent, Z, volume_elements(latent, Z, method, n_threads), what)
        mean, variance = float(np.sum(values) / n), float(np.var(values, ddof=1))
        tails = _Tails(n)
        logs = tails.add(values)
        log_mean, log_variance = (float(np.sum(logs) / n), float(np.var(logs, ddof=1))) if logs is not None else (float("nan"),) * 2
    se = float(np.sqrt(variance) / np.sqrt(n))
    # scipy.special, not scipy.stats (the same function, without a second of imports in every job);
    # here, not at the top: the config check imports this module
    from scipy.special import ndtri

    z = float(ndtri(0.975))
    half = z * se
    log_se = float(np.sqrt(log_variance) / np.sqrt(n))
    seconds = time.perf_counter() - start
    estimate = _judged("mc", n, "D", mean, se, half, tails.d.khat(), seconds)
    estimate.log_d = _log_estimate("mc", n, log_mean, log_se, z * log_se, tails.log.khat(), tails.zeros, seconds)
    return estimate


#: plain Monte Carlo draws and maps its sample in blocks of this many chunks of SAMPLE_CHUNK
#: points (2^20 points, 16 MB for two latent dimensions), so memory does not grow with n
MC_BLOCK_CHUNKS = 16


def _streamed_moments(latent: LatentMap, n: int, seed_seq, method: str, n_threads, what: str,
                      block_chunks: int = MC_BLOCK_CHUNKS):
    """``(mean, variance, log mean, log variance, tails)`` of ``D`` and ``log D`` (variances
    ``ddof=1``) over :func:`standard_normal`'s ``n`` points for ``seed_seq``, drawn and mapped a
    block of ``block_chunks`` chunks at a time into one buffer; ``tails`` (:class:`_Tails`) keeps
    each block's largest values for the k-hats, so memory is bounded by the block and the tails.

    A sample of one block (``n`` up to 2^20 by default) gives the same bits as holding it: the
    mean is ``np.sum(values) / n`` and the variance ``np.var(values, ddof=1)``. Longer samples sum
    the blocks' sums exactly (``math.fsum``) and combine their variances in block order (Chan et
    al.'s update), the same for any thread count. ``log D``'s moments are NaN where some ``D`` is 0.
    """
    import math

    from figureflow.jacobian.normal import ZIG_F, ZIG_X, _fill_normals

    n_chunks = max(1, -(-n // SAMPLE_CHUNK))
    states = chunk_states(seed_seq, n_chunks)
    block = block_chunks * SAMPLE_CHUNK
    Z = np.empty((min(n, block), latent.d))
    kernel = _kernels(latent)[method][0]
    plain, logged = _Moments(), _Moments()
    tails = _Tails(n)
    first_bad, n_bad = None, 0
    with numba_threads(n_threads):
        for b in range(0, n_chunks, block_chunks):
            rows = min(n, (b + block_chunks) * SAMPLE_CHUNK) - b * SAMPLE_CHUNK
            points = Z[:rows]
            _fill_normals(states[b : b + block_chunks], points, SAMPLE_CHUNK, ZIG_X, ZIG_F)
            values = kernel(points, latent.params)
            bad = np.flatnonzero(~np.isfinite(values))
            if bad.size:
                first_bad = first_bad or (points[bad[0]].copy(), values[bad[0]])
                n_bad += bad.size
                continue
            if n_bad:
                continue
            plain.add(values)
            logs = tails.add(values)
            if logs is not None:
                logged.add(logs)
    if n_bad:
        raise _not_finite(latent, first_bad[0], first_bad[1], n_bad, n, what)
    mean, variance = plain.result(n)
    log_mean, log_variance = logged.result(n) if not tails.zeros else (float("nan"), float("nan"))
    return mean, variance, log_mean, log_variance, tails


class _Moments:
    """Sum and variance over blocks: one block's ``np.sum / n`` and ``np.var(ddof=1)`` exactly;
    more blocks' sums by ``math.fsum`` and variances by Chan et al.'s update, in block order."""

    def __init__(self):
        self.sums, self.count, self.mean, self.m2, self.last_variance = [], 0, 0.0, 0.0, float("nan")

    def add(self, values: np.ndarray) -> None:
        rows = values.size
        self.sums.append(float(np.sum(values)))
        self.last_variance = float(np.var(values, ddof=1)) if rows > 1 else 0.0
        block_mean, block_m2 = self.sums[-1] / rows, self.last_variance * (rows - 1) if rows > 1 else 0.0
        total = self.count + rows
        delta = block_mean - self.mean
        self.mean += delta * rows / total
        self.m2 += block_m2 + delta * delta * self.count * rows / total
        self.count = total

    def result(self, n: int) -> tuple[float, float]:
        import math

        if len(self.sums) == 1:
            return self.sums[0] / n, self.last_variance
        return math.fsum(self.sums) / n, self.m2 / (n - 1)


def randomized_qmc(
    latent: LatentMap,
    n: int,
    seed_seq: np.random.SeedSequence,
    n_scrambles: int = 16,
    method: str = "auto",
    n_threads: int = 1,
) -> Estimate:
    """Randomized quasi-Monte Carlo: ``n_scrambles`` independent Owen-scrambled Sobol sequences
    of ``n / n_scrambles`` points each (a power of 2), mapped to the normal by its inverse CDF.

    The estimate is the mean of the scrambles' means, its standard error their standard deviation
    over ``sqrt(n_scrambles)``, the 95% interval Student-t with ``n_scrambles - 1`` degrees of
    freedom, where the tail of all ``n`` values allows them (:class:`Estimate`); ``E[log D]`` of the
    same points in ``.log_d``.

    Raises
    ------
    ValueError
        If ``n / n_scrambles`` is not a power of 2 (Sobol points balance only in powers of 2).
    """
    from scipy.stats import qmc

    m = n // n_scrambles
    if n_scrambles < 2 or m * n_scrambles != n or m < 1 or m & (m - 1):
        raise ValueError(f"randomized QMC needs n = n_scrambles x 2^k with n_scrambles >= 2; got n = {n}, n_scrambles = {n_scrambles}")
    start = time.perf_counter()
    rngs = spawn_generators(seed_seq, n_scrambles)
    means, log_means = np.empty(n_scrambles), np.full(n_scrambles, np.nan)
    tails = _Tails(n)
    for r in range(n_scrambles):
        U = qmc.Sobol(latent.d, scramble=True, seed=rngs[r]).random_base2(int(np.log2(m)))
        # scrambled Sobol points lie in [0, 1); keep them strictly inside for the quantile
        Z = ndtri_array(np.clip(U, 2.0**-60, 1.0 - 2.0**-53))
        values = require_finite(latent, Z, volume_elements(latent, Z, method, n_threads), f"rqmc scramble {r} of n = {n}")
        means[r] = np.sum(values) / m
        logs = tails.add(values)
        if logs is not None:
            log_means[r] = np.sum(logs) / m
    mean = float(means.mean())
    se = float(means.std(ddof=1) / np.sqrt(n_scrambles))
    from scipy.special import stdtrit  # what scipy.stats.t.ppf computes

    t = float(stdtrit(n_scrambles - 1, 0.975))
    half = t * se
    log_mean, log_se = float(log_means.mean()), float(log_means.std(ddof=1) / np.sqrt(n_scrambles))
    seconds = time.perf_counter() - start
    estimate = _judged("rqmc", n, "D", mean, se, half, tails.d.khat(), seconds)
    estimate.log_d = _log_estimate("rqmc", n, log_mean, log_se, t * log_se, tails.log.khat(), tails.zeros, seconds)
    return estimate


def check_sample_sizes(estimators, sample_sizes, scrambles: int, key: str = "jacobian.sample_sizes") -> None:
    """Every sample size suits the estimators: for ``rqmc``, ``scrambles x 2^k`` (a whole Sobol
    block per scramble, so that the scrambled points stay balanced).

    Raises
    ------
    InputError
        Naming ``key``, the number of scrambles and the sizes that do not fit.
    """
    if "rqmc" not in estimators:
        return
    m = int(scrambles)
    bad = [n for n in sample_sizes if n % m or (n // m) & (n // m - 1)]
    if bad:
        raise InputError(f"config key {key}: for rqmc each size must be scrambles ({m}) x a power of 2, found {describe(bad)}")


def estimate_table(
    latent: LatentMap,
    estimators,
    sample_sizes,
    seed: int,
    stream: str,
    n_scrambles: int = 16,
    n_threads: int = 1,
    log=None,
):
    """Estimates of ``E[D]`` for every estimator and sample size, as a table.

    Each (estimator, n) gets its own stream, ``seed_sequence(seed, stream, {map, estimator,
    n_samples})``, so one estimate does not depend on which others are computed.

    Returns
    -------
    pandas.DataFrame
        Columns ``map, quantity, estimator, n_samples, estimate, std_error, ci_low, ci_high, exact``
        (empty when unknown), ``pareto_k, status`` and ``seconds``; two rows per estimator and
        sample size, ``quantity`` ``D`` (``E[D]``) and ``log_D`` (``E[log D]``, from the same
        sample). The log gets each row's k-hat and status, a warning for a status other than
        ``ok`` and :func:`convergence_check`'s lines.
    """
    import pandas as pd

    from figureflow.seeding import seed_sequence

    # compile (or load) and import before timing, so that each row's seconds are its estimate's own
    volume_elements(latent, np.zeros((2, latent.d)), n_threads=n_threads)
    ndtri_array(np.full(2, 0.5))
    standard_normal(np.random.SeedSequence(0), 2, latent.d, n_threads)
    if "rqmc" in estimators:
        from scipy.stats import qmc  # noqa: F401
    rows = []
    for estimator in estimators:
        for n in sample_sizes:
            ss = seed_sequence(seed, stream, {"map": latent.name, "estimator": estimator, "n_samples": n})
            if estimator == "mc":
                est = monte_carlo(latent, int(n), ss, n_threads=n_threads)
            elif estimator == "rqmc":
                est = randomized_qmc(latent, int(n), ss, n_scrambles=n_scrambles, n_threads=n_threads)
            else:
                raise ValueError(f"unknown estimator {estimator!r}; use 'mc' or 'rqmc'")
            for one in (est, est.log_d):
                if log:
                    log.info("%s n = %d: E[%s] %.8f +- %.2e, Pareto k-hat %.3f, %s (%.3f s)", estimator, n, one.quantity, one.estimate,
                             one.std_error, one.pareto_k, one.status, one.seconds)
                    if one.status != STATUS_OK:
                        log.warning("map %s, %s n = %d: %s", latent.name, estimator, n, status_sentence(one.quantity, one.status, one.pareto_k))
            rows.append(est.as_row(latent.name, latent.exact_mean))
            rows.append(est.log_d.as_row(latent.name, latent.exact_log_mean))
    table = pd.DataFrame(rows)
    if log:
        for line, worrying in convergence_check(table):
            (log.warning if worrying else log.info)("map %s: %s", latent.name, line)
    return table


def status_sentence(quantity: str, status: str, pareto_k: float) -> str:
    """What a status means for a reader, in one sentence."""
    what = "E[D]" if quantity == "D" else "E[log D]"
    k = f"Pareto k-hat {pareto_k:.2f}" if np.isfinite(pareto_k) else "D = 0 at some sample points"
    if status == "infinite_variance":
        return f"{what}: {k} >= 0.5, the variance looks infinite: the estimate is reported without a standard error or interval; report E[log D]"
    if status == STATUS_INFINITE_MEAN:
        return f"{what}: {k}{' >= 1' if np.isfinite(pareto_k) else ''}, the mean looks infinite: no estimate is reported"
    return f"{what}: {k} < 0.5, the interval's assumptions hold"


def convergence_check(table) -> list[tuple[str, bool]]:
    """Across sample sizes, for each quantity and estimator with ``ok`` rows: the exponent of
    ``std_error ~ n^s`` (least squares on log-log; -0.5 for plain Monte Carlo, steeper for randomized
    QMC on smooth maps) and the largest distance between consecutive estimates in their combined
    standard errors. Returns ``(line, worrying)`` pairs, worrying when ``s > -0.35`` or a distance
    exceeds 4 (estimates that disagree with their own errors)."""
    lines = []
    for (quantity, estimator), rows in table.groupby(["quantity", "estimator"], sort=False):
        rows = rows[(rows["status"] == STATUS_OK) & (rows["std_error"] > 1e-12 * rows["estimate"].abs())].sort_values("n_samples")  # not a constant D
        if len(rows) < 2:
            continue
        n, se, e = (rows[c].to_numpy(dtype=float) for c in ("n_samples", "std_error", "estimate"))
        slope = float(np.polyfit(np.log(n), np.log(se), 1)[0])
        apart = float(np.max(np.abs(np.diff(e)) / np.sqrt(se[1:] ** 2 + se[:-1] ** 2)))
        worrying = slope > -0.35 or apart > 4.0
        lines.append((f"E[{'log D' if quantity == 'log_D' else quantity}] by {estimator}: the standard error falls as n^{slope:.2f} over n = {int(n[0]):,} to {int(n[-1]):,}; "
                      f"consecutive estimates differ by at most {apart:.1f} combined standard errors"
                      + ("; the errors do not behave as a finite variance predicts" if worrying else ""), worrying))
    return lines


def latent_grid(latent: LatentMap, size: int = 121, extent: float = 3.0, n_threads: int | None = None):
    """``D`` and ``x`` over a regular grid of the first one or two latent coordinates (others 0).

    Returns
    -------
    axis : (size,) grid coordinates in ``[-extent, extent]``
    values : ``D`` on the grid, ``(size,)`` for ``d = 1`` else ``(size, size)`` (rows: z2)
    points : ``x`` on the grid, ``(size, D)`` or ``(size, size, D)``
    """
    axis = np.linspace(-extent, extent, size)
    if latent.d == 1:
        Z = axis[:, None]
    else:
        z1, z2 = np.meshgrid(axis, axis)
        Z = np.zeros((size * size, latent.d))
        Z[:, 0], Z[:, 1] = z1.ravel(), z2.ravel()
    values = require_finite(latent, Z, volume_elements(latent, Z, n_threads=n_threads), f"the {size}-point latent grid")
    if latent.torch_fn is not None:
        import torch

        if hasattr(latent.torch_fn, "batch"):  # maps a whole batch at once (an ODE solve)
            points = latent.torch_fn.batch(Z)
        else:
            with torch.no_grad():
                points = torch.stack([latent.torch_fn(z) for z in torch.as_tensor(Z, dtype=torch.float64)]).numpy()
    else:
        points = np.empty((len(Z), latent.D))
        for s in range(len(Z)):
            latent.f(Z[s], latent.params, points[s])
    shape = (size,) if latent.d == 1 else (size, size)
    return axis, values.reshape(shape), points.reshape(shape + (latent.D,))


def figure_grids(
    latent: LatentMap,
    grid_size: int,
    extent: float,
    image_grid_size: int = 61,
    image_curve_size: int = 241,
    n_threads: int | None = None,
) -> dict[str, np.ndarray]:
    """What the Jacobian figures draw, computed once (:func:`latent_grid`), as named arrays.

    * ``latent_dim``: ``d`` (a 0-d array);
    * ``axis``, ``volume``: the ``grid_size``-point grid over ``[-extent, extent]`` and ``D`` on it;
    * for a map into 3-D data space (its image can be drawn): ``image_axis``, ``image_volume``
      and ``image_points``, a grid of ``image_grid_size`` points per axis (a surface) or, for
      ``d = 1``, of ``image_curve_size`` points (a curve), ``D`` on it and its image ``x(z)``.
    """
    axis, volume, _ = latent_grid(latent, grid_size, extent, n_threads)
    arrays = {"latent_dim": np.array(latent.d), "axis": axis, "volume": volume}
    if latent.D == 3:
        size = image_curve_size if latent.d == 1 else image_grid_size
        image_axis, image_volume, points = latent_grid(latent, size, extent, n_threads)
        arrays.update(image_axis=image_axis, image_volume=image_volume, image_points=points)
    return arrays
