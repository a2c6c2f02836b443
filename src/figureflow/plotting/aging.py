"""Figures of the aging analysis: magnitudes per cell type, and the transport plan of one."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import finish_figure, house_figure

__all__ = ["plot_magnitudes", "draw_magnitudes", "draw_planted_shift", "plot_transport_plan", "draw_transport_plan", "cosine_matrix",
           "plot_trajectory_cosines", "draw_trajectory_cosines", "paper_figure"]


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
    planted = "planted_shift" in table.columns and done["planted_shift"].notna().any()
    height = max(2.4, 0.28 * len(done) + 1.0)
    fig, axes = plt.subplots(1, 2 if planted else 1, figsize=(6.4 if planted else 4.0, height), sharey=True, squeeze=False,
                             gridspec_kw={"width_ratios": [2, 1]} if planted else None)
    ax = axes[0, 0]
    skipped = draw_magnitudes(ax, table)
    ax.legend(loc="lower right")
    if skipped:
        ax.text(0.0, -0.5 / height - 0.08, "skipped: " + ", ".join(skipped), transform=ax.transAxes, fontsize=6, va="top")
    if planted:
        draw_planted_shift(axes[0, 1], table)
    return finish_figure(fig, title, ax if not planted else None)


def draw_magnitudes(ax, table: pd.DataFrame, markersize: float = 4) -> list[str]:
    """Draw on ``ax`` each cell type's magnitude with its 95% bootstrap interval, sorted, against
    the null (1); returns the cell types skipped (no magnitude)."""
    done = table[table["magnitude"].notna()].sort_values("magnitude")
    y = np.arange(len(done))
    m = done["magnitude"].to_numpy(dtype=float)
    err = np.vstack([m - done["ci_low"].to_numpy(dtype=float), done["ci_high"].to_numpy(dtype=float) - m])
    ax.errorbar(m, y, xerr=err, fmt="o", color="C3", markersize=markersize, capsize=2, label="mean, 95% bootstrap interval")
    ax.axvline(1.0, color="0.6", linestyle="--", linewidth=0.8, label="null (no change)")
    ax.set_yticks(y, done["cell_type"].astype(str))
    ax.set_xlabel("aging magnitude (old-young / null)")
    return table[table["magnitude"].isna()]["cell_type"].astype(str).tolist()


def draw_planted_shift(ax, table: pd.DataFrame) -> None:
    """Draw on ``ax`` the planted shift of each cell type, in :func:`draw_magnitudes`' order."""
    done = table[table["magnitude"].notna()].sort_values("magnitude")
    ax.barh(np.arange(len(done)), done["planted_shift"].to_numpy(dtype=float), color="0.55", height=0.6)
    ax.set_xlabel("planted shift")


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
    fig, ax = plt.subplots(figsize=(3.8, 3.4))
    draw_transport_plan(ax, young, old, match, max_lines)
    ax.legend(loc="best", markerscale=2)
    return finish_figure(fig, title, ax)


def draw_transport_plan(ax, young: np.ndarray, old: np.ndarray, match: np.ndarray, max_lines: int = 300, point_size: float = 5) -> pd.DataFrame:
    """Draw :func:`plot_transport_plan` on ``ax``; returns every cell drawn (``age``, ``x``, ``y``,
    ``matched_young``: an old cell's partner when its line is drawn, else -1)."""
    from matplotlib.collections import LineCollection

    young, old, match = np.asarray(young)[:, :2], np.asarray(old)[:, :2], np.asarray(match)
    shown = np.arange(min(len(match), max_lines))
    segments = np.stack([old[shown], young[match[shown]]], axis=1)
    ax.add_collection(LineCollection(segments, colors="0.6", linewidths=0.4, alpha=0.7, label="matched pair"))
    ax.scatter(young[:, 0], young[:, 1], s=point_size, color="C0", linewidths=0, label=f"young ({len(young)})", rasterized=True)
    ax.scatter(old[:, 0], old[:, 1], s=point_size, color="C3", linewidths=0, label=f"old ({len(old)})", rasterized=True)
    ax.set_xlabel("PC 1 of the sample")
    ax.set_ylabel("PC 2 of the sample")
    partner = np.full(len(old), -1)
    partner[shown] = match[shown]
    return pd.DataFrame({"age": ["young"] * len(young) + ["old"] * len(old), "x": np.concatenate([young[:, 0], old[:, 0]]),
                         "y": np.concatenate([young[:, 1], old[:, 1]]), "matched_young": np.concatenate([np.full(len(young), -1), partner])})


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
    names, _ = cosine_matrix(table)
    size = max(2.8, 0.32 * len(names) + 1.6)
    fig, ax = plt.subplots(figsize=(size + 0.6, size))
    im, _ = draw_trajectory_cosines(ax, table)
    fig.colorbar(im, ax=ax, shrink=0.8).set_label("cosine of aging trajectories")
    return finish_figure(fig, title, ax)


def draw_trajectory_cosines(ax, table: pd.DataFrame):
    """Draw :func:`plot_trajectory_cosines` on ``ax``; returns the image and the matrix drawn
    (a DataFrame, cell types in the drawn order)."""
    names, matrix = cosine_matrix(table)
    order = _clustered_order(matrix)
    shown = matrix[np.ix_(order, order)]
    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="0.85")
    im = ax.imshow(np.ma.masked_invalid(shown), cmap=cmap, vmin=-1.0, vmax=1.0, interpolation="nearest")
    labels = [names[i] for i in order]
    ax.set_xticks(np.arange(len(labels)), labels, rotation=90)
    ax.set_yticks(np.arange(len(labels)), labels)
    return im, pd.DataFrame(shown, index=labels, columns=labels)


