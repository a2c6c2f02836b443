"""The sampling kernels of one map, one way of filling its Jacobian: the template.

:func:`figureflow.jacobian.measure.map_kernels` executes this file's text as a module of its own
for each map and method, with these names set beforehand in the module's namespace:

* ``f``, ``jac``: the map's numba functions ``f(z, p, out)`` and ``jac(z, p, J)`` (or None);
* ``d``, ``D``: latent and data dimensions (numba compiles them in as constants);
* ``METHOD``: ``"analytic"`` (``jac``) or ``"complex_step"`` (``f`` at ``z + i h e_k``);
* ``CACHE``: whether numba may cache the compiled kernels on disk.

When the map's source can name it (a module-level function without a closure), the module is a
file named by a hash of everything the compiled code depends on (this text, the map's source
file, :mod:`figureflow.jacobian.measure`, :mod:`figureflow.jacobian.normal`, numba's version,
``d``, ``D`` and the method), and ``CACHE`` is true: a new process loads the kernels numba
compiled before instead of compiling them again (seconds per map). Otherwise the module lives in
memory only and compiles in each process.

Imported as itself it defines nothing compiled-to-be-used; the defaults below only keep it
importable.
"""

import numpy as np
from numba import njit, prange

from figureflow.jacobian.maps import COMPLEX_STEP
from figureflow.jacobian.measure import CHUNK, volume_from_jacobian
from figureflow.jacobian.normal import SAMPLE_CHUNK, _normal

# set by figureflow.jacobian.measure.map_kernels before this text runs
f = globals().get("f")
jac = globals().get("jac")
d = globals().get("d", 1)
D = globals().get("D", 1)
METHOD = globals().get("METHOD", "complex_step")
CACHE = globals().get("CACHE", False)


if METHOD == "analytic":

    @njit(inline="always")
    def fill_jacobian(z, p, zc, xc, J):
        jac(z, p, J)  # zc, xc: unused scratch, to share the complex step's signature

else:
    h = COMPLEX_STEP

    @njit(inline="always")
    def fill_jacobian(z, p, zc, xc, J):
        for k in range(d):
            for j in range(d):
                zc[j] = z[j]
            zc[k] += 1j * h
            f(zc, p, xc)
            for i in range(D):
                J[i, k] = xc[i].imag / h


@njit(parallel=True, cache=CACHE)
def volumes(Z, p):
    """``D(z)`` for each row of ``Z``."""
    n = Z.shape[0]
    out = np.empty(n)
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        zc = np.empty(d, np.complex128)
        xc = np.empty(D, np.complex128)
        J = np.empty((D, d))
        work = np.empty((D, d))
        v = np.empty(D)
        for s in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            fill_jacobian(Z[s], p, zc, xc, J)
            out[s] = volume_from_jacobian(J, work, v)
    return out


@njit(parallel=True, cache=CACHE)
def jacobians(Z, p):
    """``J(z)`` for each row of ``Z``, ``(n, D, d)``."""
    n = Z.shape[0]
    out = np.empty((n, D, d))
    n_chunks = (n + CHUNK - 1) // CHUNK
    for c in prange(n_chunks):
        zc = np.empty(d, np.complex128)
        xc = np.empty(D, np.complex128)
        for s in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            fill_jacobian(Z[s], p, zc, xc, out[s])
    return out


@njit(parallel=True, cache=CACHE)
def moments(states, n, p, X, F):
    """Monte Carlo without the sample in memory. Chunk ``c`` (``SAMPLE_CHUNK`` samples) draws its
    points from its own xoshiro256** stream ``states[c]``, the rows ``standard_normal`` would
    give, and keeps, in sample order: the count, a shift (its first value), the compensated sum
    of ``D - shift`` and the sum of ``(D - shift)^2``. Non-finite values are counted, and the
    first one kept with its point (``bad_point``: ``z`` then ``D``)."""
    n_chunks = states.shape[0]
    sums = np.zeros((n_chunks, 4))
    bad = np.zeros((n_chunks, 2), np.int64)  # count, first sample index
    bad_point = np.zeros((n_chunks, d + 1))
    for c in prange(n_chunks):
        state = states[c].copy()
        z = np.empty(d)
        zc = np.empty(d, np.complex128)
        xc = np.empty(D, np.complex128)
        J = np.empty((D, d))
        work = np.empty((D, d))
        v = np.empty(D)
        lo = c * SAMPLE_CHUNK
        hi = min(n, lo + SAMPLE_CHUNK)
        shift = 0.0
        s1 = 0.0
        carry = 0.0
        s2 = 0.0
        for s in range(lo, hi):
            for k in range(d):
                z[k] = _normal(state, X, F)
            fill_jacobian(z, p, zc, xc, J)
            value = volume_from_jacobian(J, work, v)
            if not np.isfinite(value):
                if bad[c, 0] == 0:
                    bad[c, 1] = s
                    bad_point[c, :d] = z
                    bad_point[c, d] = value
                bad[c, 0] += 1
                continue
            if s == lo:
                shift = value
            delta = value - shift
            t = s1 + delta  # Neumaier's compensated sum: the mean to the last bits
            if abs(s1) >= abs(delta):
                carry += (s1 - t) + delta
            else:
                carry += (delta - t) + s1
            s1 = t
            s2 += delta * delta
        sums[c, 0] = hi - lo
        sums[c, 1] = shift
        sums[c, 2] = s1 + carry
        sums[c, 3] = s2
    return sums, bad, bad_point
