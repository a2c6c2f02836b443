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

__all__ = ["ESTIMATOR_NAMES", "QUANTITY_NAMES", "of_quantity", "heavy_tail_note", "draw_error_vs_n", "plot_error_vs_n", "draw_volume_grid", "plot_volume_grid", "draw_image_coloured",
           "plot_image_coloured", "featured_map", "paper_figure"]

#: how estimators are named in legends
ESTIMATOR_NAMES = {"mc": "Monte Carlo", "rqmc": "randomized QMC"}


#: what a quantity is called on axes and in legends
QUANTITY_NAMES = {"D": "E[D]", "log_D": "E[log D]"}


def of_quantity(table: pd.DataFrame, quantity: str = "D") -> pd.DataFrame:
    """The rows of one quantity (``D`` or ``log_D``); a table from before the ``quantity`` column
    holds ``E[D]`` alone."""
    if "quantity" not in table:
        return table if quantity == "D" else table.iloc[0:0]
    return table[table["quantity"] == quantity]


def heavy_tail_note(table: pd.DataFrame) -> str:
    """One sentence on the rows whose tail diagnostic is not ``ok`` (empty when all are): per
    quantity, the range of Pareto k-hat and the sample sizes at which the variance, or the mean,
    looks infinite (no interval, or no estimate, was written)."""
    if "status" not in table:
        return ""
    status = table["status"].fillna("ok")
    bad = table[status != "ok"]
    if bad.empty:
        return ""
    parts = []
    for quantity, rows in bad.groupby("quantity", sort=False):
        k = pd.to_numeric(rows["pareto_k"], errors="coerce")
        sizes = []
        for which, words in (("infinite_variance", "the variance looks infinite (no interval)"), ("infinite_mean", "the mean looks infinite (no estimate)")):
            at = sorted(rows.loc[rows["status"] == which, "n_samples"].unique())
            if at:
                sizes.append(f"{words} at n = {', '.join(f'{int(v):,}' for v in at)}")
        k_text = "D = 0 at some points" if k.isna().all() else (f"Pareto k-hat {k.min():.2f}" if k.min() == k.max() else f"Pareto k-hat {k.min():.2f} to {k.max():.2f}")
        parts.append(f"{QUANTITY_NAMES.get(quantity, quantity)}: {k_text}; " + "; ".join(sizes))
    return "Heavy tail. " + ". ".join(parts) + "."


