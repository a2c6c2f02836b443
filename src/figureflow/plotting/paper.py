"""Journal figures: one multi-panel figure per method, at a column width in millimetres.

A method's paper figure is a :class:`PaperFigure`: a mosaic of panels lettered a, b, c, ... (8 pt
bold, top left), text 5 to 7 pt in one sans-serif family, lines at least 0.25 pt, colours from
the Okabe-Ito palette (safe for colour-blind readers). Each panel records the numbers it draws
(the journal's source data, one workbook sheet per panel) and one legend sentence. The figure is
saved at exactly its declared width (no tight bounding box), as PDF with TrueType text and as a
600 dpi PNG, both carrying the run's provenance (:mod:`figureflow.provenance`).

:func:`layout_problems` measures what a journal checks: text outside the page, overlapping text,
font sizes and line widths out of range, more than one font family.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import contextmanager
from datetime import datetime

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.spines import Spine  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from figureflow.io import atomic_output  # noqa: E402
from figureflow.provenance import provenance_keywords  # noqa: E402

__all__ = [
    "MM",
    "TEXT_PT",
    "LETTER_PT",
    "MIN_LINE_PT",
    "MAX_HEIGHT_MM",
    "PAPER_DPI",
    "OKABE_ITO",
    "JOURNAL_WIDTHS_MM",
    "sans_family",
    "paper_style",
    "PaperFigure",
    "drawn_texts",
    "text_corners",
    "rectangles_overlap",
    "layout_problems",
    "save_paper_figure",
    "write_source_data",
    "legend_markdown",
    "legend_html",
    "headlines_html",
]

MM = 1 / 25.4  # inches per millimetre
TEXT_PT = (5.0, 7.0)  # Nature: 5 to 7 pt
LETTER_PT = 8.0  # panel letters, bold
MIN_LINE_PT = 0.25
MAX_HEIGHT_MM = 247.0
PAPER_DPI = 600
#: Okabe & Ito (2008), in the order figureflow assigns categories (black last)
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
#: one and two columns, for the config's ``paper.<method>.width_mm``
JOURNAL_WIDTHS_MM = {"nature": (89.0, 183.0), "cell": (85.0, 174.0), "science": (55.0, 120.0)}

_SANS = ("Arial", "Helvetica", "Liberation Sans", "Nimbus Sans", "DejaVu Sans")


def sans_family() -> str:
    """The first installed of Arial, Helvetica, Liberation Sans, Nimbus Sans and DejaVu Sans
    (matplotlib ships the last, so there always is one)."""
    installed = {f.name for f in font_manager.fontManager.ttflist}
    return next(name for name in _SANS if name in installed or name == "DejaVu Sans")


def _rc() -> dict:
    family = sans_family()
    return {
        "pdf.fonttype": 42,  # TrueType: text stays editable, no Type 3
        "ps.fonttype": 42,
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.sans-serif": [family],
        "mathtext.fontset": "custom",  # mathematics in the same family
        "mathtext.rm": family,
        "mathtext.it": f"{family}:italic",
        "mathtext.bf": f"{family}:bold",
        "mathtext.sf": family,
        "mathtext.cal": f"{family}:italic",
        "font.size": 6,
        "axes.titlesize": 6,
        "axes.labelsize": 6,
        "xtick.labelsize": 5,
        "ytick.labelsize": 5,
        "legend.fontsize": 5,
        "legend.title_fontsize": 5,
        "figure.titlesize": 7,
        "legend.frameon": False,
        "legend.handlelength": 1.5,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.linewidth": 0.5,
        "axes.titlepad": 3,
        "axes.labelpad": 2,
        "xtick.major.width": 0.5,
        "ytick.major.width": 0.5,
        "xtick.minor.width": 0.4,
        "ytick.minor.width": 0.4,
        "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
        "xtick.minor.size": 1.5,
        "ytick.minor.size": 1.5,
        "xtick.major.pad": 1.5,
        "ytick.major.pad": 1.5,
        "lines.linewidth": 0.75,
        "lines.markersize": 3,
        "patch.linewidth": 0.5,
        "grid.linewidth": 0.4,
        "hatch.linewidth": 0.5,
        "axes.prop_cycle": matplotlib.cycler(color=list(OKABE_ITO)),
        "image.cmap": "viridis",
        "figure.dpi": 150,
        "savefig.dpi": PAPER_DPI,
        "savefig.bbox": "standard",  # the page is the declared size
        "figure.constrained_layout.use": False,
    }


@contextmanager
def paper_style():
    """Context in which matplotlib draws in the paper style (text size is fixed when an artist
    is made, so a paper figure is drawn inside it from start to finish)."""
    with plt.rc_context(_rc()):
        yield


class PaperFigure:
    """A figure ``width_mm`` x ``height_mm``, titled ``title`` in its legend, whose panels are the letters of ``mosaic``
    (:meth:`matplotlib.figure.Figure.subplot_mosaic`, e.g. ``"ab;cc"``), laid out by matplotlib's
    constrained layout. Make it, draw it and save it inside :func:`paper_style`.

    ``per_panel`` passes keyword arguments to single panels (``{"c": {"projection": "3d"}}``).
    Each panel records its numbers and its legend sentence with :meth:`record`; :meth:`finish`
    letters the panels and refuses a panel left without either.
    """

    def __init__(self, method: str, title: str, mosaic: str, width_mm: float, height_mm: float, per_panel: Mapping | None = None,
                 width_ratios=None, height_ratios=None):
        if not 20 <= float(width_mm) <= 250:
            raise ValueError(f"paper figure {method}: width_mm {width_mm} is not a journal width (89 or 183 for Nature, 85 or 174 for Cell)")
        if float(height_mm) > MAX_HEIGHT_MM:
            raise ValueError(f"paper figure {method}: height {height_mm:.0f} mm exceeds a page's {MAX_HEIGHT_MM:.0f} mm")
        self.method, self.title, self.width_mm, self.height_mm = method, title, float(width_mm), float(height_mm)
        self.fig = plt.figure(figsize=(self.width_mm * MM, self.height_mm * MM), layout="constrained")
        self.fig.get_layout_engine().set(w_pad=1.5 * MM, h_pad=1.5 * MM, wspace=0.04, hspace=0.04)
        self.axes = self.fig.subplot_mosaic(mosaic, per_subplot_kw=dict(per_panel or {}), width_ratios=width_ratios,
                                            height_ratios=height_ratios, empty_sentinel=".")
        self.letters = sorted(self.axes)
        self.data: dict[str, pd.DataFrame] = {}
        self.sentences: dict[str, str] = {}
        self.headlines: list[dict] = []

    def __getitem__(self, letter: str):
        return self.axes[letter]

    def record(self, letter: str, data: pd.DataFrame, sentence: str) -> None:
        """Panel ``letter`` draws exactly ``data`` (its source data) and is described by ``sentence``."""
        if letter not in self.axes:
            raise KeyError(f"paper figure {self.method}: no panel {letter!r} (panels {', '.join(self.letters)})")
        self.data[letter] = data.reset_index(drop=True)
        self.sentences[letter] = sentence.strip()

    def headline(self, quantity: str, value: float, truth: float | None = None, low: float | None = None, high: float | None = None,
                 interval: str = "", note: str = "") -> None:
        """One number the figure reports (for the report's table of headline numbers): its value,
        the truth where one is known, and its interval (``interval`` names what kind)."""
        self.headlines.append({"method": self.method, "quantity": quantity, "value": float(value),
                               "truth": np.nan if truth is None else float(truth), "low": np.nan if low is None else float(low),
                               "high": np.nan if high is None else float(high), "interval": interval, "note": note})

    def headline_table(self) -> pd.DataFrame:
        return pd.DataFrame(self.headlines, columns=["method", "quantity", "value", "truth", "low", "high", "interval", "note"])

    def finish(self):
        """Letter every panel at the top left of everything it draws (its labels included); return the figure."""
        missing = [k for k in self.letters if k not in self.data or not self.sentences.get(k)]
        if missing:
            raise ValueError(f"paper figure {self.method}: panel(s) {', '.join(missing)} recorded no source data or legend sentence")
        for letter in self.letters:  # first at the axes' corner, so that the layout leaves room above it
            ax = self.axes[letter]
            ax.set_title(letter, loc="left", fontsize=LETTER_PT, fontweight="bold")
            for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
                if scale == "log":  # a log axis spanning less than a decade labels its minor ticks, which then collide
                    axis.set_minor_formatter(NullFormatter())
        self.fig.canvas.draw()
        renderer = self.fig.canvas.get_renderer()
        for letter in self.letters:  # then moved left, over the tick and axis labels
            ax = self.axes[letter]
            if ax.name == "3d":
                continue
            left = ax.get_tightbbox(renderer).x0
            x = ax.transAxes.inverted().transform((left, 0))[0]
            ax.set_title(letter, loc="left", fontsize=LETTER_PT, fontweight="bold", x=min(0.0, x))
        self.fig.canvas.draw()
        return self.fig


def drawn_texts(fig) -> list[Text]:
    """The text artists that a draw of ``fig`` actually renders with non-blank text (tick labels
    outside the view are made but not drawn, so walking the artist tree would list them too)."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    seen: list[Text] = []
    draw_text = renderer.draw_text

    def record(gc, x, y, s, prop, angle, ismath=False, mtext=None):
        if mtext is not None and s.strip() and mtext not in seen:
            seen.append(mtext)
        return draw_text(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record
    try:
        fig.draw(renderer)
    finally:
        del renderer.draw_text
    return seen


def text_corners(text: Text, renderer) -> np.ndarray:
    """The four corners (display pixels, ``(4, 2)``) of the rectangle a text artist's glyphs
    occupy, turned by its rotation: a rotated label's axis-aligned extent is far wider than the
    label, so two parallel slanted tick labels would seem to collide where no glyph does."""
    box = text.get_window_extent(renderer)
    angle = float(text.get_rotation())
    if angle % 180.0 == 0.0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    text.set_rotation(0.0)
    try:
        flat = text.get_window_extent(renderer)
    finally:
        text.set_rotation(angle)
    # The axis-aligned extent of a turned rectangle is centred on the rectangle's centre.
    centre = np.array([(box.x0 + box.x1) / 2.0, (box.y0 + box.y1) / 2.0])
    half = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * np.array([flat.width, flat.height]) / 2.0
    theta = np.deg2rad(angle)
    turn = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return centre + half @ turn.T


def rectangles_overlap(a: np.ndarray, b: np.ndarray, tolerance: float = 0.0) -> bool:
    """Whether two rectangles given by their corners (``(4, 2)``, in order) overlap by more than
    ``tolerance`` along every edge direction of both (the separating-axis test: two convex shapes
    are disjoint exactly when one of these directions separates them)."""
    for corners in (a, b):
        for k in range(2):
            edge = corners[k + 1] - corners[k]
            norm = float(np.hypot(*edge))
            if norm == 0.0:
                continue
            axis = np.array([-edge[1], edge[0]]) / norm
            pa, pb = a @ axis, b @ axis
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= tolerance:
                return False
    return True


def layout_problems(fig, text_pt=TEXT_PT, letter_pt: float = LETTER_PT, min_line_pt: float = MIN_LINE_PT, tolerance_px: float = 0.5) -> list[str]:
    """What a journal would send back, one sentence each (empty: none): text outside the figure,
    two texts whose glyph rectangles overlap (turned with the text, :func:`text_corners`), a font
    size outside ``text_pt`` (panel letters: ``letter_pt``, bold), a line thinner than
    ``min_line_pt``, text in more than one font family."""
    texts = drawn_texts(fig)
    renderer = fig.canvas.get_renderer()
    page = fig.bbox
    problems = []
    boxes = []
    families = set()
    for t in texts:
        corners = text_corners(t, renderer)
        label = repr(t.get_text()[:40])
        x, y = corners[:, 0], corners[:, 1]
        if x.min() < page.x0 - tolerance_px or y.min() < page.y0 - tolerance_px or x.max() > page.x1 + tolerance_px or y.max() > page.y1 + tolerance_px:
            problems.append(f"text {label} lies outside the figure")
        size = float(t.get_fontsize())
        is_letter = t.get_text() in _LETTERS and t.get_fontweight() in ("bold", 700)
        if is_letter:
            if abs(size - letter_pt) > 1e-6:
                problems.append(f"panel letter {label} is {size:g} pt, not {letter_pt:g}")
        elif not text_pt[0] - 1e-6 <= size <= text_pt[1] + 1e-6:
            problems.append(f"text {label} is {size:g} pt, outside {text_pt[0]:g} to {text_pt[1]:g}")
        families.add(font_manager.FontProperties(fname=font_manager.findfont(t.get_fontproperties())).get_name())
        boxes.append((corners, label))
    for i in range(len(boxes)):
        a, la = boxes[i]
        for b, lb in boxes[i + 1:]:
            if rectangles_overlap(a, b, tolerance_px):
                problems.append(f"text {la} overlaps text {lb}")
    if len(families) > 1:
        problems.append(f"text in {len(families)} font families: {', '.join(sorted(families))}")
    for artist in fig.findobj(lambda a: isinstance(a, (Line2D, Spine)) and a.get_visible()):
        width = float(artist.get_linewidth())
        if 0 < width < min_line_pt - 1e-9:
            problems.append(f"a {type(artist).__name__} is {width:g} pt wide, under {min_line_pt:g}")
    return problems


_LETTERS = set("abcdefghijklmnopqrstuvwxyz")


def save_paper_figure(fig, pdf, png, method: str, record: Mapping) -> None:
    """Save ``fig`` at its own size (the declared width) as PDF (TrueType text) and 600 dpi PNG,
    each written atomically and carrying the provenance ``record``: in the PDF as Title, Subject
    (the record as JSON) and Keywords (one line), in the PNG as Title and Description. Neither
    file carries a date, so equal figures give equal files."""
    title = f"figureflow paper figure: {method}"
    payload = json.dumps(record, sort_keys=True, separators=(",", ":"))
    with paper_style():
        with atomic_output(pdf) as tmp:
            fig.savefig(tmp, format="pdf", metadata={"Title": title, "Subject": payload, "Keywords": provenance_keywords(record),
                                                     "Creator": None, "Producer": None, "CreationDate": None})
        with atomic_output(png) as tmp:
            fig.savefig(tmp, format="png", dpi=PAPER_DPI, metadata={"Title": title, "Description": payload, "Software": None})
    plt.close(fig)


def write_source_data(path, data: Mapping[str, pd.DataFrame]) -> None:
    """One workbook sheet per panel, named by its letter, holding the numbers the panel draws
    (written atomically; the workbook's dates are fixed, so that a rerun writes the same values)."""
    with atomic_output(path) as tmp:
        with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
            for letter in sorted(data):
                data[letter].to_excel(writer, sheet_name=letter, index=False)
            writer.book.properties.created = datetime(2000, 1, 1)
            writer.book.properties.modified = datetime(2000, 1, 1)


def legend_markdown(title: str, sentences: Mapping[str, str], provenance_line: str | None = None) -> str:
    """The figure legend: a bold title, then ``**a**, sentence`` per panel; the provenance last."""
    parts = [f"**{title.rstrip('.')}.**"] + [f"**{k}**, {sentences[k].rstrip('.')}." for k in sorted(sentences)]
    text = " ".join(parts) + "\n"
    if provenance_line:
        text += f"\n<sub>{provenance_line}</sub>\n"
    return text


def legend_html(title: str, sentences: Mapping[str, str], provenance_line: str | None = None) -> str:
    """:func:`legend_markdown` as a small HTML page (the report shows it beside the figure)."""
    import html

    body = f"<p><b>{html.escape(title.rstrip('.'))}.</b> " + " ".join(f"<b>{k}</b>, {html.escape(sentences[k].rstrip('.'))}." for k in sorted(sentences)) + "</p>"
    if provenance_line:
        body += f"\n<p><small>{html.escape(provenance_line)}</small></p>"
    return f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title></head>\n<body>\n{body}\n</body></html>\n"


def headlines_html(table: pd.DataFrame, provenance_line: str | None = None) -> str:
    """The headline numbers of every paper figure as one HTML table: method, quantity, value,
    truth where known, interval (what kind) and a note."""
    import html

    def cell(v, digits=4):
        if isinstance(v, float):
            return "" if not np.isfinite(v) else f"{v:.{digits}g}"
        return html.escape(str(v))

    rows = []
    for r in table.itertuples(index=False):
        interval = "" if not (np.isfinite(r.low) and np.isfinite(r.high)) else f"[{cell(r.low)}, {cell(r.high)}] {html.escape(r.interval)}".strip()
        rows.append(f"<tr><td>{cell(r.method)}</td><td>{cell(r.quantity)}</td><td>{cell(r.value)}</td><td>{cell(r.truth)}</td>"
                    f"<td>{interval}</td><td>{cell(r.note)}</td></tr>")
    foot = f"<p><small>{html.escape(provenance_line)}</small></p>" if provenance_line else ""
    return ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Headline numbers</title>\n"
            "<style>table{border-collapse:collapse;font-family:sans-serif;font-size:13px}td,th{border-bottom:1px solid #ccc;padding:3px 8px;"
            "text-align:left}</style></head>\n<body>\n<table>\n<tr><th>method</th><th>quantity</th><th>value</th><th>truth</th><th>interval</th>"
            "<th>note</th></tr>\n" + "\n".join(rows) + f"\n</table>\n{foot}\n</body></html>\n")
