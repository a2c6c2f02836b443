"""Aging magnitudes: OT distances between old and young cells of a type, against the young-young and old-old nulls.

See the package's docstring (:mod:`figureflow.aging`) for the method, the sampling and the metrics.
"""

from __future__ import annotations

import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from figureflow.io import InputError
from figureflow.seeding import seed_sequence, spawn_generators

__all__ = [
    "METRICS",
    "SAMPLINGS",
    "SINKHORN_REG",
    "SLICED_PROJECTIONS",
    "exact_ot_distance",
    "emd_distance_pot",
    "ot_distance",
    "sample_size",
    "Samples",
    "draw_samples",
    "aging_bootstraps",
    "summarize_bootstraps",
    "MAGNITUDE_COLUMNS",
    "BOOTSTRAP_COLUMNS",
    "embedding_by_age",
    "cell_type_magnitude",
    "bootstrap_options",
    "cell_type_stream",
    "dataset_magnitudes",
    "transport_plan",
    "planted_shifts",
    "gather_magnitudes",
    "gather_bootstraps",
    "strongest_cell_type",
]


METRICS = ("emd", "sinkhorn", "sliced", "energy")
SAMPLINGS = ("disjoint", "reference")
#: entropic regularization of ``sinkhorn``, as a fraction of the mean ground cost
SINKHORN_REG = 0.05
#: random directions of ``sliced``
SLICED_PROJECTIONS = 100


