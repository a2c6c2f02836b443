"""Figures of seeded sweeps: the distribution of a difference over replicates, a grid heatmap,
and one example dataset with its labels."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure

__all__ = ["first_point", "draw_difference_distribution", "plot_difference_distribution", "draw_grid_heatmap", "plot_grid_heatmap", "plot_example",
           "draw_paired_scores", "paper_figure"]


def first_point(table: pd.DataFrame, grid_columns) -> tuple[pd.DataFrame, str]:
    """The replicates of the grid's first point (all rows without a grid), and that point as text
    (``"cluster_std = 1.0, shear = 0.0"``; empty without a grid)."""
    grid_columns = list(grid_columns)
    if not grid_columns:
        return table, ""
    first = table.iloc[0]
    rows = table[(table[grid_columns] == first[grid_columns]).all(axis=1)]
    return rows, ", ".join(f"{k} = {first[k]}" for k in grid_columns)


def draw_difference_distribution(ax, values: np.ndarray, value_name: str = "ARI(GMM) - ARI(K-means)", sides=("K-means better", "GMM better"),
                                 rug_size: float = 10) -> pd.DataFrame:
    """Draw on ``ax`` a histogram of a per-replicate difference with a rug of every replicate, the
    zero line, and which method is better on either side of it. Returns the histogram drawn
    (``bin_left``, ``bin_right``, ``replicates``)."""
    values = np.asarray(values, dtype=float)
    bins = min(40, max(8, int(np.sqrt(values.size)) * 2))
    counts, edges, _ = ax.hist(values, bins=bins, color="0.55", edgecolor="white", linewidth=0.4)
    ax.plot(values, np.zeros_like(values), "|", color="C3", markersize=rug_size, markeredgewidth=0.8, clip_on=False)
    ax.axvline(0.0, color="black", linewidth=0.8)
    reach = max(np.abs(values).max() if values.size else 1.0, 1e-3) * 1.1
    ax.set_xlim(-reach, reach)
    ax.text(0.02, 0.97, f"< {sides[0]}", transform=ax.transAxes, ha="left", va="top")
    ax.text(0.98, 0.97, f"{sides[1]} >", transform=ax.transAxes, ha="right", va="top")
    ax.set_xlabel(value_name)
    ax.set_ylabel("replicates")
    return pd.DataFrame({"bin_left": edges[:-1], "bin_right": edges[1:], "replicates": counts.astype(int)})


@house_figure
def plot_difference_distribution(
    values: np.ndarray, value_name: str = "ARI(GMM) - ARI(K-means)", sides=("K-means better", "GMM better"), title: str | None = None
):
    """Histogram of a per-replicate difference with a rug of every replicate, the zero line, and
    which method is better on either side of it (:func:`draw_difference_distribution`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(3.8, 2.8))
    draw_difference_distribution(ax, values, value_name, sides)
    return finish_figure(fig, title or f"{values.size} replicates, mean {values.mean():+.3f}", ax)


