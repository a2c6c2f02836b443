"""Figures of signal flow: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pytest

from figureflow.plotting.signal_flow import plot_group_means, plot_values_by_group


@pytest.fixture
def grouped():
    rng = np.random.default_rng(1)
    groups = np.repeat(["source", "relay", "sink"], [30, 3000, 5])
    z = rng.normal(size=groups.size) + np.repeat([2.0, 0.0, -2.0], [30, 3000, 5])
    z[[0, 40]] = np.nan  # isolated nodes: left out
    return z, groups


def test_values_by_group_draw_a_violin_median_and_points_per_group(grouped):
    z, groups = grouped
    fig = plot_values_by_group(z, groups, group_name="class", value_name="signal flow z", max_points_per_group=500, title="t")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["source", "relay", "sink"]  # order of appearance
    violins = [c for c in ax.collections if "Poly" in type(c).__name__]
    points = [c for c in ax.collections if type(c).__name__ == "PathCollection"]
    medians = [c for c in ax.collections if type(c).__name__ == "LineCollection"]
    assert len(violins) == 3 and len(points) == 3 and len(medians) == 3
    ok = np.isfinite(z)
    for k, (g, scatter, median) in enumerate(zip(["source", "relay", "sink"], points, medians)):
        values = z[ok & (groups == g)]
        offsets = np.asarray(scatter.get_offsets())
        assert len(offsets) == min(values.size, 500)  # relay subsampled to 500
        assert np.all(np.abs(offsets[:, 0] - k) <= 0.18)  # jittered around its position
        assert np.isin(offsets[:, 1], values).all()  # only this group's values
        np.testing.assert_allclose(median.get_segments()[0][:, 1], np.median(values))
    assert ax.get_xlabel() == "class" and ax.get_ylabel() == "signal flow z" and ax.get_title() == "t"
    plt.close(fig)


def test_numeric_groups_are_sorted():
    fig = plot_values_by_group(np.arange(6.0), np.array([3, 1, 2, 3, 1, 2]))
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "3"]
    plt.close(fig)


def test_values_without_groups_are_a_histogram_of_the_finite_values(grouped):
    z, _ = grouped
    fig = plot_values_by_group(z, None, value_name="z")
    ax = fig.axes[0]
    heights = [patch.get_height() for patch in ax.patches]
    assert sum(heights) == np.isfinite(z).sum()
    assert ax.get_xlabel() == "z" and ax.get_ylabel() == "nodes"
    plt.close(fig)


def test_group_means_are_drawn_with_their_spread_and_fitted_slope():
    blocks = np.repeat([0, 1, 2, 3], 50)
    z = -1.0 * blocks + np.tile(np.linspace(-0.5, 0.5, 50), 4)
    z[3] = np.nan
    fig = plot_group_means(z, blocks, "block", "signal flow z", title="chain")
    ax = fig.axes[0]
    ok = np.isfinite(z)
    means = [z[ok & (blocks == b)].mean() for b in range(4)]
    line = ax.lines[0]
    np.testing.assert_allclose(line.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), means)
    slope = np.polyfit(np.arange(4.0), means, 1)[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["slope -1", f"mean +- sd (fitted slope {slope:.3g})"]
    reference = [l for l in ax.lines if l.get_linestyle() == "--"][0]
    np.testing.assert_allclose(np.diff(reference.get_ydata()), -1.0)
    assert ax.get_xlabel() == "block" and ax.get_ylabel() == "mean signal flow z" and ax.get_title() == "chain"
    plt.close(fig)


def test_order_by_z_puts_sources_first_ties_by_index_and_isolated_last():
    from figureflow.plotting.signal_flow import order_by_z

    z = np.array([0.0, np.nan, 2.0, 0.0, -1.0, np.nan])
    assert order_by_z(z).tolist() == [2, 0, 3, 4, 1, 5]

