import numpy as np
import pandas as pd
import scipy.sparse as sp
from matplotlib.image import imread

from figureflow.plotting import binned_adjacency, categorical_colors, plot_adjacency, plot_embedding, save_figure, subsample_indices


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


def test_subsample_is_a_permutation_or_a_sample_without_repeats():
    rng = np.random.default_rng(0)
    assert sorted(subsample_indices(10, 100, rng)) == list(range(10))
    picked = subsample_indices(1000, 50, rng)
    assert picked.size == 50 and np.unique(picked).size == 50


def test_categorical_colors_are_distinct_and_stable():
    for n in (3, 15, 25):
        colors = categorical_colors(range(n))
        assert len({tuple(np.round(c, 6)) for c in colors.values()}) == n
    assert categorical_colors(["a", "b"]) == categorical_colors(["a", "b"])


def test_save_figure_writes_png_and_pdf_with_editable_text(tmp_path):
    obs = pd.DataFrame({"cell_type": list("abc") * 20, "age": ["young", "old"] * 30})
    coords = np.random.default_rng(0).normal(size=(60, 2))
    fig = plot_embedding({"PCA": coords}, obs)
    assert len(fig.axes) == 2
    save_figure(fig, tmp_path / "f.png", tmp_path / "f.pdf")
    pdf = (tmp_path / "f.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile2" in pdf  # TrueType (Type 42) fonts embedded: text stays editable
    assert b"/Subtype /Type3" not in pdf
    assert imread(tmp_path / "f.png").ndim == 3


def test_same_figure_gives_identical_files(tmp_path):
    A = sp.csr_matrix(np.triu(np.ones((30, 30)), 1))
    for name in ("a", "b"):
        save_figure(plot_adjacency(A, np.repeat([0, 1, 2], 10)), tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_adjacency_groups_keep_their_order_of_appearance():
    A = sp.csr_matrix((6, 6))
    fig = plot_adjacency(A, np.array(["sensory", "sensory", "inter", "inter", "motor", "motor"]), group_name="class")
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["sensory", "inter", "motor"]


def test_large_graph_is_drawn_binned_as_density():
    A = sp.random(3000, 3000, density=0.001, random_state=0, format="csr")
    fig = plot_adjacency(A, None, max_bins=100)
    image = fig.axes[0].images[0].get_array()
    assert image.shape == (100, 100)
    # 100 equal bins of 30 nodes: the mean density over bins is the graph's weight per node pair
    np.testing.assert_allclose(np.asarray(image).mean(), A.sum() / 3000**2, rtol=1e-9)
