"""Data whose generative factors are known, for scoring disentanglement.

Two designs, each returning the data and the factors that made it:

* :func:`simulate_expression`: counts of ``n_genes`` genes in ``n_cells`` cells driven by
  ``n_factors`` independent factors, each uniform on ``[-1, 1]``, through a fixed random nonlinear
  map (one hidden layer of ``tanh`` units) to log mean expression, times a log-normal library
  size, with negative binomial noise of inverse dispersion ``theta``.
* :func:`draw_sprites`: binary images of one shape on a small canvas, dSprites-like (Matthey et
  al. 2017): shape (square, ellipse, heart), scale (6 values in [0.5, 1]), orientation (40 values
  in [0, 2 pi)), x and y (``canvas`` positions each). Factor combinations are drawn at random
  (dSprites enumerates all 737,280; a random subset of the same design is what fits a laptop).

Both take a ``numpy.random.Generator`` from :mod:`figureflow.seeding`.
"""

from __future__ import annotations

import numpy as np

__all__ = ["simulate", "simulate_expression", "draw_sprites", "SPRITE_FACTORS", "SPRITE_SHAPES"]

SPRITE_SHAPES = ("square", "ellipse", "heart")
SPRITE_FACTORS = ("shape", "scale", "orientation", "x", "y")


def simulate_expression(
    rng: np.random.Generator,
    n_cells: int = 3000,
    n_genes: int = 200,
    n_factors: int = 4,
    hidden: int = 16,
    theta: float = 10.0,
    mean_counts: float = 2000.0,
    library_sd: float = 0.3,
) -> dict:
    """Counts driven by independent factors through a random nonlinear map, with NB noise.

    ``f ~ U(-1, 1)^K`` per cell; ``h = tanh(A f + a)`` with ``A (hidden, K)`` of standard normal
    entries times 1.5 and ``a ~ N(0, 0.5^2)``; ``log rho = B h + c`` with ``B (n_genes, hidden)``
    normal entries times ``1/sqrt(hidden)`` and baseline ``c ~ N(0, 1)``, then ``rho`` normalized to
    sum 1 over genes; library ``l = mean_counts * exp(N(0, library_sd^2))``; counts
    ``x ~ NB(mean l rho, inverse dispersion theta)`` (a gamma-Poisson mixture).

    Returns
    -------
    dict
        ``counts (n_cells, n_genes)`` float32 of integers, ``factors (n_cells, K)``,
        ``factor_names`` (``factor_1``...), ``library (n_cells,)``, ``mean (n_cells, n_genes)``.
    """
    factors = rng.uniform(-1.0, 1.0, size=(n_cells, n_factors))
    A = rng.normal(size=(hidden, n_factors)) * 1.5
    a = rng.normal(scale=0.5, size=hidden)
    B = rng.normal(size=(n_genes, hidden)) / np.sqrt(hidden)
    c = rng.normal(size=n_genes)
    log_rho = np.tanh(factors @ A.T + a) @ B.T + c
    rho = np.exp(log_rho - log_rho.max(axis=1, keepdims=True))
    rho /= rho.sum(axis=1, keepdims=True)
    library = mean_counts * np.exp(rng.normal(scale=library_sd, size=n_cells))
    mean = library[:, None] * rho
    counts = rng.poisson(rng.gamma(theta, mean / theta))
    return {
        "counts": counts.astype(np.float32),
        "factors": factors,
        "factor_names": np.array([f"factor_{k + 1}" for k in range(n_factors)]),
        "library": library,
        "mean": mean,
    }


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether shape-frame points ``(u, v)`` (the shape spans about [-1, 1]) are inside the shape."""
    if shape == 0:  # square
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == 1:  # ellipse, 2:1
        return (u / 1.0) ** 2 + (v / 0.5) ** 2 <= 1.0
    x, y = u * 1.15, -v * 1.15 + 0.15  # heart: (x^2 + y^2 - 1)^3 <= x^2 y^3, point up
    return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0


def draw_sprites(rng: np.random.Generator, n_images: int = 4000, canvas: int = 32) -> dict:
    """``n_images`` binary sprites with factors drawn uniformly from the dSprites design.

    A sprite of scale ``s`` covers a box of ``s * canvas / 3`` pixels around its centre; centres run
    over ``canvas`` evenly spaced positions that keep the largest sprite inside the canvas. Pixel
    ``(i, j)`` (row ``i`` from the top) is on when its centre, rotated by ``-orientation`` about the
    sprite's centre and scaled to the shape's frame, is inside the shape.

    Returns
    -------
    dict
        ``images (n, canvas, canvas)`` float32 of 0/1; ``factors (n, 5)``: shape index, scale,
        orientation (radians), x, y (in [0, 1]); ``factor_names``; ``categorical`` (shape only).
    """
    scales = np.linspace(0.5, 1.0, 6)
    orientations = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
    positions = np.linspace(0.0, 1.0, canvas)
    shape = rng.integers(0, 3, n_images)
    scale = scales[rng.integers(0, 6, n_images)]
    angle = orientations[rng.integers(0, 40, n_images)]
    x = positions[rng.integers(0, canvas, n_images)]
    y = positions[rng.integers(0, canvas, n_images)]
    half = canvas / 6.0  # half the box of the largest sprite, in pixels
    grid = np.arange(canvas) + 0.5
    images = np.zeros((n_images, canvas, canvas), dtype=np.float32)
    for k in range(n_images):
        cx = half + x[k] * (canvas - 2 * half)
        cy = half + y[k] * (canvas - 2 * half)
        dx, dy = grid[None, :] - cx, grid[:, None] - cy
        cos, sin = np.cos(angle[k]), np.sin(angle[k])
        u = (cos * dx + sin * dy) / (scale[k] * half)
        v = (-sin * dx + cos * dy) / (scale[k] * half)
        images[k] = _inside(int(shape[k]), u, v)
    return {
        "images": images,
        "factors": np.column_stack([shape, scale, angle, x, y]).astype(np.float64),
        "factor_names": np.array(SPRITE_FACTORS),
        "categorical": np.array([True, False, False, False, False]),
    }


def simulate(spec: dict, rng: np.random.Generator) -> dict:
    """A ``vae.simulations`` entry's data as arrays for ``.npz``: ``x``, ``factors``,
    ``factor_names``, ``categorical`` (and ``canvas`` for sprites)."""
    options = {k: v for k, v in spec.items() if k != "simulator"}
    if spec["simulator"] == "expression":
        keys = ("n_cells", "n_genes", "n_factors", "hidden", "theta", "mean_counts")
        sim = simulate_expression(rng, **{k: options[k] for k in keys if k in options})
        return {"x": sim["counts"], "factors": sim["factors"], "factor_names": sim["factor_names"],
                "categorical": np.zeros(sim["factors"].shape[1], bool)}
    keys = ("n_images", "canvas")
    sim = draw_sprites(rng, **{k: options[k] for k in keys if k in options})
    n, c, _ = sim["images"].shape
    return {"x": sim["images"].reshape(n, c * c), "factors": sim["factors"], "factor_names": sim["factor_names"],
            "categorical": sim["categorical"], "canvas": np.array(c)}
