"""Figures of seeded sweeps: the distribution of a difference over replicates, a grid heatmap,
and one example dataset with its labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure

__all__ = ["first_point", "plot_difference_distribution", "plot_grid_heatmap", "plot_example"]


def first_point(table: pd.DataFrame, grid_columns) -> tuple[pd.DataFrame, str]:
    """The replicates of the grid's first point (all rows without a grid), and that point as text
    (``"cluster_std = 1.0, shear = 0.0"``; empty without a grid)."""
    grid_columns = list(grid_columns)
    if not grid_columns:
        return table, ""
    first = table.iloc[0]
    rows = table[(table[grid_columns] == first[grid_columns]).all(axis=1)]
    return rows, ", ".join(f"{k} = {first[k]}" for k in grid_columns)


@house_figure
def plot_difference_distribution(
    values: np.ndarray, value_name: str = "ARI(GMM) - ARI(K-means)", sides=("K-means better", "GMM better"), title: str | None = None
):
    """Histogram of a per-replicate difference with a rug of every replicate, the zero line, and
    which method is better on either side of it.

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(3.8, 2.8))
    bins = min(40, max(8, int(np.sqrt(values.size)) * 2))
    ax.hist(values, bins=bins, color="0.55", edgecolor="white", linewidth=0.4)
    ax.plot(values, np.zeros_like(values), "|", color="C3", markersize=10, markeredgewidth=0.8, clip_on=False)
    ax.axvline(0.0, color="black", linewidth=0.8)
    reach = max(np.abs(values).max() if values.size else 1.0, 1e-3) * 1.1
    ax.set_xlim(-reach, reach)
    ax.text(0.02, 0.97, f"< {sides[0]}", transform=ax.transAxes, ha="left", va="top")
    ax.text(0.98, 0.97, f"{sides[1]} >", transform=ax.transAxes, ha="right", va="top")
    ax.set_xlabel(value_name)
    ax.set_ylabel("replicates")
    return finish_figure(fig, title or f"{values.size} replicates, mean {values.mean():+.3f}", ax)


@house_figure
def plot_grid_heatmap(summary: pd.DataFrame, x: str, y: str, value: str = "mean_ari_diff", title: str | None = None):
    """Mean difference over a 2-D grid (columns: ``x`` values, rows: ``y`` values), on a diverging
    scale centred at 0, each cell labelled with its value.

    Returns
    -------
    matplotlib.figure.Figure
    """
    table = summary.pivot(index=y, columns=x, values=value)
    values = table.to_numpy(dtype=float)
    reach = max(np.nanmax(np.abs(values)), 1e-9)
    fig, ax = plt.subplots(figsize=(0.7 * values.shape[1] + 2.4, 0.55 * values.shape[0] + 1.6))
    im = ax.imshow(values, cmap="RdBu_r", vmin=-reach, vmax=reach, origin="lower", aspect="auto")
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, f"{v:+.2f}", ha="center", va="center", fontsize=6, color="white" if abs(v) > 0.6 * reach else "black")
    ax.set_xticks(np.arange(values.shape[1]), [str(v) for v in table.columns])
    ax.set_yticks(np.arange(values.shape[0]), [str(v) for v in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    fig.colorbar(im, ax=ax, shrink=0.85).set_label(value.replace("_", " "))
    return finish_figure(fig, title, ax)


@house_figure
def plot_example(X: np.ndarray, labels: dict, scores: dict | None = None, title: str | None = None):
    """One dataset drawn once per labelling (e.g. truth, GMM, K-means), each panel titled with its
    score (e.g. ARI) when given.

    Returns
    -------
    matplotlib.figure.Figure
    """
    X = np.asarray(X)
    fig, axes = plt.subplots(1, len(labels), figsize=(2.6 * len(labels), 2.6), sharex=True, sharey=True, squeeze=False)
    for ax, (name, lab) in zip(axes[0], labels.items()):
        lab = np.asarray(lab)
        colors = categorical_colors(np.unique(lab))
        ax.scatter(X[:, 0], X[:, 1], s=6, c=[colors[v] for v in lab], linewidths=0, rasterized=True)
        score = (scores or {}).get(name)
        ax.set_title(name if score is None else f"{name} (ARI {score:.2f})")
        ax.set_xticks([])
        ax.set_yticks([])
    return finish_figure(fig, title)
