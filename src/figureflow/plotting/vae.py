"""Figures of beta-VAE runs: training curves, latent traversals, the latent space coloured by
factors or labels, and the disentanglement comparison across objectives and baselines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure, subsample_indices

__all__ = [
    "plot_training_curves",
    "plot_image_traversal",
    "plot_image_traversals",
    "plot_gene_traversal",
    "plot_latent_space",
    "plot_comparison",
    "informative_dimensions",
    "learned_nothing_note",
    "draw_scores",
    "traversal_mosaic",
    "paper_figure",
]


def informative_dimensions(kl_per_dim: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` latent dimensions with the largest KL to the prior, most informative first."""
    return np.argsort(-np.asarray(kl_per_dim), kind="stable")[:n]


@house_figure
def plot_training_curves(history: pd.DataFrame, title: str | None = None, note: str | None = None):
    """Training and held-out loss per epoch (a line per replicate), and the KL term (with the
    capacity target ``C`` when present); ``note`` is written under the panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_loss, ax_kl) = plt.subplots(1, 2, figsize=(7.2, 2.8))
    for r, rows in history.groupby("replicate", sort=True):
        first = r == history["replicate"].min()
        ax_loss.plot(rows["epoch"], rows["train_loss"], color="C0", lw=1, label="training" if first else None)
        ax_loss.plot(rows["epoch"], rows["held_out_loss"], color="C3", lw=1, ls="--", label="held-out (-ELBO)" if first else None)
        ax_kl.plot(rows["epoch"], rows["kl"], color="C2", lw=1, label="KL" if first else None)
        if "C" in rows and rows["C"].notna().any():
            ax_kl.plot(rows["epoch"], rows["C"], color="0.3", lw=1, ls=":", label="capacity C" if first else None)
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("loss per sample (nats)")
    ax_loss.legend(frameon=False)
    ax_kl.set_xlabel("epoch")
    ax_kl.set_ylabel("KL(q(z|x) || p(z)) (nats)")
    ax_kl.legend(frameon=False)
    _note(fig, note)
    return finish_figure(fig, title)


def learned_nothing_note(metrics: pd.DataFrame, replicate: int = 0) -> str | None:
    """The sentence a figure of ``replicate`` carries when it learned nothing (``metrics.tsv``'s
    ``why``), or None."""
    if "learned_nothing" not in metrics:
        return None
    row = metrics[metrics["replicate"] == replicate]
    if row.empty or not bool(row["learned_nothing"].iloc[0]):
        return None
    return f"Replicate {replicate} learned nothing: {row['why'].iloc[0]}."


def _note(fig, note: str | None):
    if note:
        fig.text(0.5, 0.0, note, ha="center", va="top", color="#b2182b", fontsize=7, wrap=True)


def _traversal_block(axes, traversal: np.ndarray, values: np.ndarray, canvas: int, kl_per_dim: np.ndarray, active_kl: float) -> None:
    d, steps, _ = traversal.shape
    for row, j in enumerate(informative_dimensions(kl_per_dim, d)):
        for s in range(steps):
            ax = axes[row, s]
            ax.imshow(traversal[j, s].reshape(canvas, canvas), cmap="Greys", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():  # the canvas' whole border, so that position reads off each image
                spine.set_visible(True)
                spine.set_color("0.6")
                spine.set_linewidth(0.5)
            if s == 0:
                label = f"z{j + 1}\nKL {kl_per_dim[j]:.2f}" + ("" if kl_per_dim[j] > active_kl else "\ninactive")
                ax.set_ylabel(label, rotation=0, ha="right", va="center", fontsize=7)
            if row == d - 1:
                ax.set_xlabel(f"{values[s]:+.1f}", fontsize=7)


@house_figure
def plot_image_traversal(traversal: np.ndarray, values: np.ndarray, canvas: int, kl_per_dim: np.ndarray, title: str | None = None,
                         active_kl: float = 0.01, note: str | None = None):
    """Decoded images: a row per latent dimension (``traversal (d, steps, canvas^2)``), a column
    per value. Rows run from the largest KL to the prior to the smallest (active units first);
    each is labelled with its dimension and KL, and a dimension at or below ``active_kl`` nats
    with "inactive". ``note`` (e.g. :func:`learned_nothing_note`) is written under the panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    return plot_image_traversals([traversal], values, canvas, [kl_per_dim], None, title, active_kl, [note])


