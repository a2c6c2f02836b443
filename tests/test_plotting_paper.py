"""figureflow.plotting.paper: journal sizes, lettering, layout checks, metadata, source data."""

import json

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from conftest import pdf_facts
from figureflow.plotting.paper import (LETTER_PT, MM, OKABE_ITO, PaperFigure, drawn_texts, layout_problems, legend_html, legend_markdown, rectangles_overlap, text_corners,
                                       paper_style, sans_family, save_paper_figure, write_source_data)

RECORD = {"figureflow": "0.1.0", "commit": "0123abc", "config_sha256": "ff" * 32, "seed": 5, "packages": {"numpy": "2.4.6"}}


def two_panels(width_mm=89.0, height_mm=45.0):
    figure = PaperFigure("toy", "A toy figure", "ab", width_mm, height_mm)
    x = np.linspace(0, 1, 11)
    figure["a"].plot(x, x**2, label="x^2")
    figure["a"].set_xlabel("x")
    figure["a"].set_ylabel("a long label for y")
    figure["a"].legend()
    figure.record("a", pd.DataFrame({"x": x, "y": x**2}), "y = x^2 on 11 points")
    figure["b"].bar(["one", "two"], [3, 1])
    figure.record("b", pd.DataFrame({"bar": ["one", "two"], "height": [3, 1]}), "two bars")
    return figure


def test_a_clean_figure_has_no_layout_problems_and_is_lettered_8_pt_bold_at_the_top_left():
    with paper_style():
        figure = two_panels()
        fig = figure.finish()
        assert layout_problems(fig) == []
        renderer = fig.canvas.get_renderer()
        for letter in "ab":
            ax = figure[letter]
            text = next(t for t in drawn_texts(fig) if t.get_text() == letter)
            assert text.get_fontsize() == LETTER_PT and text.get_fontweight() in ("bold", 700)
            box, panel = text.get_window_extent(renderer), ax.get_tightbbox(renderer)
            assert box.x0 <= ax.get_window_extent(renderer).x0  # left of the axes, over the tick labels
            assert abs(box.x0 - panel.x0) < 2.0 and abs(box.y1 - panel.y1) < 2.0  # the corner of everything the panel draws
    plt.close(fig)


def test_every_problem_a_journal_would_send_back_is_found():
    with paper_style():
        figure = two_panels()
        fig = figure.finish()
        ax = figure["b"]
        ax.text(0.5, 0.5, "first", transform=ax.transAxes)
        ax.text(0.5, 0.5, "second", transform=ax.transAxes)
        ax.text(1.5, 0.5, "outside", transform=fig.transFigure, in_layout=False)
        ax.text(0.1, 0.9, "too big", fontsize=9, transform=ax.transAxes)
        ax.plot([0, 1], [0, 1], linewidth=0.1)
        ax.text(0.1, 0.1, "serif", family="DejaVu Serif", transform=ax.transAxes)
        problems = layout_problems(fig)
    plt.close(fig)
    assert "text 'first' overlaps text 'second'" in problems
    assert "text 'outside' lies outside the figure" in problems
    assert "text 'too big' is 9 pt, outside 5 to 7" in problems
    assert "a Line2D is 0.1 pt wide, under 0.25" in problems
    assert any(p.startswith("text in 2 font families") for p in problems)


def test_a_turned_text_occupies_its_own_rectangle_turned_about_its_centre():
    with paper_style():
        fig = plt.figure(figsize=(80 * MM, 60 * MM))
        flat = fig.text(0.5, 0.5, "a long slanted label", rotation=0)
        turned = fig.text(0.5, 0.5, "a long slanted label", rotation=30)
        renderer = fig.canvas.get_renderer()
        fig.canvas.draw()
        w, h = flat.get_window_extent(renderer).width, flat.get_window_extent(renderer).height
        corners = text_corners(turned, renderer)
        box = turned.get_window_extent(renderer)
    plt.close(fig)
    edges = np.diff(np.vstack([corners, corners[:1]]), axis=0)
    np.testing.assert_allclose(np.hypot(edges[:, 0], edges[:, 1]), [w, h, w, h], rtol=1e-9)
    np.testing.assert_allclose(np.degrees(np.arctan2(edges[0, 1], edges[0, 0])), 30.0, atol=1e-9)
    # its axis-aligned extent is exactly the one matplotlib reports for the turned text
    np.testing.assert_allclose([corners[:, 0].min(), corners[:, 1].min(), corners[:, 0].max(), corners[:, 1].max()],
                               [box.x0, box.y0, box.x1, box.y1], atol=1e-6)
    assert turned.get_rotation() == 30.0  # measuring left the text as it was


def test_the_separating_axis_test_on_turned_squares():
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    diamond = lambda cx, cy: np.array([[cx, cy - 0.5], [cx + 0.5, cy], [cx, cy + 0.5], [cx - 0.5, cy]])  # noqa: E731
    # the diamond's box overlaps the square's corner region, the diamond itself only from x + y < 2.5 on
    assert not rectangles_overlap(square, diamond(1.3, 1.3))  # boxes overlap by 0.2, the shapes are 0.1 apart
    assert rectangles_overlap(square, diamond(1.2, 1.2))  # 2.4 - 0.5 < 2: the diamond's tip is inside
    assert not rectangles_overlap(square, square + [1.0, 0.0])  # touching edges are not an overlap
    assert rectangles_overlap(square, square + [0.9, 0.0]) and not rectangles_overlap(square, square + [0.9, 0.0], tolerance=0.1)


