"""Figures of the aging analysis: magnitudes per cell type, and the transport plan of one."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import finish_figure, house_figure

__all__ = ["plot_magnitudes", "plot_transport_plan", "cosine_matrix", "plot_trajectory_cosines"]


@house_figure
def plot_magnitudes(table: pd.DataFrame, title: str | None = None):
    """Aging magnitude per cell type with its 95% bootstrap interval, sorted, against the null (1).

    ``table`` is ``magnitudes.tsv``: ``cell_type``, ``magnitude``, ``ci_low``, ``ci_high``,
    ``status`` and, for simulated data, ``planted_shift``, drawn as a second panel in the same
    order. Skipped cell types (no magnitude) are listed under the axis, not drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    done = table[table["magnitude"].notna()].sort_values("magnitude")
    skipped = table[table["magnitude"].isna()]["cell_type"].astype(str).tolist()
    planted = "planted_shift" in table.columns and done["planted_shift"].notna().any()
    height = max(2.4, 0.28 * len(done) + 1.0)
    fig, axes = plt.subplots(1, 2 if planted else 1, figsize=(6.4 if planted else 4.0, height), sharey=True, squeeze=False,
                             gridspec_kw={"width_ratios": [2, 1]} if planted else None)
    ax = axes[0, 0]
    y = np.arange(len(done))
    m = done["magnitude"].to_numpy(dtype=float)
    err = np.vstack([m - done["ci_low"].to_numpy(dtype=float), done["ci_high"].to_numpy(dtype=float) - m])
    ax.errorbar(m, y, xerr=err, fmt="o", color="C3", markersize=4, capsize=2, label="mean, 95% bootstrap interval")
    ax.axvline(1.0, color="0.6", linestyle="--", linewidth=0.8, label="null (no change)")
    ax.set_yticks(y, done["cell_type"].astype(str))
    ax.set_xlabel("aging magnitude (old-young / null)")
    ax.legend(loc="lower right")
    if skipped:
        ax.text(0.0, -0.5 / height - 0.08, "skipped: " + ", ".join(skipped), transform=ax.transAxes, fontsize=6, va="top")
    if planted:
        axes[0, 1].barh(y, done["planted_shift"].to_numpy(dtype=float), color="0.55", height=0.6)
        axes[0, 1].set_xlabel("planted shift")
    return finish_figure(fig, title, ax if not planted else None)


@house_figure
def plot_transport_plan(young: np.ndarray, old: np.ndarray, match: np.ndarray, max_lines: int = 300, title: str | None = None):
    """Old and young cells on two axes (e.g. the sample's own first two principal axes), each old
    cell joined to the young cell the optimal plan sends it to.

    ``young``, ``old``: ``(n, >= 2)``; ``match[i]``: the young partner of old cell ``i``. At most
    ``max_lines`` pairs (the first ones) are joined; every cell is drawn.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib.collections import LineCollection

    young, old, match = np.asarray(young)[:, :2], np.asarray(old)[:, :2], np.asarray(match)
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    shown = np.arange(min(len(match), max_lines))
    segments = np.stack([old[shown], young[match[shown]]], axis=1)
    ax.add_collection(LineCollection(segments, colors="0.6", linewidths=0.4, alpha=0.7, label="matched pair"))
    ax.scatter(young[:, 0], young[:, 1], s=5, color="C0", linewidths=0, label=f"young ({len(young)})", rasterized=True)
    ax.scatter(old[:, 0], old[:, 1], s=5, color="C3", linewidths=0, label=f"old ({len(old)})", rasterized=True)
    ax.set_xlabel("PC 1 of the sample")
    ax.set_ylabel("PC 2 of the sample")
    ax.legend(loc="best", markerscale=2)
    return finish_figure(fig, title, ax)


def cosine_matrix(table: pd.DataFrame) -> tuple[list[str], np.ndarray]:
    """The symmetric cosine matrix of ``trajectories.tsv`` (pairs ``cell_type_a``, ``cell_type_b``),
    cell types in order of first appearance, 1 on the diagonal (NaN for a type without a trajectory)."""
    names = list(pd.unique(pd.concat([table["cell_type_a"], table["cell_type_b"]]).astype(str)))
    index = {n: i for i, n in enumerate(names)}
    matrix = np.full((len(names), len(names)), np.nan)
    for a, b, c in zip(table["cell_type_a"].astype(str), table["cell_type_b"].astype(str), table["cosine"]):
        matrix[index[a], index[b]] = matrix[index[b], index[a]] = c
    has = ~np.isnan(matrix).all(axis=1) if len(names) > 1 else np.ones(len(names), bool)
    matrix[np.diag_indices(len(names))] = np.where(has, 1.0, np.nan)
    return names, matrix


def _clustered_order(matrix: np.ndarray) -> np.ndarray:
    """Rows with a trajectory in average-linkage order of ``1 - cosine``, then the rest."""
    from scipy.cluster.hierarchy import leaves_list, linkage
    from scipy.spatial.distance import squareform

    ok = np.flatnonzero(~np.isnan(np.diag(matrix)))
    rest = np.setdiff1d(np.arange(len(matrix)), ok)
    if len(ok) < 3:
        return np.concatenate([ok, rest])
    distance = np.clip(1.0 - np.nan_to_num(matrix[np.ix_(ok, ok)], nan=0.0), 0.0, 2.0)
    np.fill_diagonal(distance, 0.0)
    return np.concatenate([ok[leaves_list(linkage(squareform(distance, checks=False), "average"))], rest])


@house_figure
def plot_trajectory_cosines(table: pd.DataFrame, title: str | None = None):
    """Heatmap of the cosine similarity of cell types' aging trajectories, clustered.

    ``table`` is ``trajectories.tsv``. Colours span -1 to 1 (diverging); cell types are ordered by
    average-linkage clustering on ``1 - cosine``; a type without a trajectory is grey, last.

    Returns
    -------
    matplotlib.figure.Figure
    """
    names, matrix = cosine_matrix(table)
    order = _clustered_order(matrix)
    shown = matrix[np.ix_(order, order)]
    size = max(2.8, 0.32 * len(names) + 1.6)
    fig, ax = plt.subplots(figsize=(size + 0.6, size))
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest")
    labels = [names[i] for i in order]
    ax.set_xticks(np.arange(len(labels)), labels, rotation=90)
    ax.set_yticks(np.arange(len(labels)), labels)
    fig.colorbar(im, ax=ax, shrink=0.8).set_label("cosine of aging trajectories")
    return finish_figure(fig, title, ax)
