"""Figures of the Jacobian measure sampler: error against sample size, and the volume element
``D(z) = sqrt(det(J^T J))`` over a latent grid and on the map's image.

Everything here is drawn from what ``jacobian_estimates`` and ``jacobian_grid`` wrote (a table
and an ``.npz`` of grids); no map is rebuilt.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import cm, colors

from figureflow.plotting.style import finish_figure, house_figure

__all__ = ["ESTIMATOR_NAMES", "plot_error_vs_n", "plot_volume_grid", "plot_image_coloured"]

#: how estimators are named in legends
ESTIMATOR_NAMES = {"mc": "Monte Carlo", "rqmc": "randomized QMC"}


@house_figure
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
    fig, ax = plt.subplots(figsize=(3.8, 3.0))
    for k, (estimator, rows) in enumerate(table.groupby("estimator", sort=False)):
        rows = rows.sort_values("n_samples")
        n = rows["n_samples"].to_numpy(dtype=float)
        name = ESTIMATOR_NAMES.get(estimator, estimator)
        if known:
            err = np.abs(rows["estimate"].to_numpy() - exact.loc[rows.index].to_numpy())
            err = np.maximum(err, 1e-16)  # an exact hit would vanish from log axes
            ax.loglog(n, err, marker="o", markersize=3, color=f"C{k}", label=f"{name} |error|")
            ax.loglog(n, rows["std_error"], linestyle=":", color=f"C{k}", label=f"{name} std. error")
        else:
            ax.loglog(n, rows["std_error"], marker="o", markersize=3, color=f"C{k}", label=f"{name} std. error")
    first = table.sort_values("n_samples")
    anchor = first[first["estimator"] == "mc"].iloc[0] if (first["estimator"] == "mc").any() else first.iloc[0]
    n_all = np.sort(table["n_samples"].unique()).astype(float)
    ax.loglog(n_all, anchor["std_error"] * np.sqrt(anchor["n_samples"] / n_all), color="0.6", linestyle="--", label=r"$\propto n^{-1/2}$")
    ax.set_xlabel("samples n")
    ax.set_ylabel("|estimate - exact|" if known else "standard error")
    ax.legend(fontsize=6)
    return finish_figure(fig, title, ax)


@house_figure
def plot_volume_grid(axis: np.ndarray, values: np.ndarray, latent_dim: int, title: str | None = None):
    """``D(z)`` over the latent grid: a heatmap over ``(z1, z2)`` (other coordinates 0), or a line for ``d = 1``.

    ``values`` has shape ``(len(axis), len(axis))`` (rows: z2, columns: z1) or ``(len(axis),)``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    values = np.asarray(values)
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
    return finish_figure(fig, title, ax)


@house_figure
def plot_image_coloured(points: np.ndarray, values: np.ndarray, title: str | None = None):
    """The image of the latent grid in 3-D data space, coloured by ``D``: a surface for a grid of
    shape ``(m, m, 3)``, a curve of points for ``(m, 3)``. The colour scale spans ``D``'s range.

    Returns
    -------
    matplotlib.figure.Figure
    """
    points, values = np.asarray(points), np.asarray(values)
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
    return finish_figure(fig, title, ax, tight=False)