def _checked_pair(X: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    if X.ndim != 2 or Y.ndim != 2 or X.shape[1] != Y.shape[1]:
        raise ValueError(f"samples must be (n, d) arrays of one dimension d, found {X.shape} and {Y.shape}")
    return X, Y


def exact_ot_distance(X: np.ndarray, Y: np.ndarray) -> float:
    """``W_1`` between two samples of equal size ``n`` with uniform weights and Euclidean cost.

    ``W = min over permutations s of (1/n) sum_i |x_i - y_s(i)|``, the mean cost of an optimal
    assignment (an optimal plan of the uniform problem is a permutation matrix / n).

    Raises
    ------
    ValueError
        If the samples differ in size or dimension.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    X, Y = _checked_pair(X, Y)
    if len(X) != len(Y):
        raise ValueError(f"the exact distance needs samples of equal size, found {len(X)} and {len(Y)}")
    cost = cdist(X, Y)
    rows, cols = linear_sum_assignment(cost)
    return float(cost[rows, cols].mean())


def emd_distance_pot(X: np.ndarray, Y: np.ndarray, max_iter: int = 10**6, max_tries: int = 3) -> float:
    """The same ``W_1`` by POT's network simplex (``ot.emd2``), with uniform weights of any sizes.

    If the solver stops at ``max_iter`` before optimality, it is run again with ten times the
    limit, up to ``max_tries`` times.

    Raises
    ------
    RuntimeError
        If the solver still stops before optimality (never a silent approximate value).
    """
    import ot
    from scipy.spatial.distance import cdist

    X, Y = _checked_pair(X, Y)
    cost = cdist(X, Y)
    a, b = np.full(len(X), 1.0 / len(X)), np.full(len(Y), 1.0 / len(Y))
    for attempt in range(max_tries):
        with warnings.catch_warnings():  # the stop is read from the log and acted on here
            warnings.filterwarnings("ignore", message="numItermax reached", category=UserWarning)
            value, log = ot.emd2(a, b, cost, numItermax=max_iter * 10**attempt, log=True)
        if log["warning"] is None:
            return float(value)
    raise RuntimeError(f"POT's exact solver stopped before optimality after {max_iter * 10 ** (max_tries - 1)} iterations ({log['warning']})")


def _energy_distance(X: np.ndarray, Y: np.ndarray) -> float:
    from scipy.spatial.distance import cdist

    return float(2.0 * cdist(X, Y).mean() - cdist(X, X).mean() - cdist(Y, Y).mean())


def ot_distance(X: np.ndarray, Y: np.ndarray, metric: str = "emd", rng: np.random.Generator | None = None) -> float:
    """The distance ``metric`` (one of :data:`METRICS`) between two samples; see the module docstring.

    ``rng`` draws the projections of ``sliced`` (the other metrics are deterministic).
    """
    from scipy.spatial.distance import cdist

    X, Y = _checked_pair(X, Y)
    if metric == "emd":
        return exact_ot_distance(X, Y)
    if metric == "energy":
        return _energy_distance(X, Y)
    import ot

    if metric == "sinkhorn":
        cost = cdist(X, Y)
        a, b = np.full(len(X), 1.0 / len(X)), np.full(len(Y), 1.0 / len(Y))
        return float(ot.sinkhorn2(a, b, cost, SINKHORN_REG * cost.mean(), method="sinkhorn_stabilized", numItermax=10_000))
    if metric == "sliced":
        seed = int((rng or np.random.default_rng(0)).integers(2**31 - 1))
        return float(ot.sliced_wasserstein_distance(X, Y, n_projections=SLICED_PROJECTIONS, p=1, seed=seed))
    raise ValueError(f"unknown metric {metric!r}; metrics are {', '.join(METRICS)}")


def sample_size(n_young: int, n_old: int, n_per_sample: int = 500, sampling: str = "disjoint") -> int:
    """Cells per sample for groups of ``n_young`` and ``n_old`` cells.

    ``disjoint``: ``min(n_per_sample, n_young // 2, n_old // 2)``, so that two disjoint samples fit
    in each group. ``reference``: ``n_per_sample``, or ``int(0.8 x`` the smaller group ``)`` when
    that group has fewer than ``n_per_sample`` cells (the published rule).
    """
    if sampling == "disjoint":
        return int(min(n_per_sample, n_young // 2, n_old // 2))
    if sampling == "reference":
        smaller = min(n_young, n_old)
        return int(n_per_sample if smaller >= n_per_sample else int(0.8 * smaller))
    raise ValueError(f"unknown sampling {sampling!r}; samplings are {', '.join(SAMPLINGS)}")


@dataclass
class Samples:
    """Row indices of one bootstrap: ``young_a``, ``young_b`` into the young cells, ``old_a``,
    ``old_b`` into the old cells, each of length ``n``."""

    young_a: np.ndarray
    young_b: np.ndarray
    old_a: np.ndarray
    old_b: np.ndarray


def draw_samples(n_young: int, n_old: int, n: int, rng: np.random.Generator, sampling: str = "disjoint") -> Samples:
    """One bootstrap's samples of ``n`` cells (see :func:`sample_size`).

    ``disjoint``: each group is shuffled and its first ``2n`` cells split in halves, so ``a`` and
    ``b`` share no cell. ``reference``: four independent draws without replacement, so ``a`` and
    ``b`` of one group overlap.
    """
    if sampling == "disjoint":
        if 2 * n > min(n_young, n_old):
            raise ValueError(f"two disjoint samples of {n} cells need {2 * n} cells per group, found {n_young} young and {n_old} old")
        young, old = rng.permutation(n_young)[: 2 * n], rng.permutation(n_old)[: 2 * n]
        return Samples(young[:n], young[n:], old[:n], old[n:])
    if sampling == "reference":
        return Samples(*(rng.choice(size, n, replace=False) for size in (n_young, n_young, n_old, n_old)))
    raise ValueError(f"unknown sampling {sampling!r}; samplings are {', '.join(SAMPLINGS)}")


def _one_bootstrap(young, old, n, rng, metric, sampling) -> tuple[float, float, float]:
    s = draw_samples(len(young), len(old), n, rng, sampling)
    old_young = ot_distance(old[s.old_a], young[s.young_a], metric, rng)
    null_young = ot_distance(young[s.young_a], young[s.young_b], metric, rng)
    null_old = ot_distance(old[s.old_a], old[s.old_b], metric, rng)
    return old_young, null_young, null_old


def aging_bootstraps(
    young: np.ndarray,
    old: np.ndarray,
    stream: np.random.SeedSequence,
    n_bootstraps: int = 100,
    n_per_sample: int = 500,
    metric: str = "emd",
    sampling: str = "disjoint",
    n_threads: int = 1,
) -> pd.DataFrame:
    """Every bootstrap's distances and magnitude for one cell type.

    Parameters
    ----------
    young, old
        Embeddings of the young and the old cells, ``(n_young, d)`` and ``(n_old, d)``.
    stream
        The cell type's ``SeedSequence``; bootstrap ``b`` draws from its ``b``-th child.
    n_threads
        Bootstraps run on this many threads (the solvers release the GIL); results do not depend on it.

    Returns
    -------
    pandas.DataFrame
        One row per bootstrap: ``bootstrap``, ``n_per_sample``, ``old_young``, ``null_young``,
        ``null_old``, ``magnitude`` (``old_young / max(null_young, null_old)``).

    Raises
    ------
    ValueError
        If a group is too small for one sample, or a metric or sampling is unknown.
    """
    young, old = _checked_pair(young, old)
    n = sample_size(len(young), len(old), n_per_sample, sampling)
    if n < 1:
        raise ValueError(f"too few cells for one sample: {len(young)} young and {len(old)} old")
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; metrics are {', '.join(METRICS)}")
    rngs = spawn_generators(stream, n_bootstraps)

    def run(b):
        return _one_bootstrap(young, old, n, rngs[b], metric, sampling)

    if n_threads > 1:
        # the threads are the parallelism: BLAS inside each (sinkhorn's products) stays serial
        with threadpool_limits(limits=1), ThreadPoolExecutor(max_workers=int(n_threads)) as pool:
            values = list(pool.map(run, range(n_bootstraps)))
    else:
        values = [run(b) for b in range(n_bootstraps)]
    table = pd.DataFrame(values, columns=["old_young", "null_young", "null_old"])
    table.insert(0, "n_per_sample", n)
    table.insert(0, "bootstrap", np.arange(n_bootstraps))
    table["magnitude"] = table["old_young"] / table[["null_young", "null_old"]].max(axis=1)
    return table


def summarize_bootstraps(bootstraps: pd.DataFrame, level: float = 0.95) -> dict:
    """The mean magnitude and its ``level`` percentile interval over bootstraps, and mean distances.

    Returns ``{"n_per_sample", "magnitude", "ci_low", "ci_high", "old_young", "null_young", "null_old"}``.
    """
    m = bootstraps["magnitude"].to_numpy()
    tail = 100 * (1 - level) / 2
    return {
        "n_per_sample": int(bootstraps["n_per_sample"].iloc[0]),
        "magnitude": float(m.mean()),
        "ci_low": float(np.percentile(m, tail)),
        "ci_high": float(np.percentile(m, 100 - tail)),
        "old_young": float(bootstraps["old_young"].mean()),
        "null_young": float(bootstraps["null_young"].mean()),
        "null_old": float(bootstraps["null_old"].mean()),
    }


#: the columns of ``magnitudes.tsv``, one row per cell type
MAGNITUDE_COLUMNS = [
    "cell_type", "n_young", "n_old", "n_per_sample", "magnitude", "ci_low", "ci_high",
    "old_young", "null_young", "null_old", "status",
]


#: the columns of ``bootstraps.tsv``, one row per (cell type, bootstrap)
BOOTSTRAP_COLUMNS = ["cell_type", "bootstrap", "n_per_sample", "old_young", "null_young", "null_old", "magnitude"]


def embedding_by_age(adata, dataset: str, cell_type: str, embedding: str = "X_pca", n_dims: int | None = None):
    """The embedding rows of one cell type's young and old cells: ``(young, old)`` arrays.

    Reads ``obs["cell_type"]`` and ``obs["age"]`` (``young``/``old``, as ingestion and simulation
    write them) and ``obsm[embedding]``, its first ``n_dims`` columns (all when None).

    Raises
    ------
    InputError
        Naming the dataset and key: a missing ``obsm`` key or obs column, too few embedding
        dimensions, NaN or infinite values in the embedding, no young or no old cells at all in
        the dataset, or an unknown cell type.
    """
    where = f"dataset '{dataset}'"
    if embedding not in adata.obsm:
        raise InputError(f"{where} has no obsm['{embedding}'] (aging.embedding); its obsm keys are {sorted(adata.obsm)}")
    for column in ("cell_type", "age"):
        if column not in adata.obs:
            raise InputError(f"{where} has no obs column '{column}': the aging analysis needs cell types and young/old ages")
    X = np.asarray(adata.obsm[embedding], dtype=float)
    if n_dims is not None:
        if X.shape[1] < n_dims:
            raise InputError(f"{where}: obsm['{embedding}'] has {X.shape[1]} dimensions, aging.n_dims asks for {n_dims}")
        X = X[:, :n_dims]
    bad = ~np.isfinite(X).all(axis=1)
    if bad.any():
        raise InputError(f"{where}: obsm['{embedding}'] has NaN or infinite values in {int(bad.sum())} cell(s), e.g. row {int(np.flatnonzero(bad)[0])}")
    age = adata.obs["age"].astype(str).to_numpy()
    for label in ("young", "old"):
        if not (age == label).any():
            raise InputError(f"{where} has no {label} cells at all (obs 'age'); set the dataset's young and old labels")
    types = adata.obs["cell_type"].astype(str).to_numpy()
    if cell_type not in set(types):
        raise InputError(f"{where} has no cell type '{cell_type}'")
    chosen = types == cell_type
    return X[chosen & (age == "young")], X[chosen & (age == "old")]


def cell_type_magnitude(
    young: np.ndarray, old: np.ndarray, cell_type: str, stream: np.random.SeedSequence, min_cells: int = 20, **bootstrap_options
) -> tuple[dict, pd.DataFrame]:
    """One cell type's row of ``magnitudes.tsv`` (:data:`MAGNITUDE_COLUMNS`) and its bootstraps.

    ``bootstrap_options`` go to :func:`aging_bootstraps` (``n_bootstraps``, ``n_per_sample``,
    ``metric``, ``sampling``, ``n_threads``). A cell type with fewer than ``min_cells`` young or
    old cells, or too few for a sample, gets no number: its ``status`` says why, and the bootstrap
    table is empty. Otherwise ``status`` is ``ok``.
    """
    n_per_sample = bootstrap_options.get("n_per_sample", 500)
    sampling = bootstrap_options.get("sampling", "disjoint")
    row = dict.fromkeys(MAGNITUDE_COLUMNS, np.nan)
    row.update(cell_type=cell_type, n_young=len(young), n_old=len(old))
    empty = pd.DataFrame(columns=BOOTSTRAP_COLUMNS)
    small = [f"{len(g)} {name}" for name, g in (("young", young), ("old", old)) if len(g) < min_cells]
    n = sample_size(len(young), len(old), n_per_sample, sampling)
    if small or n < 1:
        what = " and ".join(small) if small else f"{len(young)} young and {len(old)} old"
        row["status"] = f"skipped: {what} cells, fewer than min_cells ({min_cells})" if small else f"skipped: {what} cells are too few for one sample"
        return row, empty
    boot = aging_bootstraps(young, old, stream, **bootstrap_options)
    row.update(summarize_bootstraps(boot), status="ok")
    boot.insert(0, "cell_type", cell_type)
    return row, boot


def _options(options: dict | None) -> dict:
    defaults = {
        "metric": "emd", "sampling": "disjoint", "n_per_sample": 500, "bootstraps": 100, "embedding": "X_pca", "n_dims": None,
        "min_cells": 20, "n_programs": 20,
    }
    return {**defaults, **(options or {})}


def bootstrap_options(options: dict, n_threads: int = 1) -> dict:
    """The ``aging`` section's options as keyword arguments of :func:`cell_type_magnitude`."""
    o = _options(options)
    return {
        "min_cells": o["min_cells"], "n_bootstraps": o["bootstraps"], "n_per_sample": o["n_per_sample"],
        "metric": o["metric"], "sampling": o["sampling"], "n_threads": int(n_threads),
    }


def cell_type_stream(seed: int, dataset: str, cell_type: str) -> np.random.SeedSequence:
    """The stream of one cell type's bootstraps: keyed by dataset and cell type (never by job)."""
    return seed_sequence(seed, "aging_magnitudes", {"dataset": dataset, "cell_type": cell_type})


def dataset_magnitudes(adata, dataset: str, seed: int, options: dict | None = None, cell_types=None, n_threads: int = 1):
    """Magnitudes and bootstraps of ``cell_types`` (default: every cell type) of one dataset.

    ``options`` are the ``aging`` section's (``metric``, ``sampling``, ``n_per_sample``,
    ``bootstraps``, ``embedding``, ``n_dims``, ``min_cells``). Each cell type's numbers depend only
    on the seed, the dataset, the cell type and the options, so one call over all cell types and
    one call per cell type give the same tables.

    Returns
    -------
    magnitudes : DataFrame with :data:`MAGNITUDE_COLUMNS`, one row per cell type, in the order given
    bootstraps : DataFrame, one row per (cell type, bootstrap)
    """
    o = _options(options)
    if cell_types is None:
        cell_types = sorted(adata.obs["cell_type"].dropna().astype(str).unique())
    rows, boots = [], []
    for cell_type in cell_types:
        young, old = embedding_by_age(adata, dataset, cell_type, o["embedding"], o["n_dims"])
        row, boot = cell_type_magnitude(young, old, cell_type, cell_type_stream(seed, dataset, cell_type), **bootstrap_options(o, n_threads))
        rows.append(row)
        boots.append(boot)
    magnitudes = pd.DataFrame(rows, columns=MAGNITUDE_COLUMNS)
    return magnitudes, gather_bootstraps(boots)


def transport_plan(young: np.ndarray, old: np.ndarray, stream: np.random.SeedSequence, n_per_sample: int = 500, sampling: str = "disjoint") -> dict:
    """The optimal matching of bootstrap 0's old and young samples, for drawing.

    Returns ``{"young": (n, d), "old": (n, d), "match": (n,), "young_2d": (n, 2), "old_2d": (n, 2)}``:
    old cell ``i`` of the sample is transported to young cell ``match[i]`` (the mean matched
    distance is bootstrap 0's ``old_young``); ``*_2d`` are both samples on the first two principal
    axes of the pooled sample (its own PCA), where a change with age shows if it is the sample's
    main variation.
    """
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    n = sample_size(len(young), len(old), n_per_sample, sampling)
    s = draw_samples(len(young), len(old), n, spawn_generators(stream, 1)[0], sampling)
    Y, O = young[s.young_a], old[s.old_a]
    _, match = linear_sum_assignment(cdist(O, Y))
    pooled = np.vstack([Y, O])
    center = pooled.mean(axis=0)
    _, _, axes = np.linalg.svd(pooled - center, full_matrices=False)
    axes = axes[:2] * np.sign(axes[:2, :1] + (axes[:2, :1] == 0))  # a fixed sign per axis
    return {"young": Y, "old": O, "match": match, "young_2d": (Y - center) @ axes.T, "old_2d": (O - center) @ axes.T}


def planted_shifts(adata) -> dict[str, float] | None:
    """``{cell type: planted aging shift}`` of a simulated dataset (``uns["truth"]``), else None."""
    truth = adata.uns.get("truth")
    if truth is None or "aging_shift" not in truth:
        return None
    return {str(t): float(v) for t, v in zip(truth["cell_types"], truth["aging_shift"])}


def gather_magnitudes(tables, planted: dict | None = None) -> pd.DataFrame:
    """One ``magnitudes.tsv`` from per-cell-type rows, in the order given; with ``planted``
    (simulated data), a ``planted_shift`` column."""
    table = pd.concat(list(tables), ignore_index=True)[MAGNITUDE_COLUMNS]
    if planted is not None:
        table["planted_shift"] = [planted.get(str(t), np.nan) for t in table["cell_type"]]
    return table


def gather_bootstraps(tables) -> pd.DataFrame:
    """One ``bootstraps.tsv`` from per-cell-type tables (skipped cell types have empty ones)."""
    filled = [t for t in tables if len(t)]
    return pd.concat(filled, ignore_index=True)[BOOTSTRAP_COLUMNS] if filled else pd.DataFrame(columns=BOOTSTRAP_COLUMNS)


def strongest_cell_type(table: pd.DataFrame) -> str | None:
    """The cell type with the largest magnitude (status ``ok``), or None when none has one."""
    done = table[table["status"] == "ok"]
    return None if done.empty else str(done.loc[done["magnitude"].idxmax(), "cell_type"])


#: the columns of ``trajectories.tsv``, one row per pair of cell types
