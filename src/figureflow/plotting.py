"""Every figure figureflow draws, in one house style.

Figures are saved twice, as PDF with editable text (TrueType fonts, ``pdf.fonttype = 42``) for
papers and as PNG for the report, both with tight bounding boxes. Scatter plots of many points
are rasterized inside the PDF so that files stay small.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import scipy.sparse as sp  # noqa: E402

from figureflow.io import atomic_output  # noqa: E402

__all__ = [
    "HOUSE_STYLE",
    "house_style",
    "save_figure",
    "categorical_colors",
    "subsample_indices",
    "plot_embedding",
    "binned_adjacency",
    "plot_adjacency",
    "plot_values_by_group",
    "plot_group_means",
    "plot_error_vs_n",
    "plot_volume_grid",
    "plot_image_coloured",
]

HOUSE_STYLE = {
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "figure.dpi": 150,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "image.cmap": "viridis",
}


@contextmanager
def house_style():
    """Context in which matplotlib uses :data:`HOUSE_STYLE`."""
    with plt.rc_context(HOUSE_STYLE):
        yield


def save_figure(fig, png: str | os.PathLike, pdf: str | os.PathLike | None = None) -> None:
    """Save ``fig`` as PNG (and PDF, editable text) with tight bounding boxes, then close it.

    Each file is written atomically; the PDF carries no creation date, so equal figures give
    equal files.
    """
    with plt.rc_context(HOUSE_STYLE):
        with atomic_output(png) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
        if pdf is not None:
            with atomic_output(pdf) as tmp:
                fig.savefig(tmp, format="pdf", bbox_inches="tight", metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)


def categorical_colors(categories) -> dict:
    """A stable colour per category: tab10 for up to 10, tab20 up to 20, else evenly spaced hues."""
    categories = list(categories)
    n = len(categories)
    if n <= 10:
        colors = plt.get_cmap("tab10").colors[:n]
    elif n <= 20:
        colors = plt.get_cmap("tab20").colors[:n]
    else:
        colors = plt.get_cmap("hsv")(np.linspace(0, 1, n, endpoint=False))
    return dict(zip(categories, colors))


def subsample_indices(n: int, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """All of ``range(n)`` if ``n <= max_points``, else ``max_points`` of them at random, in random order.

    Plotting points in random order keeps one category from being painted over the others.
    """
    if n <= max_points:
        return rng.permutation(n)
    return rng.choice(n, size=max_points, replace=False)


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
    with house_style():
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
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


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

    Returns
    -------
    matplotlib.figure.Figure
    """
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
    with house_style():
        fig, ax = plt.subplots(figsize=(4.2, 3.6))
        # exact: absent edges stay white; binned: an empty bin is density 0, drawn as such
        shown = np.ma.masked_equal(image, 0) if exact else image
        im = ax.imshow(shown, cmap="viridis", interpolation="nearest", aspect="equal")
        ax.set_facecolor("white")
        cbar = fig.colorbar(im, ax=ax, shrink=0.8)
        cbar.set_label("edge weight" if exact else "edge density (weight per node pair)")
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
        ax.set_title(title or f"{n:,} nodes, {adjacency.nnz:,} edges")
        fig.tight_layout()
    return fig


