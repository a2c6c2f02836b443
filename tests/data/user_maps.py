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


def nan_below_zero(z, p, out):
    """Finite at the usual test point (z > 0) but NaN wherever z1 < 0."""
    out[0] = z[0]
    out[1] = z[1]
    out[2] = np.sqrt(z[0] * z[0] * z[0])


def uses_abs(z, p, out):
    """|z1| is not analytic: the complex step gives d|z1|/dz1 = 0 everywhere."""
    out[0] = z[0]
    out[1] = z[1]
    out[2] = abs(z[0]) + z[1]


def uses_real_part(z, p, out):
    """.real drops the imaginary step: the complex step sees dx2/dz2 = 0."""
    out[0] = z[0]
    out[1] = z[1]
    out[2] = 3.0 * z[1].real


def steep(z, p, out):
    """Analytic with large values and derivatives (exp(4 z)): must not be mistaken for a non-analytic map."""
    out[0] = np.exp(4.0 * z[0])
    out[1] = z[1] * np.exp(2.0 * z[1])
    out[2] = np.sin(10.0 * z[0] * z[1])


def torch_nan_below_zero():
    """A torch factory whose map is NaN for z1 < 0."""
    import torch

    def fn(z):
        return torch.stack([z[0], z[1], torch.sqrt(z[0] ** 3)])

    return fn


def heavy_tail(z, p, out):
    """x_i = z_i exp(a z_i^2 / 2), a = p[0]: D = prod_i exp(a z_i^2 / 2)(1 + a z_i^2), whose tail
    falls like t^(-1/a): E[D] = (1 - a)^-3 is finite for a < 1, Var D only for a < 1/2."""
    out[0] = z[0] * np.exp(p[0] * z[0] * z[0] / 2.0)
    out[1] = z[1] * np.exp(p[0] * z[1] * z[1] / 2.0)
