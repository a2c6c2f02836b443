"""Figures of beta-VAE runs: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pytest
import pandas as pd

from figureflow.plotting.vae import (
    informative_dimensions,
    learned_nothing_note,
    plot_comparison,
    plot_gene_traversal,
    plot_image_traversal,
    plot_image_traversals,
    plot_latent_space,
    plot_training_curves,
)


def test_training_curves_draw_each_replicate_and_the_capacity_target():
    history = pd.DataFrame({
        "replicate": [0, 0, 0, 1, 1, 1], "epoch": [1, 2, 3] * 2, "train_loss": [5.0, 4, 3, 6, 5, 4],
        "held_out_loss": [5.5, 4.5, 3.5, 6.5, 5.5, 4.5], "kl": [1.0, 2, 3, 1, 2, 3], "C": [0.5, 1.0, 1.5] * 2,
    })
    fig = plot_training_curves(history)
    loss, kl = fig.axes
    assert len(loss.lines) == 4 and len(kl.lines) == 4  # training + held-out per replicate; KL + C per replicate
    np.testing.assert_array_equal(loss.lines[1].get_ydata(), [5.5, 4.5, 3.5])
    np.testing.assert_array_equal(kl.lines[1].get_ydata(), [0.5, 1.0, 1.5])
    assert [t.get_text() for t in loss.get_legend().get_texts()] == ["training", "held-out (-ELBO)"]
    plt.close(fig)


def test_image_traversal_draws_active_units_first_and_marks_the_inactive():
    traversal = np.random.default_rng(0).uniform(size=(3, 5, 16))
    fig = plot_image_traversal(traversal, np.linspace(-2, 2, 5), 4, np.array([0.1, 2.0, 0.005]))
    assert len(fig.axes) == 15
    # rows by KL: z2 (2.0), z1 (0.1), z3 (0.005, at or below 0.01 nats: inactive)
    np.testing.assert_array_equal(fig.axes[2].images[0].get_array(), traversal[1, 2].reshape(4, 4))  # first row is z2, column 3
    np.testing.assert_array_equal(fig.axes[5 + 4].images[0].get_array(), traversal[0, 4].reshape(4, 4))
    assert [fig.axes[5 * r].get_ylabel() for r in range(3)] == ["z2\nKL 2.00", "z1\nKL 0.10", "z3\nKL 0.01\ninactive"]
    assert fig.axes[14].get_xlabel() == "+2.0" and not fig.texts
    plt.close(fig)


def test_replicates_side_by_side_each_in_its_own_kl_order():
    rng = np.random.default_rng(1)
    traversals = [rng.uniform(size=(2, 3, 4)), rng.uniform(size=(2, 3, 4))]
    fig = plot_image_traversals(traversals, np.linspace(-1, 1, 3), 2, [np.array([1.0, 0.5]), np.array([0.2, 3.0])], ["replicate 0", "replicate 1"])
    assert len(fig.axes) == 2 * 7  # 2 rows x (3 + gap + 3) columns
    np.testing.assert_array_equal(fig.axes[0].images[0].get_array(), traversals[0][0, 0].reshape(2, 2))  # replicate 0 starts with z1
    np.testing.assert_array_equal(fig.axes[4].images[0].get_array(), traversals[1][1, 0].reshape(2, 2))  # replicate 1 with z2
    assert fig.axes[3].axison is False and not fig.axes[3].images
    assert [fig.axes[1].get_title(), fig.axes[5].get_title()] == ["replicate 0", "replicate 1"]
    plt.close(fig)


def test_a_replicate_that_learned_nothing_carries_the_sentence_under_its_figures():
    metrics = pd.DataFrame({"replicate": [0, 1], "learned_nothing": [True, False],
                            "why": ["no active latent unit (held-out KL above 0.01 nats)", np.nan]})
    note = learned_nothing_note(metrics, 0)
    assert note == "Replicate 0 learned nothing: no active latent unit (held-out KL above 0.01 nats)."
    assert learned_nothing_note(metrics, 1) is None and learned_nothing_note(metrics.drop(columns="learned_nothing")) is None
    fig = plot_image_traversal(np.zeros((2, 3, 4)), np.linspace(-1, 1, 3), 2, np.zeros(2), note=note)
    assert [t.get_text() for t in fig.texts] == [note]
    plt.close(fig)
    fig = plot_training_curves(pd.DataFrame({"replicate": [0], "epoch": [1], "train_loss": [1.0], "held_out_loss": [1.0], "kl": [0.0]}), note=note)
    assert note in [t.get_text() for t in fig.texts]
    plt.close(fig)


def test_gene_traversal_picks_the_genes_that_change_along_the_most_informative_dimensions():
    steps, genes = 5, 6
    traversal = np.ones((2, steps, genes))
    traversal[1, :, 4] = np.linspace(1, 20, steps)  # only gene 4 changes, only along z2
    fig = plot_gene_traversal(traversal, np.linspace(-2, 2, steps), np.array([0.0, 3.0]), genes=[f"g{i}" for i in range(genes)], n_genes=2, n_dims=1)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "z2 (KL 3.00)"
    assert [t.get_text() for t in ax.get_yticklabels()][0] == "g4"
    row = ax.images[0].get_array()[0]
    np.testing.assert_allclose(row, np.log1p(np.linspace(1, 20, steps)) - np.log1p(np.linspace(1, 20, steps)).mean())
    plt.close(fig)


def test_latent_space_uses_the_two_most_informative_dimensions_and_each_colouring():
    z = np.arange(12.0).reshape(4, 3)
    fig = plot_latent_space(z, {"factor_1": np.array([0.1, 0.2, 0.3, 0.4]), "cell_type": np.array(["a", "b", "a", "b"])}, np.array([0.5, 0.0, 2.0]))
    numeric, labels = fig.axes[0], fig.axes[1]  # the colorbar of the first panel comes after the panels
    np.testing.assert_array_equal(numeric.collections[0].get_offsets(), z[:, [2, 0]])
    assert (numeric.get_xlabel(), numeric.get_ylabel(), numeric.get_title()) == ("z3", "z1", "factor_1")
    assert [t.get_text() for t in labels.get_legend().get_texts()] == ["a", "b"]
    assert informative_dimensions(np.array([0.5, 0.0, 2.0]), 2).tolist() == [2, 0]
    plt.close(fig)


def test_latent_space_draws_a_fixed_subset_in_row_order_beyond_max_points_and_says_so():
    z = np.arange(30.0).reshape(10, 3)
    kinds = np.array(list("abababaabb"))
    fig = plot_latent_space(z, {"factor_1": np.arange(10.0), "cell_type": kinds}, np.array([0.5, 0.0, 2.0]), title="run", max_points=4)
    numeric, labels = fig.axes[0], fig.axes[1]
    offsets = np.asarray(numeric.collections[0].get_offsets())
    rows = offsets[:, 1] / 3  # z1 = 3 * row
    assert len(rows) == 4 and np.all(np.diff(rows) > 0) and set(rows) <= set(range(10))
    np.testing.assert_array_equal(offsets[:, 0], z[rows.astype(int), 2])
    np.testing.assert_array_equal(numeric.collections[0].get_array(), rows)  # each point keeps its own colour
    drawn = np.concatenate([np.asarray(c.get_offsets())[:, 1] / 3 for c in labels.collections])
    assert sorted(drawn) == sorted(rows)
    assert fig._suptitle.get_text() == "run (4 of 10 points)"
    again = plot_latent_space(z, {"factor_1": np.arange(10.0)}, np.array([0.5, 0.0, 2.0]), max_points=4)
    np.testing.assert_array_equal(np.asarray(again.axes[0].collections[0].get_offsets()), offsets)  # the same subset every time
    plt.close(fig)
    plt.close(again)


def test_comparison_draws_each_method_mean_sd_and_seed():
    scores = pd.DataFrame({
        "data": ["s"] * 5, "method": ["vae", "vae", "vae", "pca", "fastica"], "replicate": [0, 1, 2, 0, 0],
        "mig_dlib": [0.3, 0.2, 0.1, 0.01, 0.2], "mig_binned": [0.1, 0.2, 0.3, 0.05, 0.4], "sap": [0.2, 0.2, 0.2, 0.1, 0.3],
    })
    fig = plot_comparison(scores)
    dlib_ax, mig_ax = fig.axes[0], fig.axes[1]
    np.testing.assert_allclose([p.get_height() for p in mig_ax.patches], [0.2, 0.05, 0.4])
    np.testing.assert_allclose([p.get_height() for p in dlib_ax.patches], [0.2, 0.01, 0.2])
    assert [t.get_text() for t in mig_ax.get_xticklabels()] == ["vae", "pca", "fastica"]
    points = [line for line in mig_ax.lines if line.get_marker() == "o"]
    np.testing.assert_allclose(points[0].get_ydata(), [0.1, 0.2, 0.3])
    assert mig_ax.get_title() == "s: MIG (binned factors) (mean +- sd)" and dlib_ax.get_title() == "s: MIG (disentanglement_lib) (mean +- sd)"
    plt.close(fig)
    # data without factor classes: that MIG is "n/a", not a bar at 0
    fig = plot_comparison(scores.assign(mig_dlib=np.nan))
    assert not fig.axes[0].patches and [t.get_text() for t in fig.axes[0].texts] == ["n/a"] * 3
    plt.close(fig)


def test_a_wide_error_bar_stays_inside_its_axes():
    # seeds 0.37, 0.37, 0.04: mean 0.26, sd 0.1905, mean + sd 0.4505 above every seed's score
    scores = pd.DataFrame({"data": ["s"] * 4, "method": ["beta4"] * 3 + ["pca"], "replicate": [0, 1, 2, 0],
                           "mig_dlib": [0.37, 0.37, 0.04, 0.02], "mig_binned": [0.1, 0.2, 0.3, 0.05], "sap": [0.2, 0.2, 0.2, 0.1]})
    fig = plot_comparison(scores, metrics=("mig_dlib",))
    values = np.array([0.37, 0.37, 0.04])
    assert fig.axes[0].get_ylim()[1] == pytest.approx(1.15 * (values.mean() + values.std(ddof=1)))
    plt.close(fig)
