"""Figures of continuous normalizing flows: the learned density beside the data, samples, the
trajectories from noise to data, and the training curve, all drawn from a run's tables and arrays."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure

__all__ = ["plot_density", "plot_samples", "plot_trajectories", "plot_training_curve", "draw_learned_density", "draw_trajectory_paths",
           "paper_figure"]


def _scatter(ax, points, colour="0.2", size=2.0, alpha=0.5):
    ax.scatter(points[:, 0], points[:, 1], s=size, c=colour, alpha=alpha, linewidths=0, rasterized=True)


def _square(ax, extent, names):
    ax.set_xlim(-extent, extent)
    ax.set_ylim(-extent, extent)
    ax.set_aspect("equal")
    ax.set_xlabel(f"{names[0]} (standardized)")
    ax.set_ylabel(f"{names[1]} (standardized)")


@house_figure
def plot_density(held_out: np.ndarray, names, axis: np.ndarray | None = None, log_density: np.ndarray | None = None,
                 point_log_density: np.ndarray | None = None, metrics: dict | None = None, title: str | None = None):
    """The data (held-out points) and, for a 2-D flow, its learned density ``exp(log p)`` on the
    grid ``axis x axis`` (``log_density (size, size)``, rows the second coordinate); for more
    dimensions, the held-out points on the first two coordinates coloured by ``point_log_density``.
    ``metrics`` (``held_out_nll``, ``true_nll``, ``gmm_nll``) are written on the density panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_data, ax_model) = plt.subplots(1, 2, figsize=(7.2, 3.4))
    extent = float(axis[-1]) if axis is not None else float(np.quantile(np.abs(held_out[:, :2]), 0.995)) * 1.05
    _scatter(ax_data, held_out)
    ax_data.set_title(f"held-out data ({len(held_out)} points)")
    if log_density is not None:
        image = draw_learned_density(ax_model, axis, log_density)
        fig.colorbar(image, ax=ax_model, label="learned density p(x)", shrink=0.8)
        ax_model.set_title("learned density")
    else:
        order = np.argsort(point_log_density)
        image = ax_model.scatter(held_out[order, 0], held_out[order, 1], c=point_log_density[order], s=3, cmap="magma", linewidths=0, rasterized=True)
        fig.colorbar(image, ax=ax_model, label="learned log p(x)", shrink=0.8)
        ax_model.set_title("held-out points by learned log-density")
    for ax in (ax_data, ax_model):
        _square(ax, extent, names)
    if metrics:
        lines = [f"{label} {metrics[key]:.3f}" for key, label in (("held_out_nll", "NLL"), ("true_nll", "true"), ("gmm_nll", "GMM"))
                 if key in metrics and np.isfinite(metrics[key])]
        ax_model.text(0.02, 0.98, "\n".join(lines), transform=ax_model.transAxes, va="top", ha="left", color="white", fontsize=7)
    return finish_figure(fig, title)


