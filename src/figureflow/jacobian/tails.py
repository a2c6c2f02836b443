"""How heavy the tail of ``D`` is: the Pareto k-hat diagnostic, from tail values kept in one pass.

A mean's standard error and normal interval assume a finite variance. For a map whose volume
element ``D`` has a power-law tail, ``P(D > t) ~ t^(-1/k)``, the variance is infinite for
``k >= 1/2`` and the mean itself for ``k >= 1``: an estimate's interval is then meaningless, and
for ``k >= 1`` so is the estimate. The shape ``k`` is estimated as in Pareto smoothed importance
sampling (Vehtari, Simpson, Gelman, Yao and Gabry, JMLR 25(72), 2024), which arviz and Stan
report:

* the ``M = ceil(min(n / 5, 3 sqrt(n)))`` largest of ``n`` values are kept;
* a generalized Pareto distribution is fitted to their exceedances over the next largest value by
  the empirical Bayes estimator of Zhang and Stephens (Technometrics 51(3), 2009), whose
  posterior mean of ``k`` is then pulled towards 0.5 by a weak prior worth 10 observations,
  ``k-hat = (M k + 10 * 0.5) / (M + 10)``, as PSIS does.

:class:`TailKeeper` keeps those values over blocks of samples (memory ``2 M`` values whatever
``n``); the kept set is the same for any block order or thread count, so k-hat is deterministic
for a seed. For an interval on a map whose D is constant (no tail at all), k-hat is ``-inf``.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "tail_size",
    "TailKeeper",
    "gpd_fit",
    "pareto_khat",
    "tail_status",
    "STATUS_OK",
    "STATUS_INFINITE_VARIANCE",
    "STATUS_INFINITE_MEAN",
]

STATUS_OK = "ok"
STATUS_INFINITE_VARIANCE = "infinite_variance"
STATUS_INFINITE_MEAN = "infinite_mean"

#: the weak prior on k of PSIS: this many pseudo-observations at k = 0.5
PRIOR_WEIGHT = 10
PRIOR_K = 0.5


def tail_size(n: int) -> int:
    """``M``, the number of largest values a k-hat of ``n`` samples is fitted to: ``ceil(min(n/5, 3 sqrt(n)))``."""
    return int(math.ceil(min(0.2 * n, 3.0 * math.sqrt(n))))


class TailKeeper:
    """The ``m`` largest values seen so far, and with ``lower`` also the ``m`` smallest (both tails
    of ``log D``); plus one more each, the threshold of the fit. Memory: ``4 (m + 1)`` floats."""

    def __init__(self, m: int, lower: bool = False):
        self.keep = int(m) + 1
        self.upper = np.empty(0)
        self.lower = np.empty(0) if lower else None

    def _largest(self, kept: np.ndarray, values: np.ndarray) -> np.ndarray:
        if values.size > self.keep:
            values = np.partition(values, values.size - self.keep)[values.size - self.keep :]
        both = np.concatenate([kept, values])
        if both.size > self.keep:
            both = np.partition(both, both.size - self.keep)[both.size - self.keep :]
        return both

    def add(self, values: np.ndarray) -> None:
        values = np.asarray(values, dtype=np.float64).ravel()
        self.upper = self._largest(self.upper, values)
        if self.lower is not None:
            self.lower = self._largest(self.lower, -values)

    def khat(self) -> float:
        """The largest k-hat of the kept tails (:func:`pareto_khat`)."""
        k = pareto_khat(self.upper)
        if self.lower is not None:
            k = max(k, pareto_khat(self.lower))
        return k


def gpd_fit(exceedances: np.ndarray) -> tuple[float, float]:
    """``(k, sigma)`` of a generalized Pareto distribution fitted to positive exceedances by
    Zhang and Stephens' (2009) empirical Bayes estimator, without the prior of :func:`pareto_khat`.

    With ``k > 0`` for a heavy tail (``P(X > x) = (1 + k x / sigma)^(-1/k)``) and ``b = -k / sigma``:
    for each ``b`` of ``30 + floor(sqrt(M))`` points spread by the sample's largest value and first
    quartile, the profile estimate is ``k(b) = mean(log(1 - b x))`` and the profile log-likelihood
    ``M (log(-b / k(b)) - k(b) - 1)``; ``b`` is the likelihood-weighted mean of the points, and
    ``k = mean(log(1 - b x))``, ``sigma = -k / b``.
    """
    x = np.sort(np.asarray(exceedances, dtype=np.float64))
    n = x.size
    grid = 30 + int(math.floor(math.sqrt(n)))
    quartile = x[int(math.floor(n / 4.0 + 0.5)) - 1]
    b = 1.0 - np.sqrt(grid / (np.arange(1, grid + 1) - 0.5))
    b = b / (3.0 * quartile) + 1.0 / x[-1]
    k = np.log1p(-b[:, None] * x[None, :]).mean(axis=1)
    log_lik = n * (np.log(-b / k) - k - 1.0)
    with np.errstate(over="ignore"):  # a point far below the best gets weight 1 / inf = 0
        weights = 1.0 / np.exp(log_lik[None, :] - log_lik[:, None]).sum(axis=1)
    weights /= weights.sum()
    b_post = float(np.sum(b * weights))
    k_post = float(np.log1p(-b_post * x).mean())
    return k_post, -k_post / b_post


def pareto_khat(largest: np.ndarray) -> float:
    """k-hat of the ``M + 1`` largest values of a sample (any order): a generalized Pareto
    distribution fitted (:func:`gpd_fit`) to the ``M`` largest values' exceedances over the
    smallest of them, then ``(M k + 10 * 0.5) / (M + 10)``. ``-inf`` when the values do not spread
    beyond rounding (no tail: a constant ``D``), NaN for fewer than 6 values."""
    values = np.sort(np.asarray(largest, dtype=np.float64))
    if values.size < 6:
        return float("nan")
    exceedances = values[1:] - values[0]
    if not np.isfinite(exceedances).all():
        return float("inf")
    spread = 1e-12 * max(abs(values[-1]), abs(values[0]))  # a constant D, up to rounding, has no tail
    if exceedances[-1] <= spread or exceedances[int(math.floor(exceedances.size / 4.0 + 0.5)) - 1] <= 0.0:
        return float("-inf")
    k, _ = gpd_fit(exceedances)
    m = exceedances.size
    return (m * k + PRIOR_WEIGHT * PRIOR_K) / (m + PRIOR_WEIGHT)


def tail_status(k: float) -> str:
    """``ok`` for k-hat below 0.5 (or no tail), ``infinite_variance`` from 0.5, ``infinite_mean`` from 1."""
    if np.isnan(k) or k < 0.5:
        return STATUS_OK
    return STATUS_INFINITE_VARIANCE if k < 1.0 else STATUS_INFINITE_MEAN