def draw_error_vs_n(ax, table: pd.DataFrame, legend: bool = True, quantity: str = "D") -> pd.DataFrame:
    """Draw |estimate - exact| (or the standard error where ``exact`` is unknown) of ``quantity``
    (``D`` or ``log_D``) against ``n`` on ``ax``, log-log, per estimator, with the standard errors
    dotted and ``c n^(-1/2)`` dashed through the first plain Monte Carlo point. A row whose tail
    diagnostic is not ``ok`` has no standard error: where the exact value is known its error is
    drawn as a hollow red marker, and a red sentence under the plot says why (:func:`heavy_tail_note`).
    Returns the numbers drawn (one row per point, with ``pareto_k`` and ``status``)."""
    table = of_quantity(table, quantity)
    exact = pd.to_numeric(table["exact"], errors="coerce")
    known = bool(exact.notna().all()) and len(table) > 0
    status = table["status"].fillna("ok") if "status" in table else pd.Series("ok", index=table.index)
    drawn = []
    for k, (estimator, rows) in enumerate(table.groupby("estimator", sort=False)):
        rows = rows.sort_values("n_samples")
        n = rows["n_samples"].to_numpy(dtype=float)
        name = ESTIMATOR_NAMES.get(estimator, estimator)
        err = np.maximum(np.abs(rows["estimate"].to_numpy() - exact.loc[rows.index].to_numpy()), 1e-16) if known else np.full(len(n), np.nan)
        heavy = (status.loc[rows.index] != "ok").to_numpy()
        if known:  # an exact hit would vanish from log axes: floored at 1e-16
            ax.loglog(n, np.where(heavy, np.nan, err), marker="o", markersize=3, color=f"C{k}", label=f"{name} |error|")
            ax.loglog(n, rows["std_error"], linestyle=":", color=f"C{k}", label=f"{name} std. error")
            if heavy.any():
                ax.loglog(n[heavy], err[heavy], linestyle="none", marker="o", markersize=5, markerfacecolor="none", markeredgecolor="tab:red",
                          label="no interval (heavy tail)" if not any(line.get_label() == "no interval (heavy tail)" for line in ax.lines) else None)
        else:
            ax.loglog(n, rows["std_error"], marker="o", markersize=3, color=f"C{k}", label=f"{name} std. error")
        drawn.append(pd.DataFrame({"estimator": name, "n_samples": rows["n_samples"].to_numpy(), "estimate": rows["estimate"].to_numpy(),
                                   "exact": exact.loc[rows.index].to_numpy(), "abs_error": err, "std_error": rows["std_error"].to_numpy(),
                                   "pareto_k": rows["pareto_k"].to_numpy() if "pareto_k" in rows else np.nan,
                                   "status": status.loc[rows.index].to_numpy()}))
    ok = table[(status == "ok") & (pd.to_numeric(table["std_error"], errors="coerce") > 0)].sort_values("n_samples")
    if len(ok):
        anchor = ok[ok["estimator"] == "mc"].iloc[0] if (ok["estimator"] == "mc").any() else ok.iloc[0]
        n_all = np.sort(table["n_samples"].unique()).astype(float)
        ax.loglog(n_all, anchor["std_error"] * np.sqrt(anchor["n_samples"] / n_all), color="0.6", linestyle="--", label=r"$\propto n^{-1/2}$")
    finite = pd.to_numeric(table["std_error"], errors="coerce").notna().any() or (known and status.eq("ok").any())
    if not finite and len(table):  # every row heavy and no exact value: no number to draw at all
        ax.set_xlim(table["n_samples"].min() / 1.5, table["n_samples"].max() * 1.5)
        ax.text(0.5, 0.5, "no standard error:\nthe variance looks infinite", transform=ax.transAxes, ha="center", va="center", color="0.4")
    note = heavy_tail_note(table)
    if note:  # under the axes, wrapped to their width
        import textwrap

        ax.text(0.0, -0.27, textwrap.fill(note, 70), transform=ax.transAxes, fontsize=5.5, color="tab:red", va="top", ha="left")
    what = QUANTITY_NAMES.get(quantity, quantity)
    ax.set_xlabel("samples n")
    ax.set_ylabel(f"|estimate - exact| of {what}" if known else f"standard error of {what}")
    if legend:
        ax.legend()
    if not drawn:
        return pd.DataFrame(columns=["estimator", "n_samples", "estimate", "exact", "abs_error", "std_error", "pareto_k", "status"])
    return pd.concat(drawn, ignore_index=True)


@house_figure
def plot_error_vs_n(table: pd.DataFrame, title: str | None = None):
    """|estimate - exact| against the number of samples, log-log, per estimator, with ``n^(-1/2)``
    (:func:`draw_error_vs_n`): ``E[D]`` on the left, ``E[log D]`` on the right (when the table
    has it).

    ``table`` has columns ``quantity``, ``estimator``, ``n_samples``, ``estimate``, ``std_error``,
    ``exact``, ``pareto_k`` and ``status``. Where ``exact`` is unknown (NaN), the standard error is
    drawn instead. The reference line ``c n^(-1/2)`` passes through the first plain Monte Carlo
    point (or the first point) whose tail is ``ok``. Rows with another status are marked and named
    under the plot, and the title says so.

    Returns
    -------
    matplotlib.figure.Figure
    """
    quantities = [q for q in ("D", "log_D") if len(of_quantity(table, q))]
    fig, axes = plt.subplots(1, len(quantities), figsize=(3.8 * len(quantities), 3.0), squeeze=False)
    for ax, quantity in zip(axes[0], quantities):
        draw_error_vs_n(ax, table, legend=False, quantity=quantity)
        ax.legend(fontsize=6)
        if len(quantities) > 1:
            ax.set_title(QUANTITY_NAMES[quantity], fontsize=8)
    if heavy_tail_note(table) and title:
        title = f"{title} (heavy tail: see the note)"
    return finish_figure(fig, title, axes[0][0] if len(quantities) == 1 else None)


