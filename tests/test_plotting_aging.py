"""Figures of the aging analysis: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.aging import cosine_matrix, plot_magnitudes, plot_trajectory_cosines, plot_transport_plan


def table(planted=True):
    rows = pd.DataFrame({
        "cell_type": ["B", "T", "NK", "rare"],
        "magnitude": [1.8, 1.0, 3.2, np.nan],
        "ci_low": [1.6, 0.95, 2.9, np.nan],
        "ci_high": [2.0, 1.05, 3.4, np.nan],
        "status": ["ok", "ok", "ok", "skipped: 5 young cells, fewer than min_cells (20)"],
    })
    if planted:
        rows["planted_shift"] = [4.0, 0.0, 8.0, 2.0]
    return rows


def test_magnitudes_are_sorted_with_their_intervals_and_the_planted_shift():
    fig = plot_magnitudes(table(), title="sim")
    ax, planted_ax = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["T", "B", "NK"]  # sorted; the skipped type is not drawn
    points = ax.lines[0]
    np.testing.assert_array_equal(points.get_xdata(), [1.0, 1.8, 3.2])
    bars = ax.collections[0].get_segments()  # the interval of each point
    np.testing.assert_allclose([(s[0][0], s[1][0]) for s in bars], [(0.95, 1.05), (1.6, 2.0), (2.9, 3.4)])
    null = [line for line in ax.lines if line.get_linestyle() == "--"][0]
    assert null.get_xdata()[0] == 1.0
    np.testing.assert_array_equal([p.get_width() for p in planted_ax.patches], [0.0, 4.0, 8.0])
    assert "rare" in " ".join(t.get_text() for t in ax.texts)
    assert fig._suptitle.get_text() == "sim"
    plt.close(fig)


def test_magnitudes_without_a_planted_shift_have_one_panel():
    fig = plot_magnitudes(table(planted=False))
    assert len(fig.axes) == 1 and fig.axes[0].get_xlabel() == "aging magnitude (old-young / null)"
    plt.close(fig)


def test_transport_plan_joins_each_old_cell_to_its_young_partner():
    rng = np.random.default_rng(0)
    young, old = rng.normal(size=(20, 4)), rng.normal(size=(20, 4)) + 1
    match = rng.permutation(20)
    fig = plot_transport_plan(young, old, match, max_lines=15, title="T")
    ax = fig.axes[0]
    lines = ax.collections[0].get_segments()
    assert len(lines) == 15
    for i, segment in enumerate(lines):
        np.testing.assert_array_equal(segment, [old[i, :2], young[match[i], :2]])
    young_points, old_points = ax.collections[1], ax.collections[2]
    np.testing.assert_array_equal(young_points.get_offsets(), young[:, :2])
    np.testing.assert_array_equal(old_points.get_offsets(), old[:, :2])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["matched pair", "young (20)", "old (20)"]
    assert ax.get_title() == "T"
    plt.close(fig)


def trajectories():
    pairs = [("A", "B", 0.9), ("A", "C", 0.1), ("A", "D", np.nan), ("B", "C", 0.0), ("B", "D", np.nan), ("C", "D", np.nan)]
    return pd.DataFrame(pairs, columns=["cell_type_a", "cell_type_b", "cosine"])


def test_cosine_matrix_is_symmetric_with_ones_on_the_diagonal():
    names, matrix = cosine_matrix(trajectories())
    assert names == ["A", "B", "C", "D"]
    np.testing.assert_array_equal(matrix[:3, :3], [[1.0, 0.9, 0.1], [0.9, 1.0, 0.0], [0.1, 0.0, 1.0]])
    assert np.isnan(matrix[3]).all()  # D has no trajectory


def test_trajectory_heatmap_clusters_alike_types_together_and_greys_out_missing_ones():
    table = pd.DataFrame(
        [("A", "B", 0.0), ("A", "C", 0.95), ("A", "D", 0.1), ("B", "C", 0.05), ("B", "D", 0.9), ("C", "D", 0.0)],
        columns=["cell_type_a", "cell_type_b", "cosine"],
    )
    fig = plot_trajectory_cosines(table, title="sim")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    # A with C and B with D: each pair adjacent in the order
    assert abs(labels.index("A") - labels.index("C")) == 1 and abs(labels.index("B") - labels.index("D")) == 1
    image = ax.images[0]
    names, matrix = cosine_matrix(table)
    order = [names.index(n) for n in labels]
    np.testing.assert_array_equal(image.get_array(), matrix[np.ix_(order, order)])
    assert image.get_clim() == (-1.0, 1.0) and fig.axes[1].get_ylabel() == "cosine of aging trajectories"
    plt.close(fig)
    fig = plot_trajectory_cosines(trajectories())
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[-1] == "D" and fig.axes[0].images[0].get_array().mask[-1].all()
    plt.close(fig)
