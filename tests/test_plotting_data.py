"""Figures of the data layer: what each draws, checked against its input."""

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from figureflow.plotting.data import binned_adjacency, plot_adjacency, plot_embedding
from figureflow.plotting.style import categorical_colors


def test_binned_adjacency_keeps_every_edge_weight():
    rng = np.random.default_rng(0)
    A = sp.random(1000, 1000, density=0.01, random_state=1, format="csr")
    order = rng.permutation(1000)
    weights, sizes = binned_adjacency(A, order, 37)
    assert weights.shape == (37, 37)
    assert sizes.sum() == 1000 and sizes.max() - sizes.min() <= 1
    np.testing.assert_allclose(weights.sum(), A.sum())


def test_binned_adjacency_is_exact_with_one_node_per_bin():
    A = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 2], [3, 0, 0]], dtype=float))
    order = np.array([2, 0, 1])  # node 2 first
    weights, sizes = binned_adjacency(A, order, 10)
    np.testing.assert_array_equal(sizes, [1, 1, 1])
    np.testing.assert_array_equal(weights, A.toarray()[np.ix_(order, order)])


@pytest.fixture
def cells():
    rng = np.random.default_rng(0)
    obs = pd.DataFrame({"cell_type": list("abc") * 20, "age": ["young", "old"] * 30, "batch": ["x"] * 60})
    return {"PCA": rng.normal(size=(60, 5)), "UMAP": rng.normal(size=(60, 2))}, obs


def test_embedding_draws_every_cell_in_its_category_colour(cells):
    embeddings, obs = cells
    fig = plot_embedding(embeddings, obs, title="tiny")
    axes = np.array(fig.axes).reshape(2, 2)  # rows: embeddings; columns: cell_type, age
    for r, (name, coords) in enumerate(embeddings.items()):
        for c, key in enumerate(["cell_type", "age"]):
            ax = axes[r, c]
            drawn = ax.collections[0]
            offsets = np.asarray(drawn.get_offsets())
            assert len(offsets) == 60
            # every cell once, at its first two coordinates
            np.testing.assert_array_equal(np.sort(offsets, axis=0), np.sort(coords[:, :2], axis=0))
            colors = categorical_colors(obs[key].astype("category").cat.categories)
            row = {tuple(np.round(p, 12)): i for i, p in enumerate(coords[:, :2])}
            for point, face in zip(offsets, drawn.get_facecolors()):
                expected = colors[obs[key].iloc[row[tuple(np.round(point, 12))]]]
                np.testing.assert_allclose(face[:3], expected[:3])
            assert ax.get_xlabel() == f"{name} 1" and ax.get_ylabel() == f"{name} 2"
            assert [t.get_text() for t in ax.get_legend().get_texts()] == list(map(str, colors))
    assert [axes[0, c].get_title() for c in range(2)] == ["cell type", "age"]
    assert fig._suptitle.get_text() == "tiny"
    plt.close(fig)


def test_embedding_draws_at_most_max_points_and_skips_missing_columns(cells):
    embeddings, obs = cells
    fig = plot_embedding({"PCA": embeddings["PCA"]}, obs, color_by=("cell_type", "no_such_column"), max_points=25)
    assert len(fig.axes) == 1  # one panel: none for the missing column
    offsets = np.asarray(fig.axes[0].collections[0].get_offsets())
    assert len(offsets) == 25 and len(np.unique(offsets, axis=0)) == 25
    plt.close(fig)


def test_adjacency_of_a_small_graph_is_drawn_exactly_in_group_order():
    A = sp.csr_matrix(np.array([[0, 2, 0, 0], [0, 0, 0, 1], [5, 0, 0, 0], [0, 0, 3, 0]], dtype=float))
    groups = np.array(["b", "a", "b", "a"])
    fig = plot_adjacency(A, groups, group_name="class")
    ax = fig.axes[0]
    order = [0, 2, 1, 3]  # b first (first appearance), then a, stable within groups
    image = ax.images[0].get_array()
    np.testing.assert_array_equal(image.filled(0), A.toarray()[np.ix_(order, order)])
    assert image.mask.sum() == 16 - A.nnz  # absent edges stay white
    assert [t.get_text() for t in ax.get_xticklabels()] == ["b", "a"]
    assert ax.get_xlabel() == "target (class)" and ax.get_ylabel() == "source (class)"
    assert ax.get_title() == "4 nodes, 4 edges"
    assert fig.axes[1].get_ylabel() == "edge weight"
    plt.close(fig)


def test_adjacency_in_an_explicit_order_names_the_order():
    A = sp.csr_matrix(np.array([[0, 1, 0], [0, 0, 2], [3, 0, 0]], dtype=float))
    order = np.array([2, 0, 1])
    fig = plot_adjacency(A, np.array([0, 1, 2]), order=order, order_name="z (high to low)", title="g")
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array().filled(0), A.toarray()[np.ix_(order, order)])
    assert ax.get_xlabel() == "target node, ordered by z (high to low)" and ax.get_title() == "g"
    plt.close(fig)


def test_adjacency_groups_keep_their_order_of_appearance():
    A = sp.csr_matrix((6, 6))
    fig = plot_adjacency(A, np.array(["sensory", "sensory", "inter", "inter", "motor", "motor"]), group_name="class")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["sensory", "inter", "motor"]
    plt.close(fig)


def test_large_graph_is_drawn_binned_as_density():
    A = sp.random(3000, 3000, density=0.001, random_state=0, format="csr")
    fig = plot_adjacency(A, None, max_bins=100)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (100, 100)
    # 100 equal bins of 30 nodes: the mean density over bins is the graph's weight per node pair
    np.testing.assert_allclose(np.asarray(image).mean(), A.sum() / 3000**2, rtol=1e-9)
    assert fig.axes[1].get_ylabel() == "edge density (weight per node pair)"
    assert fig.axes[0].get_xlabel() == "target nodes (binned)"
    plt.close(fig)
