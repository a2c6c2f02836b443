"""Normal variates in numba: the quantile function, and a fast seeded sampler.

``ndtri`` is Wichura's algorithm AS 241 (PPND16, Applied Statistics 37, 1988): rational
approximations of the normal quantile accurate to about 1e-16 relative, with no transcendental
call in the central region ``|p - 0.5| <= 0.425``. Randomized quasi-Monte Carlo maps its
scrambled Sobol points through it, in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from figureflow.threads import numba_threads

__all__ = ["ndtri", "ndtri_array", "standard_normal", "chunk_states", "SAMPLE_CHUNK"]


@njit(inline="always")
def ndtri(p):
    """The standard normal quantile ``Phi^{-1}(p)`` for ``0 < p < 1`` (AS 241, PPND16)."""
    q = p - 0.5
    if abs(q) <= 0.425:
        r = 0.180625 - q * q
        num = (((((((2.5090809287301226727e3 * r + 3.3430575583588128105e4) * r + 6.7265770927008700853e4) * r
                    + 4.5921953931549871457e4) * r + 1.3731693765509461125e4) * r + 1.9715909503065514427e3) * r
                 + 1.3314166789178437745e2) * r + 3.3871328727963666080e0)
        den = (((((((5.2264952788528545610e3 * r + 2.8729085735721942674e4) * r + 3.9307895800092710610e4) * r
                    + 2.1213794301586595867e4) * r + 5.3941960214247511077e3) * r + 6.8718700749205790830e2) * r
                 + 4.2313330701600911252e1) * r + 1.0)
        return q * num / den
    r = p if q < 0.0 else 1.0 - p
    r = np.sqrt(-np.log(r))
    if r <= 5.0:
        r -= 1.6
        num = (((((((7.74545014278341407640e-4 * r + 2.27238449892691845833e-2) * r + 2.41780725177450611770e-1) * r
                    + 1.27045825245236838258e0) * r + 3.64784832476320460504e0) * r + 5.76949722146069140550e0) * r
                 + 4.63033784615654529590e0) * r + 1.42343711074968357734e0)
        den = (((((((1.05075007164441684324e-9 * r + 5.47593808499534494600e-4) * r + 1.51986665636164571966e-2) * r
                    + 1.48103976427480074590e-1) * r + 6.89767334985100004550e-1) * r + 1.67638483018380384940e0) * r
                 + 2.05319162663775882187e0) * r + 1.0)
    else:
        r -= 5.0
        num = (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r + 1.24266094738807843860e-3) * r
                    + 2.65321895265761230930e-2) * r + 2.96560571828504891230e-1) * r + 1.78482653991729133580e0) * r
                 + 5.46378491116411436990e0) * r + 6.65790464350110377720e0)
        den = (((((((2.04426310338993978564e-15 * r + 1.42151175831644588870e-7) * r + 1.84631831751005468180e-5) * r
                    + 7.86869131145613259100e-4) * r + 1.48753612908506148525e-2) * r + 1.36929880922735805310e-1) * r
                 + 5.99832206555887937690e-1) * r + 1.0)
    value = num / den
    return -value if q < 0.0 else value


@njit(parallel=True, cache=True)
def _ndtri_inplace(U):
    flat = U.reshape(-1)
    for i in prange(flat.size):
        flat[i] = ndtri(flat[i])


def ndtri_array(U: np.ndarray) -> np.ndarray:
    """``Phi^{-1}`` of every entry of ``U`` (values in ``(0, 1)``), as a new float64 array."""
    out = np.array(U, dtype=np.float64, order="C", copy=True)
    _ndtri_inplace(out)
    return out


# ---------------------------------------------------------------- fast normal sampler
#
# One xoshiro256** stream per fixed chunk of rows, its state drawn from the caller's
# SeedSequence, feeds a 256-layer ziggurat (Marsaglia & Tsang 2000, with the constants numpy
# uses): the draws depend on the chunk, never on which thread runs it.

SAMPLE_CHUNK = 65_536  # rows per stream
_ZIG_R = 3.6541528853610088  # start of the tail
_ZIG_V = 0.00492867323399  # area of every layer


def _ziggurat_tables():
    """Layer edges ``X[0..256]`` (``X[0] = v / f(r)``, ``X[1] = r``, ``X[256] = 0``) and ``f(X)``."""
    f = lambda x: np.exp(-0.5 * x * x)  # noqa: E731
    X = np.empty(257)
    X[0] = _ZIG_V / f(_ZIG_R)
    X[1] = _ZIG_R
    for i in range(1, 255):
        X[i + 1] = np.sqrt(-2.0 * np.log(f(X[i]) + _ZIG_V / X[i]))
    X[256] = 0.0
    return X, f(X)


ZIG_X, ZIG_F = _ziggurat_tables()


@njit(inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(inline="always")
def _next(state):
    """xoshiro256**: the next 64-bit word of ``state`` (4 uint64, updated in place)."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(inline="always")
