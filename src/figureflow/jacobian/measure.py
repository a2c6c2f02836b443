"""The Jacobian measure: ``E[D(z)]`` and ``E[log D(z)]`` with ``D(z) = sqrt(det(J(z)^T J(z)))``, ``J = dx/dz``.

The volume element itself comes from :mod:`figureflow.jacobian.volume` (exact Jacobians, no
difference step), the figures' grids from :mod:`figureflow.jacobian.grids`; this module holds the
estimators, their tail diagnostics and the table (and re-exports the names callers import from it).

Samples are split into fixed chunks (4096 points for the kernels over given points, 65,536 for
plain Monte Carlo) that numba runs on the available threads; every sample's value is computed
alone and sums are taken in a fixed order, so estimates do not depend on the number of threads.
Plain Monte Carlo over a numba map draws and maps its points a block of 2^20 at a time into one
buffer, so its memory does not grow with the sample size.
"""


from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from figureflow.io import InputError, describe
from figureflow.jacobian.grids import figure_grids, latent_grid
from figureflow.jacobian.maps import LatentMap
from figureflow.jacobian.normal import SAMPLE_CHUNK, chunk_states, ndtri_array, standard_normal
from figureflow.jacobian.tails import STATUS_INFINITE_MEAN, STATUS_OK, TailKeeper, tail_size, tail_status
from figureflow.jacobian.volume import CHUNK, _kernels, _not_finite, _resolve, finite_difference_volume_elements, jacobian_memory_mb, jacobians, require_finite, volume_elements, volume_from_jacobian
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
                    log.info("%s n = %d: E[%s] %.8f +- %.2e, Pareto k-hat %.3f, %s (%.3f s)", estimator, n, "log D" if one.quantity == "log_D" else "D", one.estimate,
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
