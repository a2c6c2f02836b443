"""Figures of signal flow: the hierarchy coordinate z per node group, and its mean per block.

The adjacency ordered by z is :func:`figureflow.plotting.data.plot_adjacency` with ``order``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure

__all__ = ["plot_values_by_group", "plot_group_means"]


@house_figure
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
    are left out. Without groups, a histogram of all values. At most ``max_points_per_group``
    points of a group are drawn (drawn at random by ``rng``); its violin and median use all.

    Returns
    -------
    matplotlib.figure.Figure
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    if groups is None:
        fig, ax = plt.subplots(figsize=(3.6, 2.8))
        ax.hist(values[ok], bins=min(60, max(10, int(np.sqrt(ok.sum())))), color="0.35")
        ax.set_xlabel(value_name)
        ax.set_ylabel("nodes")
        return finish_figure(fig, title, ax)
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
    return finish_figure(fig, title, ax)


@house_figure
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
    return finish_figure(fig, title, ax)
