"""Figures of the aging analysis: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from figureflow.plotting.aging import plot_magnitudes, plot_transport_plan


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