def plot_values_by_group(
    values: np.ndarray,
    groups: np.ndarray | None,
    group_name: str = "group",
    value_name: str = "z",
    rng: np.random.Generator | None = None,
    max_points_per_group: int = 2000,
    title: str | None = None,
):
    """Distribution of a per-node value in each group: violin, median and jittered points.

    Groups are drawn in order of first appearance (numerically sorted if numeric); NaN values
    are left out. Without groups, a histogram of all values.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    with house_style():
        if groups is None:
            fig, ax = plt.subplots(figsize=(3.6, 2.8))
            ax.hist(values[ok], bins=min(60, max(10, int(np.sqrt(ok.sum())))), color="0.35")
            ax.set_xlabel(value_name)
            ax.set_ylabel("nodes")
        else:
            groups = np.asarray(groups)
            labels = pd.unique(groups[ok])
            if np.issubdtype(np.asarray(labels).dtype, np.number):
                labels = np.sort(labels)
            data = [values[ok & (groups == g)] for g in labels]
            colors = categorical_colors(labels)
            fig, ax = plt.subplots(figsize=(max(3.0, 0.45 * len(labels) + 1.5), 2.9))
            positions = np.arange(len(labels))
            parts = ax.violinplot(data, positions=positions, showextrema=False, widths=0.8)
            for body, g in zip(parts["bodies"], labels):
                body.set_facecolor(colors[g])
                body.set_alpha(0.35)
            for k, (g, d) in enumerate(zip(labels, data)):
                shown = d if d.size <= max_points_per_group else rng.choice(d, max_points_per_group, replace=False)
                jitter = rng.uniform(-0.18, 0.18, size=shown.size)
                ax.scatter(k + jitter, shown, s=3, color=colors[g], linewidths=0, rasterized=True)
                ax.hlines(np.median(d), k - 0.3, k + 0.3, color="black", linewidth=1.2)
            ax.set_xticks(positions, [str(g) for g in labels], rotation=90 if max(len(str(g)) for g in labels) > 4 else 0)
            ax.set_xlabel(group_name)
            ax.set_ylabel(value_name)
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_group_means(
    values: np.ndarray,
    groups: np.ndarray,
    group_name: str = "block",
    value_name: str = "z",
    reference_slope: float | None = -1.0,
    title: str | None = None,
):
    """Mean (+- standard deviation) of a per-node value against a numeric group index.

    With ``reference_slope``, a dashed line of that slope through the overall mean of the group
    means (for signal flow on a feedforward chain: one unit down per block), clipped to the data's
    range; the legend gives the least-squares slope of the means.

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = np.asarray(values, dtype=float)
    groups = np.asarray(groups)
    ok = np.isfinite(values)
    labels = np.sort(pd.unique(groups[ok]))
    means = np.array([values[ok & (groups == g)].mean() for g in labels])
    sds = np.array([values[ok & (groups == g)].std() for g in labels])
    x = labels.astype(float)
    with house_style():
        fig, ax = plt.subplots(figsize=(3.4, 2.8))
        label = "mean +- sd"
        if len(labels) > 1:
            label += f" (fitted slope {np.polyfit(x, means, 1)[0]:.3g})"
        ax.errorbar(x, means, yerr=sds, marker="o", markersize=4, color="C0", capsize=2, label=label)
        low, high = np.min(means - sds), np.max(means + sds)
        pad = 0.08 * max(high - low, 1e-9)
        if reference_slope is not None and len(labels) > 1:
            line = means.mean() + reference_slope * (x - x.mean())
            ax.plot(x, line, linestyle="--", color="0.6", label=f"slope {reference_slope:g}")
            ax.set_ylim(low - pad, high + pad)
        ax.set_xlabel(group_name)
        ax.set_ylabel(f"mean {value_name}")
        ax.legend()
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_error_vs_n(table: pd.DataFrame, title: str | None = None):
    """|estimate - exact| against the number of samples, log-log, per estimator, with ``n^(-1/2)``.

    ``table`` has columns ``estimator``, ``n_samples``, ``estimate``, ``std_error``, ``exact``.
    Where ``exact`` is unknown (NaN), the standard error is drawn instead. The reference line
    ``c n^(-1/2)`` passes through the first plain Monte Carlo point (or the first point).

    Returns
    -------
    matplotlib.figure.Figure
    """
    exact = pd.to_numeric(table["exact"], errors="coerce")
    known = bool(exact.notna().all())
    names = {"mc": "Monte Carlo", "rqmc": "randomized QMC"}
    with house_style():
        fig, ax = plt.subplots(figsize=(3.8, 3.0))
        for k, (estimator, rows) in enumerate(table.groupby("estimator", sort=False)):
            rows = rows.sort_values("n_samples")
            n = rows["n_samples"].to_numpy(dtype=float)
            if known:
                err = np.abs(rows["estimate"].to_numpy() - exact.loc[rows.index].to_numpy())
                err = np.maximum(err, 1e-16)  # an exact hit would vanish from log axes
                ax.loglog(n, err, marker="o", markersize=3, color=f"C{k}", label=f"{names.get(estimator, estimator)} |error|")
                ax.loglog(n, rows["std_error"], linestyle=":", color=f"C{k}", label=f"{names.get(estimator, estimator)} std. error")
            else:
                ax.loglog(n, rows["std_error"], marker="o", markersize=3, color=f"C{k}", label=f"{names.get(estimator, estimator)} std. error")
        first = table.sort_values("n_samples")
        anchor = first[first["estimator"] == "mc"].iloc[0] if (first["estimator"] == "mc").any() else first.iloc[0]
        n_all = np.sort(table["n_samples"].unique()).astype(float)
        ax.loglog(n_all, anchor["std_error"] * np.sqrt(anchor["n_samples"] / n_all), color="0.6", linestyle="--", label=r"$\propto n^{-1/2}$")
        ax.set_xlabel("samples n")
        ax.set_ylabel("|estimate - exact|" if known else "standard error")
        ax.legend(fontsize=6)
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_volume_grid(axis: np.ndarray, values: np.ndarray, latent_dim: int, title: str | None = None):
    """``D(z)`` over the latent grid: a heatmap over ``(z1, z2)`` (other coordinates 0), or a line for ``d = 1``.

    ``values`` has shape ``(len(axis), len(axis))`` (rows: z2, columns: z1) or ``(len(axis),)``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    with house_style():
        if values.ndim == 1:
            fig, ax = plt.subplots(figsize=(3.6, 2.6))
            ax.plot(axis, values, color="C0")
            ax.set_xlabel("z")
            ax.set_ylabel("D(z)")
        else:
            fig, ax = plt.subplots(figsize=(3.8, 3.2))
            extent = (axis[0], axis[-1], axis[0], axis[-1])
            im = ax.imshow(values, origin="lower", extent=extent, cmap="magma", aspect="equal")
            fig.colorbar(im, ax=ax, shrink=0.85).set_label(r"$D(z)=\sqrt{\det J^\top J}$")
            ax.set_xlabel("z1")
            ax.set_ylabel("z2" + (f" (z3..z{latent_dim} = 0)" if latent_dim > 2 else ""))
        if title:
            ax.set_title(title)
        fig.tight_layout()
    return fig


def plot_image_coloured(points: np.ndarray, values: np.ndarray, title: str | None = None):
    """The image of the latent grid in 3-D data space, coloured by ``D``: a surface for a grid of
    shape ``(m, m, 3)``, a curve for ``(m, 3)``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from matplotlib import cm, colors

    with house_style():
        fig = plt.figure(figsize=(4.2, 3.6))
        ax = fig.add_subplot(projection="3d")
        norm = colors.Normalize(vmin=float(np.nanmin(values)), vmax=float(np.nanmax(values)))
        if points.ndim == 3:
            facecolors = cm.magma(norm(values))
            ax.plot_surface(points[..., 0], points[..., 1], points[..., 2], facecolors=facecolors, rstride=1, cstride=1,
                            linewidth=0, antialiased=False, shade=False)
        else:
            ax.scatter(points[:, 0], points[:, 1], points[:, 2], c=values, cmap="magma", norm=norm, s=4)
        mappable = cm.ScalarMappable(norm=norm, cmap="magma")
        fig.colorbar(mappable, ax=ax, shrink=0.6, pad=0.1).set_label("D(z)")
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_zlabel("x3")
        if title:
            ax.set_title(title)
    return fig
