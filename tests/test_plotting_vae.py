"""Figures of beta-VAE runs: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.vae import (
    informative_dimensions,
    plot_comparison,
    plot_gene_traversal,
    plot_image_traversal,
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


def test_image_traversal_shows_every_decoded_image_in_its_cell():
    traversal = np.random.default_rng(0).uniform(size=(3, 5, 16))
    fig = plot_image_traversal(traversal, np.linspace(-2, 2, 5), 4, np.array([0.1, 2.0, 0.0]))
    assert len(fig.axes) == 15
    np.testing.assert_array_equal(fig.axes[5 + 2].images[0].get_array(), traversal[1, 2].reshape(4, 4))  # row z2, column 3
    assert fig.axes[5].get_ylabel() == "z2\nKL 2.00" and fig.axes[14].get_xlabel() == "+2.0"
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


def test_comparison_draws_each_method_mean_sd_and_seed():
    scores = pd.DataFrame({
        "data": ["s"] * 5, "method": ["vae", "vae", "vae", "pca", "fastica"], "replicate": [0, 1, 2, 0, 0],
        "mig": [0.1, 0.2, 0.3, 0.05, 0.4], "sap": [0.2, 0.2, 0.2, 0.1, 0.3],
    })
    fig = plot_comparison(scores)
    mig_ax = fig.axes[0]
    np.testing.assert_allclose([p.get_height() for p in mig_ax.patches], [0.2, 0.05, 0.4])
    assert [t.get_text() for t in mig_ax.get_xticklabels()] == ["vae", "pca", "fastica"]
    points = [line for line in mig_ax.lines if line.get_marker() == "o"]
    np.testing.assert_allclose(points[0].get_ydata(), [0.1, 0.2, 0.3])
    assert mig_ax.get_title() == "s: MIG (mean +- sd)"
    plt.close(fig)