@house_figure
def plot_samples(held_out: np.ndarray, samples: np.ndarray, names, title: str | None = None):
    """Flow samples ``x(1)`` beside the held-out data on the first two coordinates, same axes.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, (ax_data, ax_samples) = plt.subplots(1, 2, figsize=(6.4, 3.2), sharex=True, sharey=True)
    extent = float(np.quantile(np.abs(np.concatenate([held_out[:, :2], samples[:, :2]])), 0.995)) * 1.05
    _scatter(ax_data, held_out)
    ax_data.set_title(f"data ({len(held_out)})")
    _scatter(ax_samples, samples, colour="C0")
    ax_samples.set_title(f"flow samples ({len(samples)})")
    for ax in (ax_data, ax_samples):
        _square(ax, extent, names)
    return finish_figure(fig, title)


@house_figure
def plot_trajectories(trajectory: np.ndarray, times: np.ndarray, names, n_paths: int = 60, title: str | None = None):
    """Samples at each time of ``trajectory (T, n, D)`` (a panel per time, from noise at ``t = 0``
    to data at ``t = 1``), with ``n_paths`` paths drawn through the last panel.

    Returns
    -------
    matplotlib.figure.Figure
    """
    T = len(times)
    fig, axes = plt.subplots(1, T, figsize=(1.9 * T, 2.2), sharex=True, sharey=True, squeeze=False)
    axes = axes[0]
    extent = float(np.quantile(np.abs(trajectory[:, :, :2]), 0.995)) * 1.05
    colour = trajectory[0, :, 0]  # colour by where a sample starts, so that its journey can be followed
    for k, ax in enumerate(axes):
        ax.scatter(trajectory[k, :, 0], trajectory[k, :, 1], s=1.5, c=colour, cmap="viridis", linewidths=0, rasterized=True)
        ax.set_title(f"t = {times[k]:.2f}")
        ax.set_xlim(-extent, extent)
        ax.set_ylim(-extent, extent)
        ax.set_aspect("equal")
        ax.set_xlabel(names[0])
    axes[0].set_ylabel(names[1])
    for path in range(min(n_paths, trajectory.shape[1])):
        axes[-1].plot(trajectory[:, path, 0], trajectory[:, path, 1], color="0.3", lw=0.4, alpha=0.6)
    return finish_figure(fig, title)


@house_figure
def plot_training_curve(history: pd.DataFrame, reference: dict | None = None, title: str | None = None):
    """Training loss per epoch against iterations (flow-matching loss and NLL on separate axes when
    both phases ran) and the held-out NLL at each evaluation; ``reference`` lines (e.g. ``{"true
    density": 0.93, "Gaussian mixture": 0.98}``) mark what the NLL is compared with.

    Returns
    -------
    matplotlib.figure.Figure
    """
    has_fm = "flow_matching" in history and history["flow_matching"].notna().any()
    fig, axes = plt.subplots(1, 2 if has_fm else 1, figsize=(7.2 if has_fm else 4.0, 3.0), squeeze=False)
    ax_nll = axes[0, -1]
    if has_fm:
        fm = history[history["flow_matching"].notna()]
        axes[0, 0].plot(fm["iteration"], fm["flow_matching"], color="C2", lw=1)
        axes[0, 0].set_xlabel("iteration")
        axes[0, 0].set_ylabel("flow-matching loss (training)")
    if "nll" in history and history["nll"].notna().any():
        ml = history[history["nll"].notna()]
        ax_nll.plot(ml["iteration"], ml["nll"], color="C0", lw=1, label="training NLL")
    held = history[history["held_out_loss"].notna()]
    ax_nll.plot(held["iteration"], held["held_out_loss"], color="C3", lw=1, marker="o", ms=2.5, label="held-out NLL")
    for k, (label, value) in enumerate((reference or {}).items()):
        if np.isfinite(value):
            ax_nll.axhline(value, color=f"{0.2 + 0.25 * k:.2f}", lw=0.8, ls=":", label=f"{label} {value:.3f}")
    ax_nll.set_xlabel("iteration")
    ax_nll.set_ylabel("NLL (nats per point)")
    low = min([held["held_out_loss"].min()] + [v for v in (reference or {}).values() if np.isfinite(v)])
    ax_nll.set_ylim(low - 0.05, max(low + 0.5, float(held["held_out_loss"].quantile(0.5)) + 0.1))
    ax_nll.legend(frameon=False, fontsize=7)
    return finish_figure(fig, title)


def draw_learned_density(ax, axis: np.ndarray, log_density: np.ndarray):
    """Draw ``exp(log p)`` on the grid ``axis x axis`` on ``ax`` (rows the second coordinate); returns the image."""
    return ax.imshow(np.exp(log_density), origin="lower", extent=(axis[0], axis[-1], axis[0], axis[-1]), cmap="magma", interpolation="nearest")


def draw_trajectory_paths(ax, trajectory: np.ndarray, times: np.ndarray, n_paths: int = 60) -> pd.DataFrame:
    """Draw on ``ax`` the samples at the first time (noise, grey) and the last (data, coloured by
    where each started) with ``n_paths`` paths through every time. Returns the paths drawn (long
    form: ``path``, ``t``, ``x1``, ``x2``)."""
    start, end = trajectory[0], trajectory[-1]
    ax.scatter(start[:, 0], start[:, 1], s=0.8, color="0.75", linewidths=0, rasterized=True)
    ax.scatter(end[:, 0], end[:, 1], s=0.8, c=start[:, 0], cmap="viridis", linewidths=0, rasterized=True)
    shown = min(n_paths, trajectory.shape[1])
    for path in range(shown):
        ax.plot(trajectory[:, path, 0], trajectory[:, path, 1], color="0.2", lw=0.3, alpha=0.8)
    return pd.DataFrame({"path": np.repeat(np.arange(shown), len(times)), "t": np.tile(times, shown),
                         "x1": trajectory[:, :shown, 0].T.ravel(), "x2": trajectory[:, :shown, 1].T.ravel()})


def paper_figure(inputs, options):
    """The CNF's paper figure (:class:`figureflow.plotting.paper.PaperFigure`).

    ``inputs.metrics`` and ``inputs.arrays`` list every run's ``metrics.tsv`` and
    ``figure_data.npz`` in the order of ``options["runs"]``. Panels: a, the featured run's
    held-out data (``options["run"]``, default the first 2-D run with a known density); b, its
    learned density; c, trajectories from noise to data; d, every run's held-out NLL beside the
    true density's and a Gaussian mixture's.
    """
    from figureflow.io import read_table
    from figureflow.plotting.paper import PaperFigure

    runs = list(options["runs"])
    metrics = {r: read_table(p).iloc[0] for r, p in zip(runs, inputs.metrics)}
    arrays = {}
    for r, path in zip(runs, inputs.arrays):
        with np.load(path, allow_pickle=False) as f:
            arrays[r] = {k: f[k] for k in f.files}
    two_d = [r for r in runs if "log_density" in arrays[r]]
    run = options.get("run") or next((r for r in two_d if np.isfinite(float(metrics[r]["true_nll"]))), two_d[0] if two_d else runs[0])
    a, m = arrays[run], metrics[run]
    names = [str(n) for n in a["names"]]
    figure = PaperFigure("cnf", "Continuous normalizing flows: densities learned from samples, against the truth", "abcd",
                         options["width_mm"], options["height_mm"], width_ratios=[1.0, 1.0, 1.0, 1.15])
    held = a["held_out"]
    extent = float(a["grid_axis"][-1]) if "grid_axis" in a else float(np.quantile(np.abs(held[:, :2]), 0.995)) * 1.05
    figure["a"].scatter(held[:, 0], held[:, 1], s=0.8, color="0.2", linewidths=0, rasterized=True)
    _square(figure["a"], extent, names)
    figure.record("a", pd.DataFrame(held[:, :2], columns=names[:2]), f"The {len(held):,} held-out points of run {run} ({m['data']}, "
                  f"standardized; {m['dims']} dimensions{', the first two shown' if int(m['dims']) > 2 else ''})")
    if "log_density" in a:
        image = draw_learned_density(figure["b"], a["grid_axis"], a["log_density"])
        figure.fig.colorbar(image, ax=figure["b"], shrink=0.8, aspect=15).set_label("learned density p(x)")
        grid = pd.DataFrame(np.exp(a["log_density"]), columns=[f"x1={v:.6g}" for v in a["grid_axis"]])
        grid.insert(0, "x2", a["grid_axis"])
        truth = f"; the true density's {float(m['true_nll']):.4f} (gap {float(m['gap']):.4f})" if np.isfinite(float(m["true_nll"])) else ""
        figure.record("b", grid, f"The density the flow learned (exp log p on a {len(a['grid_axis'])} x {len(a['grid_axis'])} grid): held-out NLL "
                      f"{float(m['held_out_nll']):.4f} nats per point (exact trace, dopri5 at 1e-6){truth}; a "
                      f"{options['gmm_components'][run]}-component Gaussian mixture's {float(m['gmm_nll']):.4f}")
    else:
        order = np.argsort(a["held_out_log_density"])
        image = figure["b"].scatter(held[order, 0], held[order, 1], c=a["held_out_log_density"][order], s=1, cmap="magma", linewidths=0, rasterized=True)
        figure.fig.colorbar(image, ax=figure["b"], shrink=0.8, aspect=15).set_label("learned log p(x)")
        figure.record("b", pd.DataFrame({names[0]: held[:, 0], names[1]: held[:, 1], "log_density": a["held_out_log_density"]}),
                      f"Held-out points coloured by the learned log-density; held-out NLL {float(m['held_out_nll']):.4f}, Gaussian mixture {float(m['gmm_nll']):.4f}")
    _square(figure["b"], extent, names)
    paths = draw_trajectory_paths(figure["c"], a["trajectory"], a["times"], n_paths=60)
    _square(figure["c"], float(np.quantile(np.abs(a["trajectory"][:, :, :2]), 0.995)) * 1.05, names)
    figure.record("c", paths, f"Trajectories of the flow: {a['trajectory'].shape[1]:,} samples of standard normal noise at t = 0 (grey) carried to "
                  f"data at t = 1 (coloured by where they started), 60 of them drawn as paths through t = {', '.join(f'{t:g}' for t in a['times'])}")
    ax = figure["d"]
    y = np.arange(len(runs))[::-1]
    rows = []
    for yy, r in zip(y, runs):
        mm = metrics[r]
        values = {"CNF": float(mm["held_out_nll"]), "Gaussian mixture": float(mm["gmm_nll"]), "true density": float(mm["true_nll"])}
        rows.append({"run": r, **values})
    table = pd.DataFrame(rows)
    for r in rows:
        truth = r["true density"] if np.isfinite(r["true density"]) else None
        figure.headline(f"held-out NLL of run {r['run']} (nats per point)", r["CNF"], truth, note=f"Gaussian mixture {r['Gaussian mixture']:.4f}")
    ax.scatter(table["true density"], y, marker="|", s=60, color="black", linewidths=1.0, label="true density", zorder=3)
    ax.scatter(table["Gaussian mixture"], y, marker="s", s=10, color="C1", label="Gaussian mixture", zorder=2)
    ax.scatter(table["CNF"], y, marker="o", s=10, color="C0", label="CNF", zorder=2)
    ax.set_yticks(y, runs)
    ax.set_ylim(-0.8, len(runs) - 0.2)
    ax.set_xlabel("held-out NLL (nats per point)")
    ax.legend(loc="lower right")
    figure.record("d", table, "Held-out negative log-likelihood of every run's flow beside a Gaussian mixture fitted to the same training points "
                  f"({', '.join(str(options['gmm_components'][r]) for r in runs)} components) and, "
                  "for toys, the true density (lower is better): " + "; ".join(
                      f"{r.run} {r.CNF:.4f} (mixture {r._3:.4f}" + (f", true {r._4:.4f})" if np.isfinite(r._4) else ")") for r in table.itertuples()))
    return figure