def paper_figure(inputs, options):
    """Aging magnitudes' paper figure (:class:`figureflow.plotting.paper.PaperFigure`) for one
    dataset (``options["dataset"]``, default the first; ``inputs`` list every aging dataset's
    ``magnitudes``, ``plans`` and ``trajectories`` in the order of ``options["datasets"]``).
    Panels: a, magnitudes with 95% bootstrap intervals; b, the planted shifts (simulated data;
    else the old and young cell counts); c, the transport plan of the strongest cell type; d, the
    cosines of the cell types' aging trajectories.
    """
    from scipy.stats import spearmanr

    from figureflow.io import read_arrays, read_table
    from figureflow.plotting.paper import PaperFigure

    datasets = list(options["datasets"])
    dataset = options.get("dataset") or datasets[0]
    k = datasets.index(dataset)
    table = read_table(inputs.magnitudes[k], dtype={"cell_type": str})
    trajectories = read_table(inputs.trajectories[k], dtype={"cell_type_a": str, "cell_type_b": str})
    figure = PaperFigure("aging", "Aging magnitudes: how far old cells of each type lie from young ones, by optimal transport", "abcd",
                         options["width_mm"], options["height_mm"], width_ratios=[1.1, 0.45, 1.0, 1.0])
    skipped = draw_magnitudes(figure["a"], table, markersize=2.5)
    figure["a"].legend(loc="lower right")
    done = table[table["magnitude"].notna()].sort_values("magnitude").reset_index(drop=True)
    reps = options.get("bootstraps")
    sizes = (f"{int(done['n_per_sample'].min())} to {int(done['n_per_sample'].max())} cells per sample" if len(done)
             else "no cell type had enough young and old cells")
    figure.record("a", done[["cell_type", "magnitude", "ci_low", "ci_high", "n_young", "n_old", "n_per_sample"]],
                  f"Aging magnitude of each cell type of dataset {dataset}: the Wasserstein distance between old and young cells over the mean of "
                  f"the young-young and old-old null distances (1, no change; dashed), mean and 95% interval over {reps} bootstraps; {sizes}"
                  + (f"; skipped: {', '.join(skipped)}" if skipped else ""))
    for r in done.itertuples():
        figure.headline(f"aging magnitude of {r.cell_type} ({dataset})", r.magnitude, None, r.ci_low, r.ci_high, "95% bootstrap interval",
                        f"planted shift {r.planted_shift:g}" if "planted_shift" in done.columns and np.isfinite(r.planted_shift) else "")
    figure["b"].sharey(figure["a"])
    figure["b"].tick_params(labelleft=False)
    planted = "planted_shift" in done.columns and done["planted_shift"].notna().any()
    if planted:
        draw_planted_shift(figure["b"], table)
        rho = spearmanr(done["magnitude"], done["planted_shift"]).statistic
        figure.headline(f"Spearman correlation of magnitudes and planted shifts ({dataset})", rho,
                        note=f"{len(done)} cell types; 1 would rank the planted shifts exactly")
        figure.record("b", done[["cell_type", "planted_shift"]], f"The shift planted in each cell type's simulation (L2 norm of its change in "
                      f"log-mean expression), in the order of a; Spearman's rank correlation with the magnitudes {rho:.2f}")
    else:
        y = np.arange(len(done))
        figure["b"].barh(y - 0.2, done["n_young"], height=0.4, color="C0", label="young")
        figure["b"].barh(y + 0.2, done["n_old"], height=0.4, color="C3", label="old")
        figure["b"].set_xlabel("cells")
        figure["b"].legend(loc="lower right")
        figure.record("b", done[["cell_type", "n_young", "n_old"]], "Young and old cells of each cell type, in the order of a (no planted shift is known)")
    cell_type = str(read_arrays(inputs.plans[k], ["cell_type"])["cell_type"])
    if cell_type:
        plan = read_arrays(inputs.plans[k], ["young_2d", "old_2d", "match"])
        drawn = draw_transport_plan(figure["c"], plan["young_2d"], plan["old_2d"], plan["match"], max_lines=200, point_size=2)
        figure["c"].legend(loc="best", markerscale=2)
        figure.record("c", drawn, f"The optimal transport plan of cell type {cell_type} (the largest magnitude): its old and young cells of one "
                      "bootstrap sample on the sample's first two principal axes, the first 200 old cells joined to the young cells the plan sends them to")
    else:
        figure["c"].set_axis_off()
        figure.record("c", pd.DataFrame({"note": ["no cell type has a magnitude"]}), "No cell type has a magnitude: no transport plan is drawn")
    im, matrix = draw_trajectory_cosines(figure["d"], trajectories)
    figure.fig.colorbar(im, ax=figure["d"], shrink=0.8, aspect=15).set_label("cosine of aging trajectories")
    known = "planted_cosine" in trajectories and trajectories["planted_cosine"].notna().any()
    top = trajectories.loc[trajectories["cosine"].idxmax()] if len(trajectories) else None
    figure.record("d", matrix.reset_index(names="cell_type"), "Cosine similarity of the cell types' aging trajectories (mean old minus mean "
                  "young cell), clustered by average linkage; grey, no trajectory"
                  + (f"; most alike: {top['cell_type_a']} and {top['cell_type_b']} ({top['cosine']:.2f}, 95% interval "
                     f"[{top['ci_low']:.2f}, {top['ci_high']:.2f}])" if top is not None else "")
                  + ("; planted cosines are in the trajectories table" if known else ""))
    return figure