def test_slanted_tick_labels_side_by_side_are_not_overlaps_but_crossing_texts_are():
    names = ["sprites100k_vae", "sprites100k_beta4", "sprites100k_capacity", "sprites100k_tc", "pca", "fastica"]
    with paper_style():
        fig, ax = plt.subplots(figsize=(88 * MM, 50 * MM), layout="constrained")
        ax.bar(range(len(names)), np.arange(len(names)))
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
        assert layout_problems(fig) == []
        ax.text(0.5, 0.5, "crossing one way", rotation=35, transform=ax.transAxes, ha="center", va="center")
        ax.text(0.5, 0.5, "crossing the other", rotation=-35, transform=ax.transAxes, ha="center", va="center")
        problems = layout_problems(fig)
    plt.close(fig)
    assert problems == ["text 'crossing one way' overlaps text 'crossing the other'"]


def test_only_drawn_text_is_checked():
    with paper_style():
        fig, ax = plt.subplots(figsize=(60 * MM, 40 * MM))
        ax.set_xlim(0, 1)
        ax.text(0.5, 0.5, "hidden", visible=False)
        texts = {t.get_text() for t in drawn_texts(fig)}
    plt.close(fig)
    assert "hidden" not in texts and {"0.0", "1.0"} <= texts


def test_a_panel_without_data_or_sentence_and_an_unknown_panel_are_refused():
    with paper_style():
        figure = PaperFigure("toy", "t", "ab", 89, 40)
        figure.record("a", pd.DataFrame({"x": [1]}), "one point")
        with pytest.raises(KeyError, match="no panel 'c'"):
            figure.record("c", pd.DataFrame(), "s")
        with pytest.raises(ValueError, match="panel\\(s\\) b recorded no source data"):
            figure.finish()
    plt.close(figure.fig)
    with pytest.raises(ValueError, match="exceeds a page's 247 mm"):
        PaperFigure("toy", "t", "a", 89, 260)


@pytest.mark.parametrize("width_mm", [89.0, 183.0, 85.0])
def test_the_saved_page_is_the_declared_size_with_truetype_text_and_the_provenance(tmp_path, width_mm):
    with paper_style():
        figure = two_panels(width_mm, 50.0)
        figure["b"].set_title(r"$\propto n^{-1/2}$")  # mathematics too, in the same family, as TrueType
        fig = figure.finish()
    save_paper_figure(fig, tmp_path / "f.pdf", tmp_path / "f.png", "toy", RECORD)
    facts = pdf_facts(tmp_path / "f.pdf")
    assert abs(facts["width_mm"] - width_mm) < 0.5 and abs(facts["height_mm"] - 50.0) < 0.5
    assert "Type3" not in facts["subtypes"] and facts["subtypes"] & {"TrueType", "CIDFontType2"}
    assert json.loads(facts["Subject"]) == RECORD
    assert facts["Title"] == "figureflow paper figure: toy"
    assert "commit=0123abc" in facts["Keywords"] and f"config_sha256={'ff' * 32}" in facts["Keywords"]
    from PIL import Image

    with Image.open(tmp_path / "f.png") as png:
        assert abs(png.size[0] / 600 * 25.4 - width_mm) < 0.5  # 600 dpi
        assert json.loads(png.info["Description"]) == RECORD


def test_equal_figures_give_equal_pdfs(tmp_path):
    for name in ("one", "two"):
        with paper_style():
            fig = two_panels().finish()
        save_paper_figure(fig, tmp_path / f"{name}.pdf", tmp_path / f"{name}.png", "toy", RECORD)
    assert (tmp_path / "one.pdf").read_bytes() == (tmp_path / "two.pdf").read_bytes()
    assert (tmp_path / "one.png").read_bytes() == (tmp_path / "two.png").read_bytes()


def test_the_source_data_has_a_sheet_per_panel_with_the_numbers_drawn(tmp_path):
    with paper_style():
        figure = two_panels()
        fig = figure.finish()
    write_source_data(tmp_path / "s.xlsx", figure.data)
    sheets = pd.read_excel(tmp_path / "s.xlsx", sheet_name=None)
    assert list(sheets) == ["a", "b"]
    x, y = figure["a"].get_lines()[0].get_data()
    np.testing.assert_allclose(sheets["a"]["x"], x, rtol=1e-15, atol=0)  # a workbook keeps 15 significant digits
    np.testing.assert_allclose(sheets["a"]["y"], y, rtol=1e-15, atol=0)
    assert sheets["b"]["height"].tolist() == [p.get_height() for p in figure["b"].patches]
    plt.close(fig)


def test_the_legend_has_a_sentence_per_panel_in_letter_order():
    text = legend_markdown("A toy figure.", {"b": "two bars.", "a": "y = x^2"}, "commit=abc")
    assert text == "**A toy figure.** **a**, y = x^2. **b**, two bars.\n\n<sub>commit=abc</sub>\n"
    page = legend_html("A <toy>", {"a": "x < y"})
    assert "<b>A &lt;toy&gt;.</b> <b>a</b>, x &lt; y." in page


def test_the_style_is_one_sans_serif_family_and_colour_blind_safe_colours():
    with paper_style():
        assert plt.rcParams["font.sans-serif"] == [sans_family()]
        assert plt.rcParams["pdf.fonttype"] == 42
        assert [c for c in plt.rcParams["axes.prop_cycle"].by_key()["color"]] == list(OKABE_ITO)
