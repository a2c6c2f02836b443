"""Disentanglement of a latent representation against known generative factors, and baselines.

* :func:`mig`, the mutual information gap (Chen et al. 2018): for each factor ``v_k``, the gap
  between the two latent dimensions most informative about it, as a fraction of its entropy,
  averaged over factors: ``MIG = 1/K sum_k (I(z_(1); v_k) - I(z_(2); v_k)) / H(v_k)``. Latent
  dimensions are discretized into ``n_bins`` equal-width bins (as in disentanglement_lib);
  factors with more than ``n_bins`` distinct values are binned the same way.
* :func:`mig_dlib`, the same gap as disentanglement_lib computes it: 10,000 rows, factors as
  their classes, never binned. Tables name the two ``mig_dlib`` and ``mig_binned``.
* :func:`sap`, the separated attribute predictability (Kumar et al. 2018): the same gap over a
  score matrix ``S[j, k]``, here how much of latent ``z_j``'s variance factor ``v_k`` explains:
  the squared correlation for a continuous factor, the correlation ratio eta^2 (between-group
  over total sum of squares) for a categorical one. Both lie in ``[0, 1]``.
* :func:`baseline_latents`: PCA and FastICA (scikit-learn) latents of the same data, scored by the
  same metrics as the trained models.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import mutual_info_score

__all__ = [
    "discretize",
    "mutual_information_matrix",
    "mig",
    "mig_dlib",
    "score_matrix",
    "sap",
    "disentanglement_scores",
    "SCORES",
    "baseline_latents",
    "baseline_scores",
    "summarize_scores",
    "BASELINES",
]

BASELINES = ("pca", "fastica")


def discretize(values: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Codes ``0..n_bins-1`` of equal-width bins over ``[min, max]`` of a 1-D array (constant: all 0)."""
    values = np.asarray(values, dtype=np.float64)
    edges = np.histogram_bin_edges(values, bins=n_bins)
    return np.clip(np.digitize(values, edges[1:-1]), 0, n_bins - 1)


def _factor_codes(factor: np.ndarray, n_bins: int) -> np.ndarray:
    levels, codes = np.unique(factor, return_inverse=True)
    return codes if len(levels) <= n_bins else discretize(factor, n_bins)


def _check(latents, factors):
    latents, factors = np.asarray(latents, dtype=np.float64), np.asarray(factors, dtype=np.float64)
    if latents.ndim != 2 or factors.ndim != 2 or latents.shape[0] != factors.shape[0]:
        raise ValueError(f"latents (n, d) and factors (n, K) must have the same rows, found {latents.shape} and {factors.shape}")
    if latents.shape[1] < 2:
        raise ValueError("the gap between the two best latent dimensions needs at least 2 of them")
    return latents, factors


