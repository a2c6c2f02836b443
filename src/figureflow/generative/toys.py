"""Two-dimensional toy densities with a known generating process, for continuous normalizing flows.

===========  ==========================================================  ==========================
name         generating process                                          true log-density
===========  ==========================================================  ==========================
moons        scikit-learn's two interleaved half circles (radius 1),     quadrature over the arc
             the angle uniform on ``[0, pi]``, plus ``N(0, noise^2 I)``  angle (see below)
circles      scikit-learn's two concentric circles (radii 1 and 0.5),     closed form (Bessel I0)
             the angle uniform on ``[0, 2 pi)``, plus Gaussian noise
gaussians8   eight Gaussians of std ``noise`` at radius 1, angles         closed form (a mixture)
             ``2 pi k / 8``
pinwheel     five arms (FFJORD's toy): radial std 0.3, tangential std     none (the map from the
             ``noise``, rate 0.25                                         features is not one-to-one)
===========  ==========================================================  ==========================

scikit-learn's ``make_moons`` places points at evenly spaced angles; here the angles are drawn
uniformly, so that a sample is i.i.d. from the density whose log is returned. Each component
(half circle, circle, Gaussian, arm) has equal weight. Flows are trained on data standardized by
one global mean and standard deviation (:func:`standardize`); :func:`toy_log_density` takes the
same shift and scale and returns the density of the standardized coordinates.
"""

from __future__ import annotations

import numpy as np
from scipy.special import i0e, logsumexp

__all__ = ["TOYS", "KNOWN_DENSITY", "toy_sample", "standardize", "toy_log_density"]

TOYS = ("moons", "circles", "gaussians8", "pinwheel")
#: toys whose true density :func:`toy_log_density` computes
KNOWN_DENSITY = ("moons", "circles", "gaussians8")

_CIRCLE_RADII = (1.0, 0.5)
_PINWHEEL = {"arms": 5, "radial_std": 0.3, "rate": 0.25}


def _moon_arcs(angle: np.ndarray) -> np.ndarray:
    """Points of the two half circles at ``angle`` in ``[0, pi]``: ``(2, len(angle), 2)``."""
    outer = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    inner = np.stack([1.0 - np.cos(angle), 0.5 - np.sin(angle)], axis=-1)
    return np.stack([outer, inner])


def toy_sample(name: str, n: int, noise: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` points ``(n, 2)`` of toy ``name`` (raw coordinates), every draw from ``rng``."""
    component = rng.integers(0, {"moons": 2, "circles": 2, "gaussians8": 8, "pinwheel": _PINWHEEL["arms"]}[name], n)
    if name == "moons":
        angle = rng.uniform(0.0, np.pi, n)
        centre = _moon_arcs(angle)[component, np.arange(n)]
        return centre + noise * rng.standard_normal((n, 2))
    if name == "circles":
        angle = rng.uniform(0.0, 2 * np.pi, n)
        radius = np.asarray(_CIRCLE_RADII)[component]
        return radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1) + noise * rng.standard_normal((n, 2))
    if name == "gaussians8":
        angle = 2 * np.pi * component / 8
        return np.stack([np.cos(angle), np.sin(angle)], axis=1) + noise * rng.standard_normal((n, 2))
    if name == "pinwheel":
        features = rng.standard_normal((n, 2)) * np.array([_PINWHEEL["radial_std"], noise]) + np.array([1.0, 0.0])
        angle = 2 * np.pi * component / _PINWHEEL["arms"] + _PINWHEEL["rate"] * np.exp(features[:, 0])
        c, s = np.cos(angle), np.sin(angle)
        return np.stack([c * features[:, 0] - s * features[:, 1], s * features[:, 0] + c * features[:, 1]], axis=1)
    raise ValueError(f"toy {name!r}: expected one of {', '.join(TOYS)}")


def standardize(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """``(x - m) / s`` with ``m`` and ``s`` the mean and standard deviation of all of ``x``'s entries
    (one number each, so shapes keep their proportions); returns the array, ``m`` and ``s``."""
    m, s = float(np.mean(x)), float(np.std(x))
    return (x - m) / s, m, s


def _log_gaussian_2d(d2: np.ndarray, noise: float) -> np.ndarray:
    return -d2 / (2 * noise**2) - np.log(2 * np.pi * noise**2)


def toy_log_density(name: str, x: np.ndarray, noise: float, shift: float = 0.0, scale: float = 1.0, nodes: int = 16384, chunk: int = 256) -> np.ndarray:
    """``log p(x)`` (nats) of toy ``name`` at points ``x (n, 2)`` given in standardized coordinates
    ``(raw - shift) / scale``: ``log p_raw(x scale + shift) + 2 log scale``.

    moons: the arc integral ``(1/2) sum_arcs (1/pi) int_0^pi N(x; c(t), noise^2 I) dt`` by the
    midpoint rule on ``nodes`` angles (error far below 1e-6 nats for ``noise >= 0.01``); circles:
    ``(1/(2 pi noise^2)) exp(-(|x|^2 + r^2) / (2 noise^2)) I0(|x| r / noise^2)`` per circle;
    gaussians8: the mixture.

    Raises
    ------
    ValueError
        For ``pinwheel`` (no closed-form density) or an unknown name.
    """
    raw = np.asarray(x, dtype=np.float64) * scale + shift
    if name == "moons":
        angle = (np.arange(nodes) + 0.5) * np.pi / nodes
        arcs = _moon_arcs(angle).reshape(-1, 2)
        out = np.empty(len(raw))
        for i in range(0, len(raw), chunk):
            d2 = ((raw[i : i + chunk, None, :] - arcs[None]) ** 2).sum(axis=-1)
            out[i : i + chunk] = logsumexp(_log_gaussian_2d(d2, noise), axis=1) - np.log(arcs.shape[0])
    elif name == "circles":
        r = np.linalg.norm(raw, axis=1)
        terms = []
        for radius in _CIRCLE_RADII:
            z = r * radius / noise**2
            terms.append(_log_gaussian_2d((r - radius) ** 2, noise) + np.log(i0e(z)))  # I0(z) e^{-z} absorbs the cross term
        out = logsumexp(np.stack(terms), axis=0) - np.log(len(_CIRCLE_RADII))
    elif name == "gaussians8":
        angle = 2 * np.pi * np.arange(8) / 8
        centres = np.stack([np.cos(angle), np.sin(angle)], axis=1)
        d2 = ((raw[:, None, :] - centres[None]) ** 2).sum(axis=-1)
        out = logsumexp(_log_gaussian_2d(d2, noise), axis=1) - np.log(8)
    elif name == "pinwheel":
        raise ValueError("toy 'pinwheel' has no closed-form density (its map from features to points is not one-to-one)")
    else:
        raise ValueError(f"toy {name!r}: expected one of {', '.join(TOYS)}")
    return out + x.shape[1] * np.log(scale)
