"""Aging trajectories: NMF gene programs, each cell type's young-to-old vector in program space, and how alike two types age (cosines).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from figureflow.io import InputError
from figureflow.seeding import seed_sequence, spawn_generators

__all__ = ["TRAJECTORY_COLUMNS", "program_usage", "aging_vectors", "aging_trajectories", "planted_cosines"]


TRAJECTORY_COLUMNS = ["cell_type_a", "cell_type_b", "cosine", "ci_low", "ci_high"]


def program_usage(adata, dataset: str, n_programs: int = 20, seed: int = 0) -> np.ndarray:
    """Each cell's usage of ``n_programs`` gene programs: NMF of the normalized expression ``X``
    (``var["highly_variable"]`` genes when marked), ``X ~ W H`` with ``W, H >= 0``; returns ``W``.

    The NMF starts from nndsvda with its random state drawn from the seed's stream for the dataset;
    ``n_programs`` is capped at the numbers of cells and genes. It runs with BLAS on one thread: a
    multithreaded product differs in its last bits from a single-threaded one, and the NMF's 500
    iterations carried that into the cosines (1e-13 between 1 and 2 threads), so the table would
    have depended on ``--cores``.

    Raises
    ------
    InputError
        If ``X`` is missing, or has negative or non-finite values (NMF needs non-negative expression; a scaled
        ``X`` is not), naming the dataset.
    """
    from sklearn.decomposition import NMF

    X = adata.X
    if X is None:  # a file written without X (an AnnData of annotations only)
        raise InputError(f"dataset '{dataset}': aging trajectories need normalized expression in X (for NMF), but the file has no X")
    if "highly_variable" in adata.var:
        X = X[:, adata.var["highly_variable"].to_numpy(dtype=bool)]
    X = X.toarray() if hasattr(X, "toarray") else np.asarray(X)
    X = np.asarray(X, dtype=float)
    if not np.isfinite(X).all() or X.min() < 0:
        raise InputError(
            f"dataset '{dataset}': aging trajectories need non-negative normalized expression in X (for NMF), "
            f"found values from {np.nanmin(X):.3g}; a scaled or centred X cannot be used"
        )
    state = int(seed_sequence(seed, "aging_trajectories", {"dataset": dataset}).generate_state(1)[0] % (2**31 - 1))
    n_programs = min(n_programs, *X.shape)  # nndsvda needs no more programs than cells or genes
    with warnings.catch_warnings(), threadpool_limits(1):
        warnings.filterwarnings("ignore", message="Maximum number of iterations", category=Warning)
        return NMF(n_programs, init="nndsvda", random_state=state, max_iter=500).fit_transform(X)


def aging_vectors(usage: np.ndarray, cell_type: np.ndarray, age: np.ndarray, cell_types, rng=None) -> np.ndarray:
    """Per cell type, mean usage of its old cells minus that of its young cells: ``(types, programs)``.

    With ``rng``, each (cell type, age) group's cells are first resampled with replacement (one
    bootstrap). A cell type without young or without old cells gets NaN.
    """
    out = np.full((len(cell_types), usage.shape[1]), np.nan)
    for i, t in enumerate(cell_types):
        means = []
        for label in ("old", "young"):
            rows = np.flatnonzero((cell_type == t) & (age == label))
            if rows.size == 0:
                break
            if rng is not None:
                rows = rows[rng.integers(rows.size, size=rows.size)]
            means.append(usage[rows].mean(axis=0))
        if len(means) == 2:
            out[i] = means[0] - means[1]
    return out


def _cosines(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.full_like(vectors, np.nan), where=norms > 0)
    return unit @ unit.T


def aging_trajectories(
    adata, dataset: str, seed: int, n_programs: int = 20, bootstraps: int = 100, cell_types=None, level: float = 0.95
) -> pd.DataFrame:
    """Cosine similarity of every pair of cell types' aging trajectories in program space.

    Returns :data:`TRAJECTORY_COLUMNS`, one row per pair ``a < b`` (in the order of ``cell_types``,
    default sorted): the cosine on all cells and its ``level`` percentile interval over
    ``bootstraps`` resamplings of the cells (programs fixed). NaN where a type lacks an age group.
    """
    usage = program_usage(adata, dataset, n_programs, seed)
    cell_type = adata.obs["cell_type"].astype(str).to_numpy()
    age = adata.obs["age"].astype(str).to_numpy()
    if cell_types is None:
        cell_types = sorted(adata.obs["cell_type"].dropna().astype(str).unique())
    cos = _cosines(aging_vectors(usage, cell_type, age, cell_types))
    stream = seed_sequence(seed, "aging_trajectories", {"dataset": dataset, "part": "bootstrap"})
    boot = np.array([_cosines(aging_vectors(usage, cell_type, age, cell_types, rng)) for rng in spawn_generators(stream, bootstraps)])
    tail = 100 * (1 - level) / 2
    a, b = np.triu_indices(len(cell_types), k=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pairs
        low, high = np.nanpercentile(boot, tail, axis=0), np.nanpercentile(boot, 100 - tail, axis=0)
    return pd.DataFrame({
        "cell_type_a": np.asarray(cell_types)[a], "cell_type_b": np.asarray(cell_types)[b],
        "cosine": cos[a, b], "ci_low": low[a, b], "ci_high": high[a, b],
    })


def planted_cosines(adata, table: pd.DataFrame) -> np.ndarray | None:
    """For simulated data, the cosine of each pair's planted aging directions (NaN where a planted
    shift is 0: that type has no trajectory); None without ``uns["truth"]``."""
    truth = adata.uns.get("truth")
    if truth is None or "aging_direction" not in truth:
        return None
    index = {str(t): i for i, t in enumerate(truth["cell_types"])}
    directions, shifts = np.asarray(truth["aging_direction"]), np.asarray(truth["aging_shift"])
    out = []
    for a, b in zip(table["cell_type_a"], table["cell_type_b"]):
        i, j = index.get(str(a)), index.get(str(b))
        if i is None or j is None or shifts[i] == 0 or shifts[j] == 0:
            out.append(np.nan)
        else:
            out.append(float(directions[i] @ directions[j] / (np.linalg.norm(directions[i]) * np.linalg.norm(directions[j]))))
    return np.array(out)