def draw_grid_heatmap(ax, summary: pd.DataFrame, x: str, y: str, value: str = "mean_ari_diff", label_size: float = 6):
    """Draw on ``ax`` the mean difference over a 2-D grid (columns: ``x`` values, rows: ``y``
    values), on a diverging scale centred at 0, each cell labelled with its value. Returns the
    image and the table drawn (rows ``y``, columns ``x``)."""
    table = summary.pivot(index=y, columns=x, values=value)
    values = table.to_numpy(dtype=float)
    reach = max(np.nanmax(np.abs(values)), 1e-9)
    im = ax.imshow(values, cmap="RdBu_r", vmin=-reach, vmax=reach, origin="lower", aspect="auto")
    for (r, c), v in np.ndenumerate(values):
        ax.text(c, r, f"{v:+.2f}", ha="center", va="center", fontsize=label_size, color="white" if abs(v) > 0.6 * reach else "black")
    ax.set_xticks(np.arange(values.shape[1]), [str(v) for v in table.columns])
    ax.set_yticks(np.arange(values.shape[0]), [str(v) for v in table.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    return im, table


@house_figure
def plot_grid_heatmap(summary: pd.DataFrame, x: str, y: str, value: str = "mean_ari_diff", title: str | None = None):
    """Mean difference over a 2-D grid (:func:`draw_grid_heatmap`).

    Returns
    -------
    matplotlib.figure.Figure
    """
    shape = summary[x].nunique(), summary[y].nunique()
    fig, ax = plt.subplots(figsize=(0.7 * shape[0] + 2.4, 0.55 * shape[1] + 1.6))
    im, _ = draw_grid_heatmap(ax, summary, x, y, value)
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


def draw_paired_scores(ax, table: pd.DataFrame, columns=("ari_gmm", "ari_kmeans"), names=("GMM", "K-means")) -> pd.DataFrame:
    """Draw on ``ax`` each replicate's two scores joined by a line (one column per method) with
    each method's mean as a bar. Returns the scores drawn, one row per replicate."""
    scores = table[list(columns)].to_numpy(dtype=float)
    for row in scores:
        ax.plot([0, 1], row, color="0.75", linewidth=0.4, zorder=1)
    for k, name in enumerate(names):
        ax.scatter(np.full(len(scores), k), scores[:, k], s=5, color=f"C{k}", linewidths=0, zorder=2)
        ax.hlines(scores[:, k].mean(), k - 0.25, k + 0.25, color="black", linewidth=1.0, zorder=3)
    ax.set_xticks([0, 1], list(names))
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylabel("adjusted Rand index")
    drawn = pd.DataFrame(scores, columns=list(names))
    drawn.insert(0, "replicate", table["replicate"].to_numpy() if "replicate" in table else np.arange(len(scores)))
    return drawn


def paper_figure(inputs, options):
    """The seeded sweeps' paper figure (:class:`figureflow.plotting.paper.PaperFigure`).

    ``inputs.replicates`` and ``inputs.summaries`` list every sweep's tables in the order of
    ``options["sweeps"]``; ``options["grids"]`` gives each sweep's grid parameters. Panels: a, the
    ARI of both methods per replicate of the featured sweep (``options["sweep"]``, default the
    first without a grid, else the first); b, the distribution of their difference with its mean
    and 95% interval; c, the mean difference over the first 2-D grid (``options["grid_sweep"]``),
    when the config has one.
    """
    from figureflow.io import read_table
    from figureflow.plotting.paper import PaperFigure

    sweeps = list(options["sweeps"])
    replicates = {s: read_table(p) for s, p in zip(sweeps, inputs.replicates)}
    summaries = {s: read_table(p) for s, p in zip(sweeps, inputs.summaries)}
    grids = {s: list(options["grids"][s]) for s in sweeps}
    featured = options.get("sweep") or next((s for s in sweeps if not grids[s]), sweeps[0])
    grid_sweep = options.get("grid_sweep") or next((s for s in sweeps if len(grids[s]) == 2), None)
    figure = PaperFigure("sweeps", "Seeded sweeps: GMM against K-means on sheared blobs, replicate by replicate", "abc" if grid_sweep else "ab",
                         options["width_mm"], options["height_mm"], width_ratios=[0.7, 1.0, 1.0] if grid_sweep else [0.7, 1.0])
    table, where = first_point(replicates[featured], grids[featured])
    n = len(table)
    at = f" at {where}" if where else ""
    drawn = draw_paired_scores(figure["a"], table)
    figure.record("a", drawn, f"Adjusted Rand index of a Gaussian mixture (GMM) and of K-means on each of the {n} seeded replicates of sweep "
                  f"{featured}{at} (grey lines join a replicate's two scores; black bars, means: GMM {drawn['GMM'].mean():.3f}, K-means "
                  f"{drawn['K-means'].mean():.3f})")
    diff = table["ari_diff"].to_numpy(dtype=float)
    hist = draw_difference_distribution(figure["b"], diff, rug_size=6)
    summary = summaries[featured]
    row = summary.iloc[0] if not grids[featured] else summary[(summary[grids[featured]] == table.iloc[0][grids[featured]]).all(axis=1)].iloc[0]
    figure.headline(f"mean ARI(GMM) - ARI(K-means), sweep {featured}{at}", row["mean_ari_diff"], None, row["ci_low"], row["ci_high"],
                    "95% interval", f"{n} replicates; GMM better in {row['fraction_positive']:.0%}")
    figure["b"].axvspan(row["ci_low"], row["ci_high"], color="C0", alpha=0.25, linewidth=0)
    figure["b"].axvline(row["mean_ari_diff"], color="C0", linewidth=1.0)
    figure.record("b", hist.assign(mean=row["mean_ari_diff"], ci_low=row["ci_low"], ci_high=row["ci_high"]),
                  f"Their difference ARI(GMM) - ARI(K-means) over the {n} replicates (histogram; ticks, single replicates); blue line and band, "
                  f"the mean {row['mean_ari_diff']:+.3f} and its 95% interval [{row['ci_low']:+.3f}, {row['ci_high']:+.3f}]; GMM is better in "
                  f"{row['fraction_positive']:.0%} of replicates")
    if grid_sweep:
        x, y = grids[grid_sweep]
        grid = summaries[grid_sweep]
        im, pivot = draw_grid_heatmap(figure["c"], grid, x, y, label_size=5)
        figure.fig.colorbar(im, ax=figure["c"], shrink=0.85, aspect=15).set_label("mean ARI(GMM) - ARI(K-means)")
        long = pivot.reset_index().melt(id_vars=y, var_name=x, value_name="mean_ari_diff")[[x, y, "mean_ari_diff"]]
        reps = int(grid["replicates"].iloc[0])
        best = grid.loc[grid["mean_ari_diff"].idxmax()]
        figure.record("c", long, f"Mean difference over the grid of sweep {grid_sweep} ({x} by {y}, {reps} replicates per point); largest "
                      f"{best['mean_ari_diff']:+.3f} at {x} = {best[x]}, {y} = {best[y]}")
    return figure
