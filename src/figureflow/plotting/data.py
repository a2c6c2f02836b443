"""Figures of the data layer: embeddings of single-cell datasets, adjacency heatmaps of graphs."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import scipy.sparse as sp

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure, subsample_indices

__all__ = ["plot_embedding", "binned_adjacency", "draw_adjacency", "plot_adjacency"]


@house_figure
def plot_embedding(
    embeddings: dict,
    obs: pd.DataFrame,
    color_by=("cell_type", "age"),
    rng: np.random.Generator | None = None,
    max_points: int = 50_000,
    title: str | None = None,
):
    """Scatter each embedding (rows) coloured by each categorical obs column (columns).

    Parameters
    ----------
    embeddings
        Name (``"PCA"``, ``"UMAP"``) -> array ``(n_cells, >= 2)``; the first two columns are drawn.
    obs
        Cell annotations, ``n_cells`` rows; columns in ``color_by`` that are missing are skipped.
    rng
        Draws the subsample and plotting order (default: a fixed generator).

    Returns
    -------
    matplotlib.figure.Figure
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    keys = [k for k in color_by if k in obs.columns]
    n = len(obs)
    idx = subsample_indices(n, max_points, rng)
    size = max(0.5, min(8.0, 4000.0 / max(len(idx), 1)))
    fig, axes = plt.subplots(
        len(embeddings), len(keys), figsize=(3.2 * len(keys) + 0.8, 2.8 * len(embeddings)), squeeze=False
    )
    for r, (name, coords) in enumerate(embeddings.items()):
        coords = np.asarray(coords)[:, :2]
        for c, key in enumerate(keys):
            ax = axes[r, c]
            values = obs[key].astype("category")
            colors = categorical_colors(values.cat.categories)
            point_colors = [colors.get(v, (0.8, 0.8, 0.8)) for v in values.iloc[idx]]
            ax.scatter(coords[idx, 0], coords[idx, 1], s=size, c=point_colors, linewidths=0, rasterized=True)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_xlabel(f"{name} 1")
            ax.set_ylabel(f"{name} 2")
            if r == 0:
                ax.set_title(key.replace("_", " "))
            handles = [
                plt.Line2D([], [], marker="o", linestyle="", color=col, markersize=4, label=str(cat))
                for cat, col in colors.items()
            ]
            ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), handletextpad=0.2)
    return finish_figure(fig, title)


def binned_adjacency(adjacency: sp.spmatrix, order: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Sum edge weights into ``n_bins x n_bins`` cells of consecutive nodes taken in ``order``.

    Node at position ``p`` of ``order`` falls in bin ``p * n_bins // n``.

    Returns
    -------
    weights : (n_bins, n_bins) array, total edge weight from bin ``a`` to bin ``b``
    sizes : (n_bins,) array, number of nodes per bin
    """
    A = sp.coo_matrix(adjacency)
    n = A.shape[0]
    n_bins = int(max(1, min(n_bins, n)))
    position = np.empty(n, dtype=np.int64)
    position[np.asarray(order)] = np.arange(n)
    node_bin = position * n_bins // n
    flat = node_bin[A.row] * n_bins + node_bin[A.col]
    weights = np.bincount(flat, weights=A.data, minlength=n_bins * n_bins).reshape(n_bins, n_bins)
    sizes = np.bincount(node_bin, minlength=n_bins)
    return weights, sizes


def draw_adjacency(ax, adjacency: sp.spmatrix, groups: np.ndarray | None = None, group_name: str = "block", max_bins: int = 500,
                   order: np.ndarray | None = None, order_name: str | None = None, colorbar: bool = True) -> tuple:
    """Draw the adjacency heatmap of :func:`plot_adjacency` on ``ax``. Returns the image, the
    matrix drawn (edge weights, or edge density per bin) and whether it is exact (one row per node)."""
    n = adjacency.shape[0]
    if order is not None:
        groups = None
    elif groups is not None:
        groups = np.asarray(groups)
        codes, _ = pd.factorize(groups)  # groups in order of first appearance
        order = np.argsort(codes, kind="stable")
    elif order is None:
        order = np.arange(n)
    weights, sizes = binned_adjacency(adjacency, order, max_bins)
    exact = weights.shape[0] == n
    image = weights if exact else weights / np.maximum(np.outer(sizes, sizes), 1)
    # exact: absent edges stay white; binned: an empty bin is density 0, drawn as such
    shown = np.ma.masked_equal(image, 0) if exact else image
    im = ax.imshow(shown, cmap="viridis", interpolation="nearest", aspect="equal")
    ax.set_facecolor("white")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.8).set_label("edge weight" if exact else "edge density (weight per node pair)")
    if groups is not None:
        sorted_groups = groups[order]
        change = np.flatnonzero(sorted_groups[1:] != sorted_groups[:-1]) + 1
        edges = change * weights.shape[0] / n - 0.5
        for e in edges:
            ax.axhline(e, color="0.6", linewidth=0.4)
            ax.axvline(e, color="0.6", linewidth=0.4)
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [n]])
        centers = (starts + ends) / 2 * weights.shape[0] / n - 0.5
        labels = [str(g) for g in sorted_groups[starts]]
        if len(labels) <= 30:
            ax.set_xticks(centers, labels, rotation=90 if max(map(len, labels)) > 3 else 0)
            ax.set_yticks(centers, labels)
        ax.set_xlabel(f"target ({group_name})")
        ax.set_ylabel(f"source ({group_name})")
    else:
        suffix = f", ordered by {order_name}" if order_name else ""
        ax.set_xlabel(("target node" if exact else "target nodes (binned)") + suffix)
        ax.set_ylabel(("source node" if exact else "source nodes (binned)") + suffix)
    return im, image, exact


@house_figure
def plot_adjacency(
    adjacency: sp.spmatrix,
    groups: np.ndarray | None = None,
    group_name: str = "block",
    max_bins: int = 500,
    title: str | None = None,
    order: np.ndarray | None = None,
    order_name: str | None = None,
):
    """Heatmap of a directed graph's adjacency, nodes grouped (groups in order of first appearance).

    Graphs of up to ``max_bins`` nodes are drawn exactly (edge weight); larger ones are
    downsampled into ``max_bins`` bins of consecutive nodes and drawn as edge density (weight
    per node pair). Group boundaries are marked. Rows are sources, columns targets. An explicit
    ``order`` (a permutation of the nodes, named ``order_name`` on the axes) replaces grouping.
    The title defaults to the numbers of nodes and edges.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(4.2, 3.6))
    draw_adjacency(ax, adjacency, groups, group_name, max_bins, order, order_name)
    n = adjacency.shape[0]
    return finish_figure(fig, title or f"{n:,} nodes, {adjacency.nnz:,} edges", ax)
