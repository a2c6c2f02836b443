"""Maps from latent space to data space, with what is known about them.

A map is a numba-compiled function ``f(z, p, out)`` that writes ``x(z)`` (length ``D``) into
``out`` for a latent point ``z`` (length ``d``) and a parameter vector ``p`` (float64). ``z``
and ``out`` may be real or complex: the complex-step Jacobian evaluates ``f`` at complex points,
so a map must be written with operations that are analytic (``+ - * /``, powers, ``exp``,
``sin``, ``cos``, ... but not ``abs``, ``min``/``max`` or comparisons on ``z``).

A map may also provide its Jacobian ``jac(z, p, J)`` writing the ``D x d`` matrix ``dx/dz`` into
``J``; the built-in ones do, and those are the exact references of the tests.

Built-in maps, with their volume element ``D(z) = sqrt(det(J^T J))`` and ``E[D]`` under the
standard normal latent density:

* ``toy``: ``x = 2^(-1/4) (z1^2/sqrt2, z2^2/sqrt2, z1 z2)``; ``D = z1^2 + z2^2``; ``E[D] = 2``.
* ``linear``: ``x = A z`` (``params: {matrix: D x d}``); ``D = sqrt(det(A^T A))``, constant.
* ``helix``: ``t -> (cos t, sin t, c t)`` (``params: {c}``); ``D = sqrt(1 + c^2)``, constant.
* ``stereographic``: inverse stereographic projection ``R^2 -> S^2``,
  ``x = (2 z1, 2 z2, |z|^2 - 1) / (1 + |z|^2)``; ``D = 4 / (1 + |z|^2)^2``; ``E[D]`` from a 1-D
  integral over ``t = |z|^2 ~ Exponential(mean 2)``.

This module makes the numba maps (built-in, or a user's function by dotted path) and checks
them; :mod:`figureflow.jacobian.torch_maps` makes the torch ones. Which maker a config spec goes
to is decided in one place above both, :mod:`figureflow.maps`.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from numba import njit
from numba.core.registry import CPUDispatcher

from figureflow.io import InputError

__all__ = [
    "LatentMap",
    "BUILTIN_MAPS",
    "TORCH_BUILTIN_MAPS",
    "builtin_map",
    "load_user_map",
    "check_points",
    "check_map",
]


@dataclass
class LatentMap:
    """A map ``x(z)`` from ``R^d`` to ``R^D`` with optional analytic Jacobian and known answers.

    Attributes
    ----------
    name : what the map is called in tables and figures
    d, D : latent and data dimensions (``d <= D``)
    f : numba function ``f(z, p, out)``
    params : parameter vector ``p`` passed to ``f`` and ``jac``
    jac : numba function ``jac(z, p, J)`` or None
    exact_mean : ``E[D]`` under the standard normal latent density, or None if unknown
    volume : ``D(z)`` in closed form as a vectorized Python function of ``Z (n, d)``, or None
    torch_fn : for torch maps, the torch function ``(d,) -> (D,)`` (then ``f`` is None)
    source_files : files of the user's code behind the map (a rule that uses the map reads them)
    exact_log_mean : ``E[log D]`` under the standard normal latent density, or None if unknown
    """

    name: str
    d: int
    D: int
    f: Callable
    params: np.ndarray = field(default_factory=lambda: np.zeros(0))
    jac: Callable | None = None
    exact_mean: float | None = None
    volume: Callable | None = None
    torch_fn: Callable | None = None
    source_files: tuple = ()
    exact_log_mean: float | None = None


# ---------------------------------------------------------------- toy


@njit(cache=True)
def _toy(z, p, out):
    c = 2.0**-0.25
    r = 1.0 / np.sqrt(2.0)
    out[0] = c * r * z[0] * z[0]
    out[1] = c * r * z[1] * z[1]
    out[2] = c * z[0] * z[1]


@njit(cache=True)
def _toy_jac(z, p, J):
    c = 2.0**-0.25
    s = np.sqrt(2.0)
    J[0, 0] = c * s * z[0]
    J[0, 1] = 0.0
    J[1, 0] = 0.0
    J[1, 1] = c * s * z[1]
    J[2, 0] = c * z[1]
    J[2, 1] = c * z[0]


# ---------------------------------------------------------------- linear


@njit(cache=True)
def _linear(z, p, out):
    D = out.shape[0]
    d = z.shape[0]
    for i in range(D):
        s = 0.0 * z[0]
        for k in range(d):
            s += p[i * d + k] * z[k]
        out[i] = s


@njit(cache=True)
def _linear_jac(z, p, J):
    D, d = J.shape
    for i in range(D):
        for k in range(d):
            J[i, k] = p[i * d + k]


# ---------------------------------------------------------------- helix


@njit(cache=True)
def _helix(z, p, out):
    out[0] = np.cos(z[0])
    out[1] = np.sin(z[0])
    out[2] = p[0] * z[0]


@njit(cache=True)
def _helix_jac(z, p, J):
    J[0, 0] = -np.sin(z[0])
    J[1, 0] = np.cos(z[0])
    J[2, 0] = p[0]


# ---------------------------------------------------------------- stereographic


@njit(cache=True)
def _stereographic(z, p, out):
    r2 = z[0] * z[0] + z[1] * z[1]
    q = 1.0 / (1.0 + r2)
    out[0] = 2.0 * z[0] * q
    out[1] = 2.0 * z[1] * q
    out[2] = (r2 - 1.0) * q


@njit(cache=True)
def _stereographic_jac(z, p, J):
    u, v = z[0], z[1]
    r2 = u * u + v * v
    q = 1.0 / (1.0 + r2)
    q2 = q * q
    J[0, 0] = 2.0 * (1.0 + v * v - u * u) * q2
    J[0, 1] = -4.0 * u * v * q2
    J[1, 0] = -4.0 * u * v * q2
    J[1, 1] = 2.0 * (1.0 + u * u - v * v) * q2
    J[2, 0] = 4.0 * u * q2
    J[2, 1] = 4.0 * v * q2


#: Euler's constant gamma
EULER_GAMMA = 0.57721566490153286061


def _exponential_integral_half() -> float:
    """``E_1(1/2) = -gamma - ln(1/2) - sum_k (-1/2)^k / (k k!)``, to the last bit in 25 terms."""
    x = 0.5
    return -EULER_GAMMA - math.log(x) - sum((-x) ** k / (k * math.factorial(k)) for k in range(1, 26))


def stereographic_exact_log_mean() -> float:
    """``E[log D] = log 4 - 2 E[log(1 + t)]`` with ``t = |z|^2`` Exponential of mean 2, and
    ``E[log(1 + t)] = int_0^inf e^(-t/2) / (1 + t) dt = e^(1/2) E_1(1/2)`` (by parts)."""
    return math.log(4.0) - 2.0 * math.sqrt(math.e) * _exponential_integral_half()


def stereographic_exact_mean() -> float:
    """``E[4 / (1 + |z|^2)^2]`` for ``z ~ N(0, I_2)`` in closed form, ``2 - sqrt(e) E_1(1/2)``.

    ``|z|^2 = t`` is Exponential with mean 2, so the mean is ``int_0^inf 2 e^(-t/2) / (1 + t)^2 dt``
    ``= 2 e^(1/2) E_2(1/2)`` with ``E_2(x) = e^(-x) - x E_1(x)``; the exponential integral
    ``E_1(x) = -gamma - ln x - sum_k (-x)^k / (k k!)`` converges to the last bit in 25 terms at
    ``x = 1/2``. (No scipy: the config check builds this map, and ``scipy.integrate`` costs a second
    to import.)
    """
    return 2.0 - math.sqrt(math.e) * _exponential_integral_half()


BUILTIN_PARAMETERS = {"toy": (), "linear": ("matrix",), "helix": ("c",), "stereographic": (), "mlp": ("latent_dim", "data_dim", "hidden")}


def _check_parameters(name: str, params, key: str) -> dict:
    """``params`` as a dict of known parameter names, or an InputError naming the key."""
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InputError(f"config key {key}: the built-in map '{name}' takes named parameters (a mapping), found {params!r}")
    unknown = sorted(set(params) - set(BUILTIN_PARAMETERS.get(name, ())))
    if unknown:
        allowed = ", ".join(BUILTIN_PARAMETERS.get(name, ())) or "none"
        raise InputError(f"config key {key}: unknown parameter(s) {unknown} for map '{name}'; its parameters: {allowed}")
    return dict(params)


def _number(value, key: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"config key {key}: expected a number, found {value!r}") from None
    if not np.isfinite(number):
        raise InputError(f"config key {key}: expected a finite number, found {value!r}")
    return number


def builtin_map(name: str, params: dict | None = None, key: str = "params") -> LatentMap:
    """A built-in map by name, with its parameters (see the module docstring).

    Raises
    ------
    InputError
        For an unknown name, an unknown, missing or malformed parameter (named by ``key``), or a
        linear map with ``d > D``.
    """
    params = _check_parameters(name, params, key)
    if name == "toy":
        # D = |z|^2 is chi-squared with 2 degrees of freedom: E[log D] = log 2 + digamma(1) = log 2 - gamma
        return LatentMap("toy", 2, 3, _toy, np.zeros(0), _toy_jac, 2.0, lambda Z: (Z**2).sum(axis=1), exact_log_mean=math.log(2.0) - EULER_GAMMA)
    if name == "linear":
        if "matrix" not in params:
            raise InputError(f"config key {key}: map 'linear' needs matrix, a D x d list of rows")
        try:
            A = np.asarray(params["matrix"], dtype=float)
        except (TypeError, ValueError):
            raise InputError(
                f"config key {key}.matrix: expected a D x d matrix of numbers (rows of equal length), found {params['matrix']!r}"
            ) from None
        if A.ndim != 2 or A.shape[0] < A.shape[1] or not np.all(np.isfinite(A)):
            raise InputError(f"config key {key}.matrix: must be a finite D x d matrix with D >= d, found shape {A.shape}")
        value = float(np.sqrt(max(np.linalg.det(A.T @ A), 0.0)))
        return LatentMap("linear", A.shape[1], A.shape[0], _linear, A.ravel().copy(), _linear_jac, value, lambda Z: np.full(len(Z), value),
                         exact_log_mean=math.log(value) if value > 0 else None)
    if name == "helix":
        c = _number(params.get("c", 1.0), f"{key}.c")
        value = float(np.sqrt(1.0 + c * c))
        return LatentMap("helix", 1, 3, _helix, np.array([c]), _helix_jac, value, lambda Z: np.full(len(Z), value), exact_log_mean=math.log(value))
    if name == "stereographic":
        return LatentMap(
            "stereographic", 2, 3, _stereographic, np.zeros(0), _stereographic_jac, stereographic_exact_mean(),
            lambda Z: 4.0 / (1.0 + (Z**2).sum(axis=1)) ** 2, exact_log_mean=stereographic_exact_log_mean(),
        )
    raise InputError(f"unknown built-in map {name!r}; built-in maps are {', '.join(repr(m) for m in BUILTIN_MAPS + TORCH_BUILTIN_MAPS)}")


BUILTIN_MAPS = ("toy", "linear", "helix", "stereographic")
TORCH_BUILTIN_MAPS = ("mlp",)


def load_user_map(path: str, d: int, D: int, params=None, name: str | None = None, key: str = "map") -> LatentMap:
    """A user's map ``package.module:function`` with signature ``f(z, p, out)``; checked on a test point.

    The function is compiled with numba if it is not already; it is then evaluated at a fixed
    latent point, real and complex.

    Raises
    ------
    InputError
        If the path is not ``module:function``, the module does not import, the attribute is
        missing, numba cannot compile it, or the output has NaN/infinite values or the wrong
        length (a wrong length shows as an index error or as untouched entries).
    """
    if not isinstance(path, str) or path.count(":") != 1:
        raise InputError(
            f"config key {key}: expected a built-in map ({', '.join(BUILTIN_MAPS + TORCH_BUILTIN_MAPS)}) "
            f"or 'package.module:function', found {path!r}"
        )
    module_name, attr = path.split(":")
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, SyntaxError, errors at import time
        raise InputError(f"config key {key}: module '{module_name}' does not import ({type(exc).__name__}: {exc})") from None
    if not hasattr(module, attr):
        raise InputError(f"config key {key}: module '{module_name}' has no function '{attr}'")
    from figureflow.jacobian.map_code import compile_fresh_where_numba_cache_is_blind

    compile_fresh_where_numba_cache_is_blind(module_name)
    f = getattr(module, attr)
    if not isinstance(f, CPUDispatcher):
        f = njit(f)
    values = params if params is not None else []
    if isinstance(values, dict) or isinstance(values, str):
        raise InputError(f"config key {key.rsplit('.', 1)[0]}.params: a user map takes a list of numbers, found {values!r}")
    values = list(values) if isinstance(values, (list, tuple, np.ndarray)) else [values]
    p = np.array([_number(v, f"{key.rsplit('.', 1)[0]}.params[{i}]") for i, v in enumerate(values)], dtype=float)
    latent = LatentMap(name or attr, int(d), int(D), f, p)
    check_map(latent, key)
    return latent


CHECK_POINTS = 64
#: the imaginary step of the complex-step Jacobian ``J[:, k] = Im f(z + i h e_k) / h``
COMPLEX_STEP = 1e-200


def check_points(latent: LatentMap, seed: int = 0) -> np.ndarray:
    """The latent points a map is checked at before any job: ``(CHECK_POINTS, d)``.

    Standard normal draws from the map's own stream (``seed``, rule ``check_map``, the map's
    name), the second half doubled in length, so that both signs of every coordinate and the
    tails the estimators reach are tried.
    """
    from figureflow.seeding import generator

    Z = generator(seed, "check_map", {"map": latent.name}).standard_normal((CHECK_POINTS, latent.d))
    Z[CHECK_POINTS // 2 :] *= 2.0
    return Z


def _point(z) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in np.ravel(z)) + "]"


def check_map(latent: LatentMap, key: str = "map", seed: int | None = None) -> None:
    """Check a map before any job: output length and finiteness, and exact derivatives.

    At a fixed test point, ``latent.f`` is evaluated on real and complex input; numba does not
    check bounds, so the output array carries one guard entry past ``D``: a map that writes more
    than ``D`` values changes it. With ``seed``, every point of :func:`check_points` is then
    tried: ``x(z)`` must be finite, the complex-step Jacobian must agree with a central
    difference (a map with a non-analytic operation, such as ``abs``, ``.real`` or a
    comparison, gives a wrong complex-step derivative and so a plausible wrong estimate), and
    ``D = sqrt(det(J^T J))`` must be finite.

    Raises
    ------
    InputError
        On a compilation error, an out-of-range write, output entries left unwritten, NaN or
        infinite output, a derivative that disagrees with the central difference, or a
        non-finite ``D``; naming the map and the latent point.
    """
    if latent.d < 1 or latent.D < latent.d:
        raise InputError(f"config key {key}: need 1 <= latent_dim <= data_dim, found latent_dim {latent.d}, data_dim {latent.D}")
    z = np.linspace(0.3, 0.7, latent.d)
    for dtype in (np.float64, np.complex128):
        out = np.full(latent.D + 1, np.nan, dtype=dtype)  # one guard entry past the end
        view = out[: latent.D]
        try:
            latent.f(z.astype(dtype), latent.params, view)
        except IndexError:
            raise InputError(
                f"config key {key}: map '{latent.name}' indexes past its arrays: expected a latent point of length "
                f"{latent.d}, output of length {latent.D} (data_dim) and {latent.params.size} parameter(s)"
            ) from None
        except Exception as exc:
            raise InputError(
                f"config key {key}: map '{latent.name}' failed on a test point with {np.dtype(dtype).name} input "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); maps must be numba-compatible "
                "functions f(z, p, out) written with analytic operations"
            ) from None
        if not np.isnan(out[latent.D]):
            raise InputError(
                f"config key {key}: map '{latent.name}' writes more than {latent.D} output values (data_dim); "
                "check data_dim or the map"
            )
        values = view.real if dtype is np.complex128 else view
        if np.isnan(values).any():
            missing = np.flatnonzero(np.isnan(values))
            raise InputError(
                f"config key {key}: map '{latent.name}' left output entries {missing.tolist()} unset or NaN at z = {z.tolist()}; "
                f"expected {latent.D} finite values (data_dim)"
            )
        if not np.all(np.isfinite(values)):
            raise InputError(f"config key {key}: map '{latent.name}' returned infinite values at z = {z.tolist()}")
    if seed is not None:
        for point in check_points(latent, seed):
            _check_point(latent, point, key)


def _check_point(latent: LatentMap, z: np.ndarray, key: str) -> None:
    """One latent point: finite output, complex step equal to a central difference, finite D."""
    d, D = latent.d, latent.D
    x = np.empty(D)
    latent.f(z, latent.params, x)
    if not np.all(np.isfinite(x)):
        raise InputError(
            f"config key {key}: map '{latent.name}' returned {_point(x)} at the latent point z = {_point(z)}; "
            f"the map must be finite wherever the latent density reaches (all of R^{d})"
        )
    J_cs = np.empty((D, d))
    J_cd = np.empty((D, d))
    xc = np.empty(D, dtype=np.complex128)
    plus, minus = np.empty(D), np.empty(D)
    for k in range(d):
        zc = z.astype(np.complex128)
        zc[k] += 1j * COMPLEX_STEP
        latent.f(zc, latent.params, xc)
        J_cs[:, k] = xc.imag / COMPLEX_STEP
        h = 1e-5 * max(1.0, abs(z[k]))
        zp, zm = z.copy(), z.copy()
        zp[k] += h
        zm[k] -= h
        latent.f(zp, latent.params, plus)
        latent.f(zm, latent.params, minus)
        J_cd[:, k] = (plus - minus) / (zp[k] - zm[k])
    # a central difference is off by about h^2 |f'''| + eps |f| / h: far below this bound
    tolerance = 1e-6 * (1.0 + np.abs(J_cd).max()) + 1e-9 * np.abs(x).max()
    error = np.where(np.isfinite(J_cs), np.abs(J_cs - J_cd), np.inf)
    if error.max() > tolerance:
        i, k = np.unravel_index(int(np.argmax(error)), error.shape)
        raise InputError(
            f"config key {key}: map '{latent.name}' has a wrong complex-step derivative at z = {_point(z)}: "
            f"dx{i}/dz{k} is {J_cs[i, k]:.6g} by the complex step but {J_cd[i, k]:.6g} by a central difference. "
            "The likely cause is a non-analytic operation on z (abs, .real or .imag, conjugate, a comparison, "
            "min or max); write the map with analytic operations only (e.g. sqrt(z * z + c) in place of abs(z))"
        )
    gram = J_cs.T @ J_cs
    if not np.isfinite(np.sqrt(max(np.linalg.det(gram), 0.0))):
        raise InputError(f"config key {key}: map '{latent.name}' has a non-finite volume element D at z = {_point(z)}")
