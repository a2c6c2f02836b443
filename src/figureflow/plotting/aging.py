"""Figures of the aging analysis: magnitudes per cell type, and the transport plan of one."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import finish_figure, house_figure

__all__ = ["plot_magnitudes", "plot_transport_plan"]


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