def _uniform_open(state):
    """A uniform in (0, 1): 53 random bits, shifted half a step off 0."""
    return ((_next(state) >> np.uint64(11)) + 0.5) * 1.1102230246251565e-16


@njit(inline="always")
def _normal(state, X, F):
    """One standard normal variate from the ziggurat."""
    while True:
        w = _next(state)
        i = np.int64(w & np.uint64(255))
        negative = (w >> np.uint64(8)) & np.uint64(1)
        u = (w >> np.uint64(11)) * 1.1102230246251565e-16  # [0, 1)
        x = u * X[i]
        if x < X[i + 1]:
            return -x if negative else x
        if i == 0:  # the tail beyond r (Marsaglia's method)
            while True:
                xt = -np.log(_uniform_open(state)) / X[1]
                yt = -np.log(_uniform_open(state))
                if 2.0 * yt > xt * xt:
                    x = X[1] + xt
                    return -x if negative else x
        # the wedge of layer i: heights from F[i] to F[i + 1]
        y = F[i] + _uniform_open(state) * (F[i + 1] - F[i])
        if y < np.exp(-0.5 * x * x):
            return -x if negative else x


@njit(parallel=True, cache=True)
def _fill_normals(states, out, chunk, X, F):
    n, d = out.shape
    for c in prange(states.shape[0]):
        state = states[c].copy()
        for s in range(c * chunk, min(n, (c + 1) * chunk)):
            for k in range(d):
                out[s, k] = _normal(state, X, F)


def chunk_states(seed_seq: np.random.SeedSequence, n_chunks: int) -> np.ndarray:
    """xoshiro256** states (``n_chunks x 4`` uint64) for consecutive chunks, drawn from ``seed_seq``.

    Row ``c`` does not depend on ``n_chunks``, so a longer run extends a shorter one.
    """
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed_seq.entropy, spawn_key=seed_seq.spawn_key)))
    states = rng.integers(0, np.iinfo(np.uint64).max, size=(n_chunks, 4), dtype=np.uint64, endpoint=True)
    states[:, 0] |= np.uint64(1)  # never the all-zero state
    return states


def standard_normal(seed_seq: np.random.SeedSequence, n: int, d: int, n_threads: int | None = None) -> np.ndarray:
    """``n`` standard normal points in ``R^d`` (``(n, d)`` float64), the same for any ``n_threads``.

    Rows come in chunks of :data:`SAMPLE_CHUNK`, each from its own xoshiro256** stream seeded
    by :func:`chunk_states`, through the ziggurat; ``n_threads`` numba threads share the chunks.
    """
    n_chunks = max(1, -(-n // SAMPLE_CHUNK))
    out = np.empty((n, d))
    with numba_threads(n_threads):
        _fill_normals(chunk_states(seed_seq, n_chunks), out, SAMPLE_CHUNK, ZIG_X, ZIG_F)
    return out
