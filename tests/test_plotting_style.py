"""The house style: the decorator, finishing a figure, saving, colours, subsampling."""

import matplotlib.pyplot as plt
import numpy as np
import scipy.sparse as sp
from matplotlib.image import imread

from figureflow.plotting.data import plot_adjacency
from figureflow.plotting.style import (
    HOUSE_STYLE,
    categorical_colors,
    finish_figure,
    house_figure,
    save_figure,
    subsample_indices,
)


def test_house_figure_draws_in_the_house_style_and_leaves_the_defaults_alone():
    @house_figure
    def draw():
        fig, ax = plt.subplots()
        ax.set_xlabel("x")
        return fig, plt.rcParams["font.size"], plt.rcParams["pdf.fonttype"]

    before = dict(plt.rcParams)
    fig, size, fonttype = draw()
    assert (size, fonttype) == (HOUSE_STYLE["font.size"], 42)
    assert fig.axes[0].xaxis.label.get_fontsize() == HOUSE_STYLE["axes.labelsize"]
    assert dict(plt.rcParams) == before  # the style does not leak out of the plot function
    plt.close(fig)


def test_finish_figure_titles_the_axes_or_the_figure_and_skips_an_empty_title():
    fig, ax = plt.subplots()
    assert finish_figure(fig, "on the axes", ax) is fig and ax.get_title() == "on the axes"
    fig2, ax2 = plt.subplots()
    finish_figure(fig2, "above all")
    assert fig2._suptitle.get_text() == "above all" and ax2.get_title() == ""
    fig3, ax3 = plt.subplots()
    finish_figure(fig3, None, ax3)
    assert ax3.get_title() == "" and fig3._suptitle is None
    for f in (fig, fig2, fig3):
        plt.close(f)


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
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_xlabel("editable label")
    save_figure(fig, tmp_path / "f.png", tmp_path / "f.pdf")
    pdf = (tmp_path / "f.pdf").read_bytes()
    assert pdf.startswith(b"%PDF")
    assert b"/FontFile2" in pdf  # TrueType (Type 42) fonts embedded: text stays editable
    assert b"/Subtype /Type3" not in pdf
    assert imread(tmp_path / "f.png").ndim == 3
    assert not plt.fignum_exists(fig.number)  # closed once saved


def test_same_figure_gives_identical_files(tmp_path):
    A = sp.csr_matrix(np.triu(np.ones((30, 30)), 1))
    for name in ("a", "b"):
        save_figure(plot_adjacency(A, np.repeat([0, 1, 2], 10)), tmp_path / f"{name}.png", tmp_path / f"{name}.pdf")
    assert (tmp_path / "a.pdf").read_bytes() == (tmp_path / "b.pdf").read_bytes()
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()