def draw_volume_grid(ax, axis: np.ndarray, values: np.ndarray, latent_dim: int, colorbar: bool = True):
    """Draw ``D(z)`` over the latent grid on ``ax``: a heatmap over ``(z1, z2)`` (other coordinates
    0), or a line for ``d = 1``. Returns the image (None for a line)."""
    values = np.asarray(values)
    if values.ndim == 1:
        ax.plot(axis, values, color="C0")
        ax.set_xlabel("z")
        ax.set_ylabel("D(z)")
        return None
    extent = (axis[0], axis[-1], axis[0], axis[-1])
    im = ax.imshow(values, origin="lower", extent=extent, cmap="magma", aspect="equal")
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.85).set_label(r"$D(z)=\sqrt{\det J^\top J}$")
    ax.set_xlabel("z1")
    ax.set_ylabel("z2" + (f" (z3..z{latent_dim} = 0)" if latent_dim > 2 else ""))
    return im


@house_figure
def plot_volume_grid(axis: np.ndarray, values: np.ndarray, latent_dim: int, title: str | None = None):
    """``D(z)`` over the latent grid (:func:`draw_volume_grid`).

    ``values`` has shape ``(len(axis), len(axis))`` (rows: z2, columns: z1) or ``(len(axis),)``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, ax = plt.subplots(figsize=(3.6, 2.6) if np.ndim(values) == 1 else (3.8, 3.2))
    draw_volume_grid(ax, axis, values, latent_dim)
    return finish_figure(fig, title, ax)


def draw_image_coloured(ax, points: np.ndarray, values: np.ndarray, colorbar: bool = True, labels: bool = True):
    """Draw the image of the latent grid on the 3-D axes ``ax``, coloured by ``D``: a surface for
    points ``(m, m, 3)``, a curve of points for ``(m, 3)``. Returns the colour mappable."""
    points, values = np.asarray(points), np.asarray(values)
    norm = colors.Normalize(vmin=float(np.nanmin(values)), vmax=float(np.nanmax(values)))
    if points.ndim == 3:
        facecolors = cm.magma(norm(values))
        ax.plot_surface(points[..., 0], points[..., 1], points[..., 2], facecolors=facecolors, rstride=1, cstride=1,
                        linewidth=0, antialiased=False, shade=False)
    else:
        ax.scatter(points[:, 0], points[:, 1], points[:, 2], c=values, cmap="magma", norm=norm, s=4)
    mappable = cm.ScalarMappable(norm=norm, cmap="magma")
    if colorbar:
        ax.figure.colorbar(mappable, ax=ax, shrink=0.6, pad=0.1).set_label("D(z)")
    if labels:
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        ax.set_zlabel("x3")
    return mappable


@house_figure
def plot_image_coloured(points: np.ndarray, values: np.ndarray, title: str | None = None):
    """The image of the latent grid in 3-D data space, coloured by ``D`` (:func:`draw_image_coloured`):
    a surface for a grid of shape ``(m, m, 3)``, a curve of points for ``(m, 3)``. The colour
    scale spans ``D``'s range.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = plt.figure(figsize=(4.2, 3.6))
    ax = fig.add_subplot(projection="3d")
    draw_image_coloured(ax, points, values)
    return finish_figure(fig, title, ax, tight=False)


def featured_map(maps, tables: dict, grids: dict, chosen: str | None = None) -> str:
    """The map a paper figure shows: ``chosen`` if given, else the first of ``maps`` whose exact
    value is known and whose grid is a surface in 3-D (its image can be drawn), else the first
    with a known value, else the first."""
    if chosen is not None:
        return chosen

    def known(m):
        return bool(pd.to_numeric(of_quantity(tables[m])["exact"], errors="coerce").notna().all())

    surface = [m for m in maps if known(m) and np.ndim(grids[m].get("image_points")) == 3]
    return (surface or [m for m in maps if known(m)] or list(maps))[0]