@house_figure
def plot_image_traversals(traversals, values: np.ndarray, canvas: int, kl_per_dims, labels=None, title: str | None = None,
                          active_kl: float = 0.01, notes=None):
    """:func:`plot_image_traversal` for several replicates side by side: a block of columns per
    replicate (``traversals[r] (d, steps, canvas^2)``, ``kl_per_dims[r]``), each block's rows in
    its own KL order and headed by ``labels[r]``. ``notes`` (one per replicate, or None) are
    written under the panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    blocks = len(traversals)
    d, steps, _ = np.asarray(traversals[0]).shape
    columns = blocks * steps + (blocks - 1)  # a narrow gap between blocks
    widths = ([1.0] * steps + [0.9]) * (blocks - 1) + [1.0] * steps
    fig, axes = plt.subplots(d, columns, figsize=(0.75 * (blocks * steps + 0.9 * (blocks - 1)) + 0.8, 0.75 * d + 0.6),
                             squeeze=False, gridspec_kw={"width_ratios": widths})
    for b in range(blocks):
        start = b * (steps + 1)
        _traversal_block(axes[:, start : start + steps], np.asarray(traversals[b]), values, canvas, np.asarray(kl_per_dims[b]), active_kl)
        if labels is not None:
            axes[0, start + steps // 2].set_title(labels[b], fontsize=8)
        if b < blocks - 1:
            for ax in axes[:, start + steps]:
                ax.axis("off")
    _note(fig, " ".join(n for n in (notes or []) if n) or None)
    return finish_figure(fig, title)


@house_figure
def plot_gene_traversal(traversal: np.ndarray, values: np.ndarray, kl_per_dim: np.ndarray, genes=None, n_genes: int = 30, n_dims: int = 4,
                        title: str | None = None, note: str | None = None):
    """For the ``n_dims`` most informative latent dimensions, a heatmap of the ``n_genes`` genes
    whose decoded log mean varies most along that dimension (rows) against the traversal values
    (columns), centred per gene; ``note`` is written under the panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    dims = informative_dimensions(kl_per_dim, min(n_dims, traversal.shape[0]))
    genes = np.asarray(genes) if genes is not None else np.array([f"gene {g}" for g in range(traversal.shape[2])])
    fig, axes = plt.subplots(1, len(dims), figsize=(2.3 * len(dims) + 0.6, 4.2), squeeze=False)
    logs = np.log1p(np.clip(traversal, 0, None)) if traversal.min() >= 0 else traversal
    reach = 0.0
    panels = []
    for j in dims:
        profile = logs[j]  # (steps, genes)
        top = np.argsort(-(profile.max(axis=0) - profile.min(axis=0)), kind="stable")[:n_genes]
        centred = (profile[:, top] - profile[:, top].mean(axis=0)).T
        reach = max(reach, float(np.abs(centred).max()))
        panels.append((j, top, centred))
    for ax, (j, top, centred) in zip(axes[0], panels):
        image = ax.imshow(centred, aspect="auto", cmap="RdBu_r", vmin=-reach or -1, vmax=reach or 1)
        ax.set_xticks(range(len(values)), [f"{v:+.1f}" for v in values], fontsize=6)
        ax.set_yticks(range(len(top)), genes[top], fontsize=5)
        ax.set_xlabel(f"z{j + 1} (KL {kl_per_dim[j]:.2f})")
    fig.colorbar(image, ax=axes[0].tolist(), label="decoded log1p mean, centred", shrink=0.8)
    _note(fig, note)
    return finish_figure(fig, title, tight=False)


@house_figure
def plot_latent_space(z: np.ndarray, colours: dict, kl_per_dim: np.ndarray, title: str | None = None, note: str | None = None,
                      max_points: int = 4000):
    """The two most informative latent dimensions, a panel per colouring: ``colours`` maps a name
    to per-row values (numbers: a continuous scale; text: categories); ``note`` is written under the panels.

    Beyond ``max_points`` rows, a fixed random subset of them (in row order) is drawn, and the
    title says how many: drawing 10,000 points in each of five panels took longer than the
    rest of the figure, and shows no more.

    Returns
    -------
    matplotlib.figure.Figure
    """
    a, b = informative_dimensions(kl_per_dim, 2)
    n = len(z)
    if n > max_points:
        rows = np.sort(subsample_indices(n, max_points, np.random.default_rng(0)))
        z, colours = z[rows], {name: np.asarray(values)[rows] for name, values in colours.items()}
        title = f"{title or 'latent space'} ({max_points:,} of {n:,} points)"
    fig, axes = plt.subplots(1, len(colours), figsize=(3.0 * len(colours), 2.9), squeeze=False)
    for ax, (name, values) in zip(axes[0], colours.items()):
        values = np.asarray(values)
        if values.dtype.kind in "fiu":
            points = ax.scatter(z[:, a], z[:, b], c=values, s=3, cmap="viridis", linewidths=0, rasterized=True)
            fig.colorbar(points, ax=ax, shrink=0.8)
        else:
            palette = categorical_colors(sorted(set(values)))
            for category, colour in palette.items():
                mask = values == category
                ax.scatter(z[mask, a], z[mask, b], color=colour, s=3, linewidths=0, label=category, rasterized=True)
            ax.legend(frameon=False, fontsize=5, markerscale=2, loc="best")
        ax.set_xlabel(f"z{a + 1}")
        ax.set_ylabel(f"z{b + 1}")
        ax.set_title(name, fontsize=8)
    _note(fig, note)
    return finish_figure(fig, title)