def mutual_information_matrix(latents, factors, n_bins: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """``I[j, k]`` between discretized latent ``j`` and factor ``k`` (nats), and each factor's entropy ``H[k]``."""
    latents, factors = _check(latents, factors)
    z = [discretize(latents[:, j], n_bins) for j in range(latents.shape[1])]
    v = [_factor_codes(factors[:, k], n_bins) for k in range(factors.shape[1])]
    info = np.array([[mutual_info_score(vk, zj) for vk in v] for zj in z])
    entropy = np.array([mutual_info_score(vk, vk) for vk in v])
    return info, entropy


def _gap(scores: np.ndarray, norm: np.ndarray) -> float:
    top = -np.sort(-scores, axis=0)
    keep = norm > 0  # a constant factor has nothing to disentangle
    return float(np.mean((top[0, keep] - top[1, keep]) / norm[keep]))


def mig(latents, factors, n_bins: int = 20) -> float:
    """The mutual information gap of ``latents (n, d)`` against ``factors (n, K)``, in ``[0, 1]``.

    1 when each factor is read off one latent dimension and no other dimension knows it; 0 when
    the two best dimensions know a factor equally.

    Raises
    ------
    ValueError
        For mismatched rows or fewer than two latent dimensions.
    """
    info, entropy = mutual_information_matrix(latents, factors, n_bins)
    return _gap(info, entropy)


def mig_dlib(latents, factor_classes, rng: np.random.Generator, n_points: int = 10_000, n_bins: int = 20) -> float:
    """MIG as disentanglement_lib computes it (Locatello et al. 2019): on ``n_points`` rows drawn
    without replacement (all rows if fewer), each latent dimension in ``n_bins`` equal-width bins
    over its range, each factor as its integer classes (never binned: dSprites' 40 orientations and
    32 positions each count), the gap normalized by each factor's entropy and averaged over all
    factors. Differs from :func:`mig` (every row, factors of more than ``n_bins`` values binned),
    which is kept beside it: the two are not comparable with each other.

    ``factor_classes (n, K)`` are integer codes (dSprites' ``latents_classes`` without colour).
    """
    latents, classes = _check(latents, factor_classes)
    if len(latents) > n_points:
        rows = np.sort(rng.choice(len(latents), size=n_points, replace=False))
        latents, classes = latents[rows], classes[rows]
    z = [discretize(latents[:, j], n_bins) for j in range(latents.shape[1])]
    v = [np.unique(classes[:, k], return_inverse=True)[1] for k in range(classes.shape[1])]
    info = np.array([[mutual_info_score(vk, zj) for vk in v] for zj in z])
    entropy = np.array([mutual_info_score(vk, vk) for vk in v])
    return _gap(info, entropy)


def score_matrix(latents, factors, categorical=None) -> np.ndarray:
    """``S[j, k]``: fraction of latent ``j``'s variance explained by factor ``k`` (see the module)."""
    latents, factors = _check(latents, factors)
    categorical = np.zeros(factors.shape[1], bool) if categorical is None else np.asarray(categorical, bool)
    z = latents - latents.mean(axis=0)
    total = (z**2).sum(axis=0)
    total = np.where(total > 0, total, np.inf)
    S = np.zeros((latents.shape[1], factors.shape[1]))
    for k in range(factors.shape[1]):
        if categorical[k]:
            _, codes = np.unique(factors[:, k], return_inverse=True)
            counts = np.bincount(codes)
            means = np.stack([np.bincount(codes, weights=z[:, j]) / counts for j in range(z.shape[1])], axis=1)
            S[:, k] = (counts[:, None] * means**2).sum(axis=0) / total
        else:
            v = factors[:, k] - factors[:, k].mean()
            vv = (v**2).sum()
            S[:, k] = 0.0 if vv == 0 else (z.T @ v) ** 2 / (total * vv)
    return S


def sap(latents, factors, categorical=None) -> float:
    """The separated attribute predictability: mean over factors of the gap between the two largest
    ``S[j, k]`` of :func:`score_matrix`, in ``[0, 1]``."""
    S = score_matrix(latents, factors, categorical)
    return _gap(S, np.ones(S.shape[1]))


def baseline_latents(X: np.ndarray, method: str, n_components: int, seed: int = 0) -> np.ndarray:
    """``(n, n_components)`` latents of ``X (n, p)`` by ``pca`` or ``fastica`` (``random_state=seed``).

    PCA is exact (the eigenvectors of the covariance, or a full SVD when there are fewer rows than
    columns): scikit-learn's default picks a randomized SVD without a seed for images of more than
    1,000 pixels, which gave a different baseline on every run."""
    from sklearn.decomposition import PCA, FastICA

    if method == "pca":
        solver = "covariance_eigh" if X.shape[0] >= X.shape[1] else "full"
        return PCA(n_components=n_components, svd_solver=solver).fit_transform(X)
    if method == "fastica":
        return FastICA(n_components=n_components, whiten="unit-variance", max_iter=1000, tol=1e-3, random_state=seed).fit_transform(X)
    raise ValueError(f"baseline {method!r}: expected one of {', '.join(BASELINES)}")


def disentanglement_scores(z, data, rng: np.random.Generator) -> dict:
    """``mig_dlib`` (when ``data`` has ``factor_classes``; else NaN), ``mig_binned`` and ``sap`` of
    latents ``z (n, d)`` against ``data["factors"]`` (a simulation's arrays)."""
    classes = data.get("factor_classes")
    return {
        "mig_dlib": mig_dlib(z, classes, rng) if classes is not None else float("nan"),
        "mig_binned": mig(z, data["factors"]),
        "sap": sap(z, data["factors"], data.get("categorical")),
    }


SCORES = ("mig_dlib", "mig_binned", "sap")


def baseline_scores(data, methods, replicates: int, seeds, counts: bool = False, n_components: int = 2):
    """The disentanglement scores (:func:`disentanglement_scores`) of each baseline's latents: a
    row per (``method``, ``replicate``).

    ``data`` is a simulation's arrays (``x (n, p)``, ``factors``, ``categorical``, and
    ``factor_classes`` where known); ``x`` is scored as ``log1p(x)`` when ``counts``. FastICA runs
    ``replicates`` times with ``random_state=seeds[r]``, PCA (deterministic) once; ``mig_dlib``'s
    rows are drawn from ``seeds[r]``. Columns ``method``, ``replicate``, ``mig_dlib``,
    ``mig_binned``, ``sap``, ``note``: a baseline that fails (FastICA's unmixing can end in a
    source of zero variance on small sparse data) gets NaN scores and the reason, not a crash.
    """
    import pandas as pd

    import warnings

    x = np.log1p(data["x"]) if counts else np.asarray(data["x"], dtype=np.float32)
    rows = []
    for method in methods:
        for r in range(replicates if method == "fastica" else 1):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # a failed unmixing is reported in the table instead
                    z = baseline_latents(x, method, n_components, int(seeds[r]))
                failed = None if np.isfinite(z).all() else "non-finite latents"
            except (ValueError, np.linalg.LinAlgError) as error:
                failed = str(error)
            if failed:  # e.g. FastICA on a few hundred sparse binary images: a source of zero variance
                rows.append({"method": method, "replicate": r, **dict.fromkeys(SCORES, np.nan), "note": f"{method} failed: {failed}"})
                continue
            rows.append({"method": method, "replicate": r, **disentanglement_scores(z, data, np.random.default_rng(int(seeds[r]))), "note": ""})
    return pd.DataFrame(rows, columns=["method", "replicate", *SCORES, "note"])


def summarize_scores(scores):
    """Mean and sample standard deviation of ``mig`` and ``sap`` per (``data``, ``method``), in
    the order methods first appear: columns ``data``, ``method``, ``replicates``, and for each of
    :data:`SCORES` its ``_mean``, ``_sd``, ``_min`` and ``_max``, then ``active_units_mean`` and
    ``held_out_elbo_mean`` (NaN for baselines)."""
    import pandas as pd

    rows = []
    for (data, method), group in scores.groupby(["data", "method"], sort=False):
        row = {"data": data, "method": method, "replicates": len(group)}
        for metric in (*SCORES, "active_units", "held_out_elbo"):
            values = group[metric].to_numpy(dtype=float) if metric in group else np.full(len(group), np.nan)
            row[f"{metric}_mean"] = float(np.mean(values))
            if metric in SCORES:
                row[f"{metric}_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else np.nan
                row[f"{metric}_min"], row[f"{metric}_max"] = float(np.min(values)), float(np.max(values))
        rows.append(row)
    return pd.DataFrame(rows)
