"""Figures of CNF runs: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.cnf import plot_density, plot_samples, plot_training_curve, plot_trajectories

NAMES = ["x1", "x2"]


def points(n, seed=0, d=2):
    return np.random.default_rng(seed).standard_normal((n, d))


def test_density_panel_shows_exp_of_the_grid_log_density_and_the_scores():
    axis = np.linspace(-3, 3, 7)
    logp = np.log(np.arange(49, dtype=float).reshape(7, 7) + 1)
    fig = plot_density(points(50), NAMES, axis, logp, metrics={"held_out_nll": 0.95, "true_nll": 0.93, "gmm_nll": np.nan})
    data, model = fig.axes[:2]
    assert data.collections[0].get_offsets().shape == (50, 2)
    np.testing.assert_allclose(model.images[0].get_array(), np.exp(logp))
    assert model.images[0].get_extent() == [-3, 3, -3, 3]
    assert model.texts[0].get_text() == "NLL 0.950\ntrue 0.930"  # a NaN score is left out
    plt.close(fig)


def test_density_of_a_higher_dimensional_flow_colours_points_by_log_density():
    x = points(30, d=5)
    logp = np.linspace(-4, -1, 30)[::-1]
    fig = plot_density(x, ["PC1", "PC2"], point_log_density=logp)
    scatter = fig.axes[1].collections[0]
    np.testing.assert_allclose(np.sort(scatter.get_array()), np.sort(logp))
    np.testing.assert_allclose(scatter.get_offsets()[-1], x[np.argmax(logp), :2])  # the densest drawn last, on top
    assert fig.axes[0].get_xlabel() == "PC1 (standardized)"
    plt.close(fig)


def test_samples_panel_draws_data_and_samples_on_shared_axes():
    fig = plot_samples(points(40), points(25, seed=1), NAMES)
    data, samples = fig.axes
    assert samples.collections[0].get_offsets().shape == (25, 2)
    np.testing.assert_allclose(samples.collections[0].get_offsets(), points(25, seed=1))
    assert data.get_xlim() == samples.get_xlim() and samples.get_title() == "flow samples (25)"
    plt.close(fig)


def test_trajectory_panels_follow_the_same_points_through_time():
    times = np.array([0.0, 0.5, 1.0])
    trajectory = np.stack([points(20) * (1 + t) for t in times])
    fig = plot_trajectories(trajectory, times, NAMES, n_paths=4)
    assert [ax.get_title() for ax in fig.axes] == ["t = 0.00", "t = 0.50", "t = 1.00"]
    np.testing.assert_allclose(fig.axes[1].collections[0].get_offsets(), trajectory[1])
    assert len(fig.axes[-1].lines) == 4
    np.testing.assert_allclose(fig.axes[-1].lines[2].get_xydata(), trajectory[:, 2, :])
    plt.close(fig)


def test_training_curve_separates_the_flow_matching_phase_and_marks_references():
    history = pd.DataFrame({
        "epoch": [1, 2, 3, 4], "iteration": [10, 20, 30, 40], "train_loss": [3.0, 2.8, 1.2, 1.1],
        "held_out_loss": [np.nan, 1.4, np.nan, 1.05], "flow_matching": [3.0, 2.8, np.nan, np.nan], "nll": [np.nan, np.nan, 1.2, 1.1],
    })
    fig = plot_training_curve(history, {"true density": 0.93, "Gaussian mixture": np.nan})
    fm, nll = fig.axes
    np.testing.assert_array_equal(fm.lines[0].get_ydata(), [3.0, 2.8])
    np.testing.assert_array_equal(nll.lines[0].get_ydata(), [1.2, 1.1])
    np.testing.assert_array_equal(nll.lines[1].get_xdata(), [20, 40])
    assert [t.get_text() for t in nll.get_legend().get_texts()] == ["training NLL", "held-out NLL", "true density 0.930"]
    plt.close(fig)