def _score_top(scores: pd.DataFrame, metric: str, methods) -> float:
    """The highest point a score panel draws: a seed's score or a mean + sd (0 when none), so
    that no error bar runs off the top of its axes."""
    top = 0.0
    for method in methods:
        values = scores.loc[scores["method"] == method, metric].to_numpy(dtype=float)
        values = values[np.isfinite(values)]
        if len(values):
            sd = values.std(ddof=1) if len(values) > 1 else 0.0
            top = max(top, float(values.max()), float(values.mean() + sd))
    return top


SCORE_LABELS = {"mig_dlib": "MIG (disentanglement_lib)", "mig_binned": "MIG (binned factors)", "sap": "SAP"}


@house_figure
def plot_comparison(scores: pd.DataFrame, metrics=("mig_dlib", "mig_binned", "sap"), title: str | None = None):
    """Per simulation (rows) and metric (columns): each method's score per seed (points) and its
    mean +- sd (bar and line), methods in table order; a metric a simulation lacks (NaN: the
    disentanglement_lib MIG needs factor classes) is written "n/a".

    Returns
    -------
    matplotlib.figure.Figure
    """
    datasets = list(dict.fromkeys(scores["data"]))
    fig, axes = plt.subplots(len(datasets), len(metrics), figsize=(3.6 * len(metrics), 2.6 * len(datasets)), squeeze=False)
    for i, data in enumerate(datasets):
        rows = scores[scores["data"] == data]
        methods = list(dict.fromkeys(rows["method"]))
        for k, metric in enumerate(metrics):
            ax = axes[i, k]
            for m, method in enumerate(methods):
                values = rows.loc[rows["method"] == method, metric].to_numpy(dtype=float)
                if np.isnan(values).all():
                    ax.text(m, 0.0, "n/a", ha="center", va="bottom", fontsize=6)
                    continue
                mean, sd = values.mean(), values.std(ddof=1) if len(values) > 1 else 0.0
                ax.bar(m, mean, color="0.85", width=0.7)
                ax.errorbar(m, mean, yerr=sd, color="black", capsize=3, lw=1)
                ax.plot(np.full(len(values), m) + np.linspace(-0.15, 0.15, len(values)), values, "o", color="C0", ms=3)
            ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right", fontsize=7)
            top = _score_top(rows, metric, methods)
            ax.set_ylim(0, max(0.05, top * 1.15))
            ax.set_ylabel(SCORE_LABELS.get(metric, metric))
            ax.set_title(f"{data}: {SCORE_LABELS.get(metric, metric)} (mean +- sd)", fontsize=8)
    return finish_figure(fig, title)


def draw_scores(ax, scores: pd.DataFrame, metric: str, methods=None) -> pd.DataFrame:
    """Draw on ``ax`` each method's ``metric`` per seed (points) and its mean +- sd (bar and line),
    methods in table order (or ``methods``); "n/a" where the metric is missing. Returns the
    summary drawn (``method``, ``mean``, ``sd``, ``seeds``, ``values``)."""
    methods = list(methods or dict.fromkeys(scores["method"]))
    rows = []
    for m, method in enumerate(methods):
        values = scores.loc[scores["method"] == method, metric].to_numpy(dtype=float)
        if np.isnan(values).all():
            ax.text(m, 0.0, "n/a", ha="center", va="bottom")
            rows.append({"method": method, "mean": np.nan, "sd": np.nan, "seeds": len(values), "values": ""})
            continue
        mean, sd = np.nanmean(values), (np.nanstd(values, ddof=1) if np.isfinite(values).sum() > 1 else 0.0)
        ax.bar(m, mean, color="0.85", width=0.7)
        ax.errorbar(m, mean, yerr=sd, color="black", capsize=2, lw=0.75)
        ax.plot(np.full(len(values), m) + np.linspace(-0.15, 0.15, len(values)), values, "o", color="C0", ms=2)
        rows.append({"method": method, "mean": mean, "sd": sd, "seeds": len(values), "values": ", ".join(f"{v:.4f}" for v in values)})
    ax.set_xticks(range(len(methods)), methods, rotation=35, ha="right")
    top = _score_top(scores, metric, methods)
    ax.set_ylim(0, max(0.05, top * 1.15))
    ax.set_ylabel(SCORE_LABELS.get(metric, metric))
    return pd.DataFrame(rows)


