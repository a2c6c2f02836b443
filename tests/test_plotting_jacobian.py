"""Figures of the Jacobian measure: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.jacobian import plot_error_vs_n, plot_image_coloured, plot_volume_grid


def estimates(exact):
    n = [256, 1024, 4096]
    rows = []
    for estimator, errors in (("mc", [0.1, 0.05, 0.02]), ("rqmc", [0.01, 0.002, 0.0])):
        for size, err in zip(n, errors):
            rows.append({"estimator": estimator, "n_samples": size, "estimate": 2.0 + err, "std_error": err / 2 + 1e-3, "exact": exact})
    return pd.DataFrame(rows)


def test_error_vs_n_draws_each_estimators_error_and_standard_error():
    table = estimates(2.0)
    fig = plot_error_vs_n(table, title="toy")
    ax = fig.axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    assert set(lines) == {"Monte Carlo |error|", "Monte Carlo std. error", "randomized QMC |error|", "randomized QMC std. error", r"$\propto n^{-1/2}$"}
    mc = table[table.estimator == "mc"]
    np.testing.assert_allclose(lines["Monte Carlo |error|"].get_ydata(), np.abs(mc.estimate - 2.0))
    np.testing.assert_allclose(lines["Monte Carlo std. error"].get_ydata(), mc.std_error)
    # an exact hit is drawn at 1e-16, not dropped from the log axis
    assert lines["randomized QMC |error|"].get_ydata()[-1] == 1e-16
    # the reference passes through the first Monte Carlo standard error with slope -1/2
    reference = lines[r"$\propto n^{-1/2}$"].get_ydata()
    np.testing.assert_allclose(reference, mc.std_error.iloc[0] * np.sqrt(256 / np.array([256, 1024, 4096])))
    assert ax.get_xscale() == ax.get_yscale() == "log"
    assert ax.get_ylabel() == "|estimate - exact| of E[D]" and ax.get_title() == "toy"
    plt.close(fig)


def test_error_vs_n_without_an_exact_value_draws_standard_errors():
    table = estimates(np.nan)
    fig = plot_error_vs_n(table)
    ax = fig.axes[0]
    labels = sorted(line.get_label() for line in ax.lines)
    assert labels == sorted(["Monte Carlo std. error", "randomized QMC std. error", r"$\propto n^{-1/2}$"])
    assert ax.get_ylabel() == "standard error of E[D]"
    plt.close(fig)


def test_volume_grid_is_an_image_of_the_values_over_the_axis():
    axis = np.linspace(-3, 3, 7)
    z1, z2 = np.meshgrid(axis, axis)
    values = z1**2 + 2 * z2**2  # not symmetric: rows must be z2
    fig = plot_volume_grid(axis, values, latent_dim=4, title="toy")
    ax = fig.axes[0]
    image = ax.images[0]
    np.testing.assert_array_equal(image.get_array(), values)
    assert image.get_extent() == [-3, 3, -3, 3] and image.origin == "lower"
    assert image.get_clim() == (values.min(), values.max())
    assert ax.get_xlabel() == "z1" and ax.get_ylabel() == "z2 (z3..z4 = 0)" and ax.get_title() == "toy"
    assert "D(z)" in fig.axes[1].get_ylabel()
    plt.close(fig)


def test_volume_grid_of_a_one_dimensional_latent_is_a_line():
    axis = np.linspace(-1, 1, 5)
    fig = plot_volume_grid(axis, 1 + axis**2, latent_dim=1)
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.lines[0].get_xdata(), axis)
    np.testing.assert_array_equal(ax.lines[0].get_ydata(), 1 + axis**2)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("z", "D(z)")
    plt.close(fig)


def test_image_surface_has_a_face_per_grid_cell_and_the_colour_range_of_d():
    axis = np.linspace(-1, 1, 6)
    z1, z2 = np.meshgrid(axis, axis)
    points = np.stack([z1, z2, z1 * z2], axis=-1)
    values = 1 + z1**2 + z2**2
    fig = plot_image_coloured(points, values, title="saddle")
    ax, colorbar = fig.axes
    surface = ax.collections[0]
    assert len(surface.get_facecolors()) == 5 * 5
    assert colorbar.get_ylabel() == "D(z)"
    assert colorbar.get_ylim() == (values.min(), values.max())
    assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_zlabel(), ax.get_title()) == ("x1", "x2", "x3", "saddle")
    plt.close(fig)


def test_image_curve_draws_each_point_coloured_by_its_d():
    t = np.linspace(-2, 2, 9)
    points = np.stack([np.cos(t), np.sin(t), 0.5 * t], axis=-1)
    values = np.linspace(1.0, 2.0, 9)
    fig = plot_image_coloured(points, values)
    ax = fig.axes[0]
    scatter = ax.collections[0]
    np.testing.assert_array_equal(scatter.get_array(), values)
    assert (scatter.norm.vmin, scatter.norm.vmax) == (1.0, 2.0)
    assert len(scatter._offsets3d[0]) == 9
    np.testing.assert_allclose(scatter._offsets3d[2], 0.5 * t)
    plt.close(fig)


def test_error_vs_n_draws_log_d_beside_d_and_marks_a_heavy_tail_without_an_interval():
    """A heavy-tailed map's rows: no standard error, a hollow red marker at its error, a red
    sentence naming k-hat and the sizes, the title saying so; E[log D] drawn in its own panel."""
    table = estimates(2.0).assign(quantity="D", pareto_k=0.2, status="ok")
    heavy = table["n_samples"] == 4096
    table.loc[heavy, ["std_error", "pareto_k", "status"]] = [np.nan, 0.81, "infinite_variance"]
    logs = estimates(0.5).assign(quantity="log_D", pareto_k=-0.05, status="ok")
    fig = plot_error_vs_n(pd.concat([table, logs], ignore_index=True), title="heavy")
    left, right = fig.axes[:2]
    assert right.get_ylabel() == "|estimate - exact| of E[log D]" and left.get_ylabel() == "|estimate - exact| of E[D]"
    lines = {line.get_label(): line for line in left.lines}
    mc_error = lines["Monte Carlo |error|"].get_ydata()
    assert np.isfinite(mc_error[:2]).all() and np.isnan(mc_error[2])  # the heavy point is not on the line...
    hollow = [line for line in left.lines if line.get_markerfacecolor() == "none"]
    assert len(hollow) == 2 and all(line.get_xdata()[0] == 4096 for line in hollow)  # ...but marked, per estimator
    assert [line.get_label() for line in hollow][0] == "no interval (heavy tail)"
    texts = [" ".join(t.get_text().split()) for t in left.texts]
    assert texts == ["Heavy tail. E[D]: Pareto k-hat 0.81; the variance looks infinite (no interval) at n = 4,096."]
    assert not right.texts and (left.get_title(), right.get_title()) == ("E[D]", "E[log D]")
    assert fig._suptitle.get_text() == "heavy (heavy tail: see the note)"


def test_error_vs_n_says_there_is_nothing_to_draw_when_every_row_is_heavy_and_no_exact_value_is_known():
    table = estimates(np.nan).assign(quantity="D", pareto_k=1.1, status="infinite_mean", std_error=np.nan, estimate=np.nan)
    fig = plot_error_vs_n(table, title="flow")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == "no standard error:\nthe variance looks infinite"
    assert " ".join(texts[1].split()) == "Heavy tail. E[D]: Pareto k-hat 1.10; the mean looks infinite (no estimate) at n = 256, 1,024, 4,096."
    assert ax.get_xlim()[0] < 256 and ax.get_xlim()[1] > 4096
