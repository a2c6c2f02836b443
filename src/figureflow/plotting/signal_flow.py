"""Figures of signal flow: the hierarchy coordinate z per node group, and its mean per block.

The adjacency ordered by z is :func:`figureflow.plotting.data.plot_adjacency` with ``order``.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure

__all__ = ["plot_values_by_group", "draw_values_by_group", "plot_group_means", "order_by_z", "featured_graph", "paper_figure"]


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
    n_groups = 0 if groups is None else len(pd.unique(np.asarray(groups)))
    fig, ax = plt.subplots(figsize=(3.6, 2.8) if groups is None else (max(3.0, 0.45 * n_groups + 1.5), 2.9))
    draw_values_by_group(ax, values, groups, group_name, value_name, rng, max_points_per_group)
    return finish_figure(fig, title, ax)


def draw_values_by_group(ax, values: np.ndarray, groups: np.ndarray | None, group_name: str = "group", value_name: str = "z",
                         rng: np.random.Generator | None = None, max_points_per_group: int = 2000, point_size: float = 3) -> pd.DataFrame:
    """Draw :func:`plot_values_by_group` on ``ax``; returns per group ``n``, ``median``, ``mean`` and ``sd`` (all its nodes)."""
    rng = rng if rng is not None else np.random.default_rng(0)
    values = np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    if groups is None:
        ax.hist(values[ok], bins=min(60, max(10, int(np.sqrt(ok.sum())))), color="0.35")
        ax.set_xlabel(value_name)
        ax.set_ylabel("nodes")
        d = values[ok]
        return pd.DataFrame({"group": ["all"], "n": [d.size], "median": [np.median(d)], "mean": [d.mean()], "sd": [d.std()]})
    groups = np.asarray(groups)
    labels = pd.unique(groups[ok])
    if np.issubdtype(np.asarray(labels).dtype, np.number):
        labels = np.sort(labels)
    data = [values[ok & (groups == g)] for g in labels]
    colors = categorical_colors(labels)
    positions = np.arange(len(labels))
    parts = ax.violinplot(data, positions=positions, showextrema=False, widths=0.8)
    for body, g in zip(parts["bodies"], labels):
        body.set_facecolor(colors[g])
        body.set_alpha(0.35)
    for k, (g, d) in enumerate(zip(labels, data)):
        shown = d if d.size <= max_points_per_group else rng.choice(d, max_points_per_group, replace=False)
        jitter = rng.uniform(-0.18, 0.18, size=shown.size)
        ax.scatter(k + jitter, shown, s=point_size, color=colors[g], linewidths=0, rasterized=True)
        ax.hlines(np.median(d), k - 0.3, k + 0.3, color="black", linewidth=1.2)
    ax.set_xticks(positions, [str(g) for g in labels], rotation=90 if max(len(str(g)) for g in labels) > 4 else 0)
    ax.set_xlabel(group_name)
    ax.set_ylabel(value_name)
    return pd.DataFrame({"group": [str(g) for g in labels], "n": [d.size for d in data], "median": [np.median(d) for d in data],
                         "mean": [d.mean() for d in data], "sd": [d.std() for d in data]})


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


def order_by_z(z: np.ndarray) -> np.ndarray:
    """Node order by signal flow: highest z (sources) first, ties by node index, nodes without z last."""
    z = np.asarray(z, dtype=float)
    return np.lexsort((np.arange(z.size), -np.nan_to_num(z, nan=-np.inf)))


def featured_graph(graphs, summaries: dict, chosen: str | None = None) -> str:
    """The graph a paper figure shows: ``chosen``, else the first that is neither perfectly layered
    nor without direction (trophic incoherence between 0.01 and 0.99), else the first."""
    if chosen is not None:
        return chosen
    return next((g for g in graphs if 0.01 < float(summaries[g]["trophic_incoherence"]) < 0.99), list(graphs)[0])


def paper_figure(inputs, options):
    """Signal flow's paper figure (:class:`figureflow.plotting.paper.PaperFigure`).

    ``inputs.nodes``, ``inputs.summaries`` and ``inputs.adjacency`` list every graph's
    ``nodes.tsv``, ``summary.tsv`` and ``.npz`` in the order of ``options["graphs"]``
    (``options["group_by"]``: each graph's node grouping). Panels: a, the featured graph's
    adjacency ordered by z (``options["graph"]``, default :func:`featured_graph`); b, z by node
    group; c, trophic incoherence F0 and the downhill fraction of every graph.
    """
    import scipy.sparse as sp

    from figureflow.io import node_groups, read_nodes, read_table
    from figureflow.plotting.paper import PaperFigure
    from figureflow.seeding import generator
    graphs = list(options["graphs"])
    summaries = {g: read_table(p).iloc[0] for g, p in zip(graphs, inputs.summaries)}
    g = featured_graph(graphs, summaries, options.get("graph"))
    k = graphs.index(g)
    nodes = read_nodes(inputs.nodes[k])
    z = nodes["z"].to_numpy(dtype=float)
    adjacency = sp.load_npz(inputs.adjacency[k])
    figure = PaperFigure("signal_flow", "Signal flow: the hierarchy coordinate z of every node of a directed graph", "abc",
                         options["width_mm"], options["height_mm"], width_ratios=[1.0, 1.0, 1.0])
    im, image, exact = draw_adjacency_by_z(figure["a"], adjacency, z, int(options["max_bins"]))
    figure.fig.colorbar(im, ax=figure["a"], shrink=0.8, aspect=15).set_label("edge weight" if exact else "edge density")
    s = summaries[g]
    figure.record("a", pd.DataFrame(image), f"Adjacency of graph {g} ({int(s['n_nodes']):,} nodes, {int(s['n_edges']):,} edges; rows, sources; "
                  f"columns, targets) with nodes ordered by z from high to low" + ("" if exact else f", in {image.shape[0]} bins of consecutive "
                  "nodes (edge weight per node pair)") + "; edges above the diagonal point downhill")
    group_by, groups = node_groups(nodes, options["group_by"].get(g))
    rng = generator(int(options["seed"]), "paper_figure", {"method": "signal_flow"})
    stats = draw_values_by_group(figure["b"], z, groups, group_by or "", "signal flow z", rng, max_points_per_group=500, point_size=1.5)
    figure.record("b", stats, f"z of the nodes of graph {g}" + (f" by {group_by}" if group_by else "") + " (violins, all nodes; points, up "
                  "to 500 per group drawn at random; black bars, medians)" + (f"; medians from {stats['median'].iloc[0]:.3f} "
                  f"({stats['group'].iloc[0]}) to {stats['median'].iloc[-1]:.3f} ({stats['group'].iloc[-1]})" if len(stats) > 1 else ""))
    f0 = np.array([float(summaries[name]["trophic_incoherence"]) for name in graphs])
    down = np.array([float(summaries[name]["downhill_fraction"]) for name in graphs])
    for name, value, frac in zip(graphs, f0, down):
        figure.headline(f"trophic incoherence F0 of graph {name}", value, note=f"{frac:.1%} of edge weight downhill")
    y = np.arange(len(graphs))[::-1]
    figure["c"].barh(y, f0, color=[OKABE_BLUE if name == g else "0.6" for name in graphs], height=0.6)
    for yy, value, frac in zip(y, f0, down):
        figure["c"].text(value + 0.02, yy, f"{value:.2f} ({frac:.0%} downhill)", va="center", ha="left")
    figure["c"].set_yticks(y, graphs)
    figure["c"].set_xlim(0, 1.6)
    figure["c"].set_xticks([0, 0.5, 1.0])
    figure["c"].set_xlabel("trophic incoherence F0")
    figure.record("c", pd.DataFrame({"graph": graphs, "trophic_incoherence": f0, "downhill_fraction": down}),
                  "Trophic incoherence F0 of every graph of the config (0, perfectly layered; near 1, no direction) with the fraction of edge "
                  f"weight pointing downhill; graph {g} of a and b in blue")
    return figure


OKABE_BLUE = "#0072B2"


def draw_adjacency_by_z(ax, adjacency, z: np.ndarray, max_bins: int):
    """The adjacency heatmap of :func:`figureflow.plotting.data.draw_adjacency` with nodes ordered by z, high to low."""
    from figureflow.plotting.data import draw_adjacency

    return draw_adjacency(ax, adjacency, order=order_by_z(z), order_name="z", max_bins=max_bins, colorbar=False)