def traversal_mosaic(traversal: np.ndarray, canvas: int, dims, gap: int = 2) -> np.ndarray:
    """The decoded images of ``traversal (d, steps, canvas^2)`` for the latent dimensions ``dims``
    as one image, dark objects on white: a row per dimension, a column per value, ``gap`` pixels of
    grey between them (so that an object's position on its canvas reads off each image)."""
    steps = traversal.shape[1]
    size = canvas + gap
    mosaic = np.full((len(dims) * size + gap, steps * size + gap), 0.7)
    for r, j in enumerate(dims):
        for s in range(steps):
            mosaic[gap + r * size : gap + r * size + canvas, gap + s * size : gap + s * size + canvas] = 1.0 - traversal[j, s].reshape(canvas, canvas)
    return mosaic


def paper_figure(inputs, options):
    """The beta-VAE's paper figure (:class:`figureflow.plotting.paper.PaperFigure`).

    ``inputs.scores`` is ``scores.tsv``; ``inputs.latents`` and ``inputs.metrics`` list the run-level
    ``latent.npz`` and ``metrics.tsv`` of every run on a simulation, in the order of
    ``options["runs"]`` (``options["run_data"]``: each run's simulation). Panels: a and b, MIG and
    SAP of every objective and of PCA and FastICA on the featured simulation; c, the latent
    traversals of the featured run (``options["run"]``, default the image run with the highest mean
    disentanglement_lib MIG, else the run with the highest MIG); d, its latent space coloured by the
    factor its most informative dimension captures best.
    """
    from scipy.stats import spearmanr

    from figureflow.io import read_arrays, read_table
    from figureflow.plotting.paper import PaperFigure

    runs = list(options["runs"])
    scores = read_table(inputs.scores)
    metrics = {r: read_table(p) for r, p in zip(runs, inputs.metrics)}
    latents = dict(zip(runs, inputs.latents))
    image_runs = [r for r in runs if "canvas" in np.load(latents[r], allow_pickle=False).files]
    mig = {r: float(np.nanmean(metrics[r]["mig_dlib" if r in image_runs else "mig_binned"].to_numpy(dtype=float))) for r in runs}
    run = options.get("run") or max(image_runs or runs, key=lambda r: (np.nan_to_num(mig[r], nan=-1.0), -runs.index(r)))
    data = options["run_data"][run]
    rows = scores[scores["data"] == data]
    metric = "mig_dlib" if rows["mig_dlib"].notna().any() else "mig_binned"
    figure = PaperFigure("vae", "Disentangling a latent space: beta-VAE objectives scored against known factors", "ab;cd", options["width_mm"],
                         options["height_mm"], width_ratios=[1.0, 1.0], height_ratios=[1.0, 1.25])
    summary_a = draw_scores(figure["a"], rows, metric)
    seeds = int(rows.groupby("method").size().max())
    figure.record("a", summary_a, f"{SCORE_LABELS[metric]} of every objective and of PCA and FastICA on simulation {data} (points, seeds, up to "
                  f"{seeds} per method; bars, mean +- sd): " + "; ".join(f"{r.method} {r.mean:.3f}" for r in summary_a.itertuples() if np.isfinite(r.mean)))
    for method in summary_a["method"]:
        values = rows.loc[rows["method"] == method, metric].to_numpy(dtype=float)
        if np.isfinite(values).any():
            figure.headline(f"{SCORE_LABELS[metric]} of {method} ({data})", np.nanmean(values), None, np.nanmin(values), np.nanmax(values),
                            f"range over {np.isfinite(values).sum()} seed(s)")
    summary_b = draw_scores(figure["b"], rows, "sap")
    figure.record("b", summary_b, "SAP on the same models and baselines: " + "; ".join(f"{r.method} {r.mean:.3f}" for r in summary_b.itertuples()
                                                                                      if np.isfinite(r.mean)))
    arrays = read_arrays(latents[run], ["z", "kl_per_dim", "traversal", "traversal_values"], optional=["canvas", "factors", "factor_names", "var_names"])
    kl = arrays["kl_per_dim"]
    active = int((kl > float(options.get("active_kl", 0.01))).sum())
    m = metrics[run]
    replicate = 0
    if "canvas" in arrays:
        canvas = int(arrays["canvas"])
        dims = informative_dimensions(kl, min(len(kl), max(3, min(active, 6))))
        mosaic = traversal_mosaic(arrays["traversal"], canvas, dims)
        figure["c"].imshow(mosaic, cmap="Greys_r", vmin=0, vmax=1, interpolation="nearest")
        size = canvas + 2
        figure["c"].set_yticks(2 + np.arange(len(dims)) * size + canvas / 2, [f"z{j + 1} (KL {kl[j]:.2f})" for j in dims])
        figure["c"].set_xticks(2 + np.arange(len(arrays["traversal_values"])) * size + canvas / 2, [f"{v:+.1f}" for v in arrays["traversal_values"]])
        figure["c"].set_xlabel("latent value (others at the base image's code)")
        for spine in figure["c"].spines.values():
            spine.set_visible(False)
        figure["c"].tick_params(length=0)
        drawn_c = pd.DataFrame(mosaic)
        what = f"decoded {canvas} x {canvas} images"
    else:
        dims = informative_dimensions(kl, 1)
        change = arrays["traversal"][dims[0]] - arrays["traversal"][dims[0]].mean(axis=0, keepdims=True)
        top = np.argsort(-np.abs(change).max(axis=0))[:20]
        reach = float(np.abs(change[:, top]).max()) or 1.0
        im = figure["c"].imshow(change[:, top].T, cmap="RdBu_r", vmin=-reach, vmax=reach, aspect="auto")
        names = arrays.get("var_names")
        figure["c"].set_yticks(range(len(top)), [str(names[g]) if names is not None else f"gene {g}" for g in top])
        figure["c"].set_xticks(range(len(arrays["traversal_values"])), [f"{v:+.1f}" for v in arrays["traversal_values"]])
        figure["c"].set_xlabel(f"z{dims[0] + 1} (KL {kl[dims[0]]:.2f})")
        figure.fig.colorbar(im, ax=figure["c"], shrink=0.8, aspect=15).set_label("decoded mean, centred")
        drawn_c = pd.DataFrame(change[:, top].T)
        what = "the 20 genes whose decoded means change most"
    figure.record("c", drawn_c, f"Latent traversals of run {run} (replicate {replicate}; {active} of {len(kl)} units active, KL to the prior above "
                  f"{float(options.get('active_kl', 0.01)):g} nats): {what} as one latent dimension sweeps from "
                  f"{arrays['traversal_values'][0]:+.1f} to {arrays['traversal_values'][-1]:+.1f}, rows by decreasing KL; "
                  f"replicate MIG {float(m[metric].iloc[0]):.3f}, held-out ELBO {float(m['held_out_elbo'].iloc[0]):.1f}")
    a, b = informative_dimensions(kl, 2)
    z = arrays["z"]
    if "factors" in arrays:
        factors, names = arrays["factors"], [str(n) for n in arrays["factor_names"]]
        strength = [abs(spearmanr(z[:, a], factors[:, k]).statistic) if np.ptp(factors[:, k]) > 0 else 0.0 for k in range(factors.shape[1])]
        k = int(np.argmax(strength))
        points = figure["d"].scatter(z[:, a], z[:, b], c=factors[:, k], s=0.8, cmap="viridis", linewidths=0, rasterized=True)
        figure.fig.colorbar(points, ax=figure["d"], shrink=0.8, aspect=15).set_label(names[k])
        colour, label = factors[:, k], f"coloured by the known factor {names[k]} (|Spearman| with z{a + 1} {strength[k]:.2f})"
    else:
        figure["d"].scatter(z[:, a], z[:, b], s=0.8, color="0.3", linewidths=0, rasterized=True)
        colour, label = np.full(len(z), np.nan), "(no known factors)"
    figure["d"].set_xlabel(f"z{a + 1}")
    figure["d"].set_ylabel(f"z{b + 1}")
    figure.record("d", pd.DataFrame({f"z{a + 1}": z[:, a], f"z{b + 1}": z[:, b], "colour": colour}),
                  f"The posterior means of run {run}'s {len(z):,} rows on its two most informative dimensions, {label}")
    return figure
