"""The house style every figureflow figure is drawn in, and the one way figures are saved.

A plot function is decorated with :func:`house_figure` (it draws inside :func:`house_style`),
ends with :func:`finish_figure` (title, layout) and returns the Figure; a script passes it to
:func:`save_figure`. Figures are saved twice, as PDF with editable text (TrueType fonts,
``pdf.fonttype = 42``) for papers and as PNG for the report, both with tight bounding boxes.
Scatter plots of many points are rasterized inside the PDF so that files stay small.
"""

from __future__ import annotations

import functools
import os
from contextlib import contextmanager

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from figureflow.io import atomic_output  # noqa: E402

__all__ = [
    "HOUSE_STYLE",
    "house_style",
    "house_figure",
    "finish_figure",
    "save_figure",
    "categorical_colors",
    "subsample_indices",
]

HOUSE_STYLE = {
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.0,
    "figure.dpi": 150,
    "savefig.dpi": 300,
    "savefig.bbox": "tight",
    "savefig.pad_inches": 0.02,
    "image.cmap": "viridis",
}


@contextmanager
def house_style():
    """Context in which matplotlib uses :data:`HOUSE_STYLE`."""
    with plt.rc_context(HOUSE_STYLE):
        yield


def house_figure(plot):
    """Decorator for a plot function: it draws (and lays out) inside :func:`house_style`."""

    @functools.wraps(plot)
    def draw(*args, **kwargs):
        with house_style():
            return plot(*args, **kwargs)

    return draw


def finish_figure(fig, title: str | None = None, ax=None, tight: bool = True):
    """Give ``fig`` its title and final layout; return it.

    The title goes on ``ax`` when given, else above the whole figure (``suptitle``); no title
    when ``title`` is empty. ``tight`` applies ``tight_layout`` (3-D axes are left as placed).
    """
    if title:
        if ax is not None:
            ax.set_title(title)
        else:
            fig.suptitle(title)
    if tight:
        fig.tight_layout()
    return fig


def save_figure(fig, png: str | os.PathLike, pdf: str | os.PathLike | None = None) -> None:
    """Save ``fig`` as PNG (and PDF, editable text) with tight bounding boxes, then close it.

    Each file is written atomically; neither carries a creation date or software version, so
    equal figures give equal files.
    """
    with house_style():
        with atomic_output(png) as tmp:
            fig.savefig(tmp, format="png", bbox_inches="tight", metadata={"Software": None})
        if pdf is not None:
            with atomic_output(pdf) as tmp:
                fig.savefig(tmp, format="pdf", bbox_inches="tight", metadata={"CreationDate": None, "Producer": None, "Creator": None})
    plt.close(fig)


def categorical_colors(categories) -> dict:
    """A stable colour per category: the style's colour cycle (tab10 in the house style, Okabe-Ito
    in the paper style) while it has enough colours, else tab10 or tab20, else evenly spaced hues."""
    categories = list(categories)
    n = len(categories)
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", [])
    if n <= len(cycle):
        colors = [matplotlib.colors.to_rgb(c) for c in cycle[:n]]
    elif n <= 10:
        colors = plt.get_cmap("tab10").colors[:n]
    elif n <= 20:
        colors = plt.get_cmap("tab20").colors[:n]
    else:
        colors = plt.get_cmap("hsv")(np.linspace(0, 1, n, endpoint=False))
    return dict(zip(categories, colors))


def subsample_indices(n: int, max_points: int, rng: np.random.Generator) -> np.ndarray:
    """All of ``range(n)`` if ``n <= max_points``, else ``max_points`` of them at random, in random order.

    Plotting points in random order keeps one category from being painted over the others.
    """
    if n <= max_points:
        return rng.permutation(n)
    return rng.choice(n, size=max_points, replace=False)