def paper_figure(inputs, options):
    """The Jacobian measure's paper figure (:class:`figureflow.plotting.paper.PaperFigure`).

    ``inputs.estimates`` and ``inputs.grids`` list every map's ``estimates.tsv`` and ``grid.npz``
    in the order of ``options["maps"]``; ``options`` also holds ``width_mm``, ``height_mm`` and
    ``map`` (the featured map, or None: :func:`featured_map`). Panels: a, the featured map's error
    against n; b, its ``D(z)`` over the latent plane; c, its image coloured by ``D``; d, the
    relative standard error against n for every map.
    """
    from figureflow.io import read_arrays, read_table
    from figureflow.plotting.paper import PaperFigure

    maps = list(options["maps"])
    tables = {m: read_table(path) for m, path in zip(maps, inputs.estimates)}
    grids = {m: read_arrays(path, ["axis", "volume", "latent_dim"], optional=["image_points", "image_volume"]) for m, path in zip(maps, inputs.grids)}
    m = featured_map(maps, tables, grids, options.get("map"))
    table, grid = tables[m], grids[m]
    surface = np.ndim(grid.get("image_points")) == 3
    figure = PaperFigure("jacobian", "The Jacobian measure: how much a map from latent to data space stretches volume", "abcd", options["width_mm"], options["height_mm"], per_panel={"c": {"projection": "3d"}} if surface else None,
                         width_ratios=[1.0, 1.0, 1.1, 1.0])

    drawn = draw_error_vs_n(figure["a"], table, legend=False)
    figure["a"].legend(loc="lower left", handlelength=1.2)
    largest = drawn[drawn["n_samples"] == drawn["n_samples"].max()]
    at_n = "; ".join(f"{r.estimator} {r.estimate:.6g} +- {r.std_error:.2g}" for r in largest.itertuples())
    exact = float(pd.to_numeric(of_quantity(table)["exact"], errors="coerce").iloc[0])
    what = f"|estimate - exact| of E[D] for map {m} (exact {exact:.6g})" if np.isfinite(exact) else f"Standard error of E[D] for map {m} (no exact value)"
    note = heavy_tail_note(of_quantity(table))
    figure.record("a", drawn, f"{what} against the number of samples n, by plain Monte Carlo and randomized quasi-Monte Carlo "
                  f"(scrambled Sobol points); dotted, standard errors; dashed, a line proportional to n^-1/2; at n = {int(largest['n_samples'].iloc[0]):,}: "
                  f"{at_n} (estimate +- standard error)" + (f". {note}" if note else ""))

    axis, volume, d = grid["axis"], np.asarray(grid["volume"]), int(grid["latent_dim"])
    image = draw_volume_grid(figure["b"], axis, volume, d, colorbar=False)
    if image is not None:
        figure.fig.colorbar(image, ax=figure["b"], shrink=0.8, aspect=15).set_label("D(z)")
        grid_data = pd.DataFrame(volume, columns=[f"z1={v:.6g}" for v in axis])  # wide: a row per z2, a column per z1
        grid_data.insert(0, "z2", axis)
        plane = f"the latent plane (z1, z2) in [{axis[0]:g}, {axis[-1]:g}]^2 ({len(axis)} x {len(axis)} points" + (f"; z3 to z{d} at 0)" if d > 2 else ")")
    else:
        grid_data = pd.DataFrame({"z": axis, "D": volume})
        plane = f"the latent line z in [{axis[0]:g}, {axis[-1]:g}] ({len(axis)} points)"
    figure.record("b", grid_data, f"The volume element D(z) = sqrt(det J^T J) of map {m} over {plane}; from {np.nanmin(volume):.3g} to {np.nanmax(volume):.3g}")

    if "image_points" in grid:
        points, values = np.asarray(grid["image_points"]), np.asarray(grid["image_volume"])
    if "image_points" in grid:
        if not surface:
            figure["c"].remove()
            figure.axes["c"] = figure.fig.add_subplot(figure["a"].get_subplotspec().get_gridspec()[0, 2], projection="3d")
        mappable = draw_image_coloured(figure["c"], points, values, colorbar=False, labels=False)
        figure["c"].set_xlabel("x1", labelpad=-4)
        figure["c"].set_ylabel("x2", labelpad=-4)  # x3, vertical, is named in the legend: its label would reach past the panel
        figure["c"].tick_params(pad=-2)
        figure.fig.colorbar(mappable, ax=figure["c"], shrink=0.6, aspect=15, location="left", pad=0.0).set_label("D(z)")
        flat = points.reshape(-1, 3)
        figure.record("c", pd.DataFrame({"x1": flat[:, 0], "x2": flat[:, 1], "x3": flat[:, 2], "D": values.ravel()}),
                      f"The image of the latent grid in data space (x1, x2 and, vertical, x3), {'a surface' if surface else 'a curve'} coloured by D(z)")
    else:
        figure["c"].text(0.5, 0.5, f"map {m} does not map into 3-D:\nno image to draw", ha="center", va="center", transform=figure["c"].transAxes)
        figure["c"].set_axis_off()
        figure.record("c", pd.DataFrame({"note": [f"map {m} does not map into 3 dimensions"]}), f"Map {m} does not map into 3 dimensions; no image is drawn")

    rows, constant, heavy = [], [], []
    for k, name in enumerate(maps):
        t = of_quantity(tables[name]).sort_values("n_samples")
        if heavy_tail_note(t):
            heavy.append(name)
        t = t[pd.to_numeric(t["std_error"], errors="coerce").notna()]
        if t.empty:
            continue
        rel_all = (t["std_error"] / t["estimate"].abs()).to_numpy()
        if np.all(rel_all < 1e-12):  # D constant over the latent space: every sample gives E[D] exactly
            constant.append(name)
            continue
        for estimator, style in (("mc", "--"), ("rqmc", "-")):
            part = t[t["estimator"] == estimator]
            if part.empty:
                continue
            rel = (part["std_error"] / part["estimate"].abs()).to_numpy()
            figure["d"].loglog(part["n_samples"], rel, linestyle=style, marker="o", markersize=2, color=f"C{k}",
                               label=name if estimator == "rqmc" else None)
            rows.append(pd.DataFrame({"map": name, "estimator": ESTIMATOR_NAMES[estimator], "n_samples": part["n_samples"].to_numpy(),
                                      "relative_std_error": rel}))
    figure["d"].set_xlabel("samples n")
    figure["d"].set_ylabel("standard error / estimate")
    figure["d"].legend(loc="lower left", ncol=1)
    for name in maps:
        for quantity in ("D", "log_D"):
            t = of_quantity(tables[name], quantity)
            if t.empty:
                continue
            top = t[t["n_samples"] == t["n_samples"].max()]
            row = (top[top["estimator"] == "rqmc"] if (top["estimator"] == "rqmc").any() else top).iloc[0]
            truth = float(pd.to_numeric(pd.Series([row["exact"]]), errors="coerce").iloc[0])
            status = row["status"] if "status" in row and isinstance(row["status"], str) else "ok"
            k = float(row["pareto_k"]) if "pareto_k" in row else float("nan")
            tail = "" if status == "ok" else (f"; Pareto k-hat {k:.2f}" if np.isfinite(k) else "") + f"; {status.replace('_', ' ')}: no interval"
            figure.headline(f"{QUANTITY_NAMES[quantity]} of map {name}", row["estimate"], truth if np.isfinite(truth) else None, row["ci_low"], row["ci_high"],
                            "95% interval", f"{ESTIMATOR_NAMES.get(row['estimator'], row['estimator'])}, n = {int(row['n_samples']):,}{tail}")
    drawn_maps = [name for name in maps if name not in constant]
    note = (f"; {', '.join(constant)} {'has' if len(constant) == 1 else 'have'} a constant D, which every estimator gives exactly (not drawn)"
            if constant else "")
    if heavy:
        note += (f"; {', '.join(heavy)} {'has' if len(heavy) == 1 else 'have'} a heavy-tailed D (Pareto k-hat at least 0.5): "
                 "only the sample sizes with a finite-variance diagnostic are drawn, and E[log D] is the number to report")
    figure.record("d", pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=["map", "estimator", "n_samples", "relative_std_error"]),
                  f"Relative standard error of E[D] against n for the maps {', '.join(drawn_maps)}; dashed, plain Monte Carlo; solid, randomized "
                  f"quasi-Monte Carlo{note}")
    return figure
