"""Figures of continuous normalizing flows: the learned density beside the data, samples, the
trajectories from noise to data, and the training curve, all drawn from a run's tables and arrays."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.style import categorical_colors, finish_figure, house_figure

__all__ = ["plot_density", "plot_samples", "plot_trajectories", "plot_training_curve"]


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
        image = ax_model.imshow(np.exp(log_density), origin="lower", extent=(axis[0], axis[-1], axis[0], axis[-1]), cmap="magma", interpolation="nearest")
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
