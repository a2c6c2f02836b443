"""User maps for the tests: numba-compatible f(z, p, out), as a user would write them."""

import numpy as np


def swirl(z, p, out):
    """A rolled sheet x = (r cos z1, r sin z1, z2), r = 1 + p[0] z1; D(z) = sqrt(p[0]^2 + r^2)."""
    r = 1.0 + p[0] * z[0]
    out[0] = r * np.cos(z[0])
    out[1] = r * np.sin(z[0])
    out[2] = z[1]


def too_short(z, p, out):
    out[0] = z[0]
    out[1] = z[1]


def too_long(z, p, out):
    out[0] = z[0]
    out[1] = z[1]
    out[2] = z[0] * z[1]
    out[3] = 1.0


def not_a_number(z, p, out):
    out[0] = z[0]
    out[1] = np.log(z[1] - 10.0)
    out[2] = z[1]
