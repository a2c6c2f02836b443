"""The sampling kernels of one map, one way of filling its Jacobian: the template.

:func:`figureflow.jacobian.kernel_cache.map_kernels` executes this file's text as a module of its own
for each map and method, with these names set beforehand in the module's namespace:

* ``f``, ``jac``: the map's numba functions ``f(z, p, out)`` and ``jac(z, p, J)`` (or None);
* ``d``, ``D``: latent and data dimensions (numba compiles them in as constants);
* ``METHOD``: ``"analytic"`` (``jac``) or ``"complex_step"`` (``f`` at ``z + i h e_k``);
* ``CACHE``: whether numba may cache the compiled kernels on disk.

When the map's code can be named by files, the module is a file named by a hash of everything
the compiled code depends on (:func:`figureflow.jacobian.kernel_cache.kernel_key`, whose module
docstring lists it), and ``CACHE`` is true: a new process loads the kernels numba compiled before
instead of compiling them again (seconds per map). Otherwise the module lives in memory only and
compiles in each process.

Imported as itself it defines nothing compiled-to-be-used; the defaults below only keep it
importable.
"""

import numpy as np
from numba import njit, prange

from figureflow.jacobian.maps import COMPLEX_STEP
from figureflow.jacobian.volume import CHUNK, volume_from_jacobian

# set by figureflow.jacobian.kernel_cache.map_kernels before this text runs
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
