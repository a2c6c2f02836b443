"""Data whose generative factors are known, for scoring disentanglement.

Two designs, each returning the data and the factors that made it:

* :func:`simulate_expression`: counts of ``n_genes`` genes in ``n_cells`` cells driven by
  ``n_factors`` independent factors, each uniform on ``[-1, 1]``, through a fixed random nonlinear
  map (one hidden layer of ``tanh`` units) to log mean expression, times a log-normal library
  size, with negative binomial noise of inverse dispersion ``theta``.
* :func:`draw_sprites`: binary images of one shape, dSprites' design (Matthey et al. 2017): the
  full grid of 737,280 factor combinations in the published order (:func:`dsprites_grid`: shape
  square, ellipse, heart; 6 scales on [0.5, 1]; 40 orientations on [0, 2 pi]; 32 x and 32 y
  positions on [0, 1]), or a seeded subsample of it, drawn at 64 x 64 or a smaller canvas.
  :func:`read_dsprites` reads the published file instead, for numbers comparable with the
  literature.

Both take a ``numpy.random.Generator`` from :mod:`figureflow.seeding`.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "simulate", "simulate_expression", "draw_sprites", "render_sprites", "read_dsprites", "dsprites_grid", "dsprites_values",
    "npz_shapes", "SPRITE_FACTORS", "SPRITE_SHAPES", "DSPRITES_LATENTS", "DSPRITES_SIZES", "DSPRITES_FILE_KEYS",
]

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


#: dSprites' latent factors as the published file stores them (``latents_values`` columns), their
#: numbers of values, and the factors scored (colour has one value and is left out, as everywhere)
DSPRITES_LATENTS = ("color", "shape", "scale", "orientation", "posX", "posY")
DSPRITES_SIZES = (1, 3, 6, 40, 32, 32)
DSPRITES_FILE_KEYS = ("imgs", "latents_values", "latents_classes")


def dsprites_values() -> list[np.ndarray]:
    """Each latent's values as dSprites defines them: colour 1 (white); shape 1, 2, 3 (square,
    ellipse, heart); scale 6 values evenly spaced on [0.5, 1]; orientation 40 values evenly spaced
    on [0, 2 pi] (both ends: the first and last are the same rotation); x and y 32 values evenly
    spaced on [0, 1]."""
    return [np.array([1.0]), np.array([1.0, 2.0, 3.0]), np.linspace(0.5, 1.0, 6), np.linspace(0.0, 2 * np.pi, 40),
            np.linspace(0.0, 1.0, 32), np.linspace(0.0, 1.0, 32)]


def dsprites_grid(rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(latents_classes, latents_values)`` of dSprites' 737,280 images in the published order
    (posY varies fastest, then posX, orientation, scale, shape, colour: image ``i``'s classes are
    ``i`` in mixed radix :data:`DSPRITES_SIZES`), or of the grid rows ``rows`` only; each ``(n, 6)``,
    classes int64 and values float64, columns :data:`DSPRITES_LATENTS`."""
    n = int(np.prod(DSPRITES_SIZES))
    rows = np.arange(n) if rows is None else np.asarray(rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"dSprites grid rows run from 0 to {n - 1}")
    classes = np.column_stack(np.unravel_index(rows, DSPRITES_SIZES)).astype(np.int64)
    values = np.column_stack([v[c] for v, c in zip(dsprites_values(), classes.T)])
    return classes, values


