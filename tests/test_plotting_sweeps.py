"""Figures of seeded sweeps: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.sweeps import first_point, plot_difference_distribution, plot_example, plot_grid_heatmap


def test_distribution_counts_every_replicate_and_marks_zero_and_both_sides():
    values = np.array([-0.2, 0.05, 0.1, 0.1, 0.3, 0.4])
    fig = plot_difference_distribution(values)
    ax = fig.axes[0]
    assert sum(p.get_height() for p in ax.patches) == 6
    rug = [line for line in ax.lines if line.get_marker() == "|"][0]
    np.testing.assert_array_equal(rug.get_xdata(), values)
    assert any(line.get_xdata()[0] == 0.0 for line in ax.lines if line.get_marker() != "|")
    texts = [t.get_text() for t in ax.texts]
    assert texts == ["< K-means better", "GMM better >"]
    assert ax.get_title() == "6 replicates, mean +0.125"
    lo, hi = ax.get_xlim()
    assert lo == -hi  # zero in the middle
    plt.close(fig)


def test_grid_heatmap_puts_each_mean_in_its_cell():
    summary = pd.DataFrame({"cluster_std": [1, 1, 2, 2], "shear": [0.0, 1.0, 0.0, 1.0], "mean_ari_diff": [0.0, 0.2, -0.1, 0.4]})
    fig = plot_grid_heatmap(summary, "cluster_std", "shear")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), [[0.0, -0.1], [0.2, 0.4]])  # rows: shear, columns: cluster_std
    assert ax.images[0].get_clim() == (-0.4, 0.4)
    assert [t.get_text() for t in ax.texts] == ["+0.00", "-0.10", "+0.20", "+0.40"]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("cluster_std", "shear")
    plt.close(fig)


def test_example_draws_the_data_once_per_labelling_with_its_score():
    X = np.random.default_rng(0).normal(size=(30, 2))
    labels = {"truth": np.repeat([0, 1, 2], 10), "GMM": np.repeat([1, 0, 2], 10), "K-means": np.tile([0, 1, 2], 10)}
    fig = plot_example(X, labels, {"GMM": 1.0, "K-means": 0.05})
    assert [ax.get_title() for ax in fig.axes] == ["truth", "GMM (ARI 1.00)", "K-means (ARI 0.05)"]
    for ax, lab in zip(fig.axes, labels.values()):
        points = ax.collections[0]
        np.testing.assert_array_equal(points.get_offsets(), X)
        assert len({tuple(c) for c in points.get_facecolors()}) == len(np.unique(lab))
    plt.close(fig)


def test_first_point_takes_the_replicates_of_the_grids_first_point():
    table = pd.DataFrame({"a": [1, 1, 2, 1], "b": ["x", "y", "x", "x"], "ari_diff": [0.1, 0.2, 0.3, 0.4]})
    rows, where = first_point(table, ["a", "b"])
    assert rows["ari_diff"].tolist() == [0.1, 0.4] and where == "a = 1, b = x"
    rows, where = first_point(table, [])
    assert len(rows) == 4 and where == ""