def _inside(shape: int, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Whether shape-frame points ``(u, v)`` (the shape spans about [-1, 1]) are inside the shape."""
    if shape == 0:  # square
        return (np.abs(u) <= 0.8) & (np.abs(v) <= 0.8)
    if shape == 1:  # ellipse, 2:1
        return (u / 1.0) ** 2 + (v / 0.5) ** 2 <= 1.0
    x, y = u * 1.15, -v * 1.15 + 0.15  # heart: (x^2 + y^2 - 1)^3 <= x^2 y^3, point up
    return (x**2 + y**2 - 1.0) ** 3 - x**2 * y**3 <= 0.0


def render_sprites(values: np.ndarray, canvas: int = 64) -> np.ndarray:
    """Binary images ``(n, canvas, canvas)`` (uint8) of dSprites latent ``values (n, 6)``.

    A sprite of scale ``s`` covers a box of ``s * canvas / 3`` pixels around its centre; centres
    run over [0, 1] mapped onto positions that keep the largest sprite inside the canvas. Pixel
    ``(i, j)`` (row ``i`` from the top) is on when its centre, rotated by ``-orientation`` about the
    sprite's centre and scaled to the shape's frame, is inside the shape. The shapes approximate
    the published images (drawn by their authors' renderer, not public); for the published pixels,
    read the published file (:func:`read_dsprites`).
    """
    values = np.asarray(values, dtype=np.float64)
    half = canvas / 6.0  # half the box of the largest sprite, in pixels
    grid = np.arange(canvas) + 0.5
    images = np.zeros((len(values), canvas, canvas), dtype=np.uint8)
    for k, (_, shape, scale, angle, x, y) in enumerate(values):
        cx = half + x * (canvas - 2 * half)
        cy = half + y * (canvas - 2 * half)
        dx, dy = grid[None, :] - cx, grid[:, None] - cy
        cos, sin = np.cos(angle), np.sin(angle)
        u = (cos * dx + sin * dy) / (scale * half)
        v = (-sin * dx + cos * dy) / (scale * half)
        images[k] = _inside(int(shape) - 1, u, v)
    return images


def _grid_rows(rng: np.random.Generator, n_images: int | None) -> np.ndarray:
    n = int(np.prod(DSPRITES_SIZES))
    if n_images is None or n_images >= n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=int(n_images), replace=False))


def _sprites(images: np.ndarray, classes: np.ndarray, values: np.ndarray) -> dict:
    return {
        "images": images,
        "factors": values[:, 1:].astype(np.float64),
        "factor_classes": classes[:, 1:].astype(np.int64),
        "factor_names": np.array(SPRITE_FACTORS),
        "categorical": np.array([True, False, False, False, False]),
    }


def draw_sprites(rng: np.random.Generator, n_images: int | None = 4000, canvas: int = 32) -> dict:
    """dSprites' factor grid, or ``n_images`` rows of it drawn without replacement (kept in the
    published order), rendered on a ``canvas`` x ``canvas`` canvas (:func:`render_sprites`).

    Returns
    -------
    dict
        ``images (n, canvas, canvas)`` uint8 of 0/1; ``factors (n, 5)``: the published values of
        shape (1, 2, 3), scale, orientation (radians), x, y; ``factor_classes (n, 5)``: their
        indices (``latents_classes`` without colour); ``factor_names``; ``categorical`` (shape).
    """
    classes, values = dsprites_grid(_grid_rows(rng, n_images))
    return _sprites(render_sprites(values, canvas), classes, values)


def npz_shapes(path) -> dict:
    """``{key: (shape, dtype)}`` of an ``.npz``'s arrays from their headers, without reading the
    data (the published dSprites file holds 3 GB once decompressed).

    Raises
    ------
    InputError
        Naming the file, when it is missing or not an ``.npz`` of ``.npy`` arrays.
    """
    import zipfile

    from figureflow.io import InputError

    try:
        with zipfile.ZipFile(path) as archive:
            shapes = {}
            for name in archive.namelist():
                if not name.endswith(".npy"):
                    continue
                with archive.open(name) as member:
                    version = np.lib.format.read_magic(member)
                    header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                    shape, _, dtype = header(member)
                shapes[name[: -len(".npy")]] = (tuple(shape), dtype)
    except (OSError, zipfile.BadZipFile, ValueError) as error:
        raise InputError(f"sprites file '{path}': cannot be read as an .npz ({error})") from None
    return shapes


def read_dsprites(path, rng: np.random.Generator, n_images: int | None = None) -> dict:
    """The published dSprites file (``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``), or any
    ``.npz`` with its keys: ``imgs (n, side, side)`` of 0/1, ``latents_values (n, 6)`` and
    ``latents_classes (n, 6)`` (columns :data:`DSPRITES_LATENTS`); all ``n`` images, or
    ``n_images`` of them drawn without replacement (in file order). Returns what
    :func:`draw_sprites` returns.

    Raises
    ------
    InputError
        Naming the file and the key: a missing or unreadable file, a missing key, or a key of the
        wrong shape or values.
    """
    from figureflow.io import InputError, describe

    try:
        f = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise InputError(f"sprites file '{path}': cannot be read as an .npz ({error})") from None
    with f:
        missing = [k for k in DSPRITES_FILE_KEYS if k not in f.files]
        if missing:
            raise InputError(f"sprites file '{path}': expected keys {', '.join(DSPRITES_FILE_KEYS)} (dSprites' layout), "
                             f"missing {', '.join(missing)}; found {describe(f.files)}")
        imgs = f["imgs"]
        n = imgs.shape[0]
        if imgs.ndim != 3 or imgs.shape[1] != imgs.shape[2]:
            raise InputError(f"sprites file '{path}': key 'imgs' must be (n, side, side) square images, found shape {imgs.shape}")
        for key in DSPRITES_FILE_KEYS[1:]:
            if f[key].shape != (n, len(DSPRITES_LATENTS)):
                raise InputError(f"sprites file '{path}': key '{key}' must be ({n}, {len(DSPRITES_LATENTS)}) (one row per image, "
                                 f"columns {', '.join(DSPRITES_LATENTS)}), found shape {f[key].shape}")
        rows = np.arange(n) if n_images is None or n_images >= n else np.sort(rng.choice(n, size=int(n_images), replace=False))
        images = np.asarray(imgs[rows])
        if not np.isin(images, (0, 1)).all():
            raise InputError(f"sprites file '{path}': key 'imgs' must hold 0/1 pixels (a Bernoulli likelihood), found values {np.unique(images)[:6]}")
        classes, values = np.asarray(f["latents_classes"][rows], np.int64), np.asarray(f["latents_values"][rows], np.float64)
    return _sprites(images.astype(np.uint8), classes, values)


def simulate(spec: dict, rng: np.random.Generator) -> dict:
    """A ``vae.simulations`` entry's data as arrays for ``.npz``: ``x``, ``factors``,
    ``factor_names``, ``categorical`` (and ``canvas`` for sprites)."""
    options = {k: v for k, v in spec.items() if k != "simulator"}
    if spec["simulator"] == "expression":
        keys = ("n_cells", "n_genes", "n_factors", "hidden", "theta", "mean_counts")
        sim = simulate_expression(rng, **{k: options[k] for k in keys if k in options})
        return {"x": sim["counts"], "factors": sim["factors"], "factor_names": sim["factor_names"],
                "categorical": np.zeros(sim["factors"].shape[1], bool)}
    if "npz" in options:
        sim = read_dsprites(options["npz"], rng, options.get("n_images"))
    else:
        sim = draw_sprites(rng, options.get("n_images", 5000), options.get("canvas", 32))
    n, c, _ = sim["images"].shape
    # uint8 pixels: a quarter of float32's disk and memory
    return {"x": sim["images"].reshape(n, c * c), "factors": sim["factors"], "factor_classes": sim["factor_classes"],
            "factor_names": sim["factor_names"], "categorical": sim["categorical"], "canvas": np.array(c)}
