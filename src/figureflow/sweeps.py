"""Seeded sweeps: an experiment repeated over replicates and a parameter grid, in parallel, with
results that do not depend on the number of workers.

An experiment is a plain function ``f(rng, **params) -> dict of numbers`` registered by name in
:data:`EXPERIMENTS` with its default parameters. A sweep runs it at every point of a grid (the
product of the listed values), ``replicates`` times per point. Replicate ``r`` at grid point ``p``
of sweep ``s`` draws from its own generator, ``figureflow.seeding.generator(seed, "sweep",
{"sweep": s, **p}, replicate=r)``; scikit-learn estimators get ``random_state`` from that
generator. There is no global random state, so a replicate's numbers are the same run alone, in
any chunk, on any number of workers.

Tasks run in this process and ``n_jobs - 1`` loky worker processes
(:func:`figureflow.parallel.run_tasks`: this process takes tasks from the back of the queue while
the workers start and take them from the front); every process runs each replicate with
BLAS/OpenMP pools of one thread (threadpoolctl), so ``n_jobs`` processes use ``n_jobs`` cores and
do not fight. Workers are spawned, not forked: a forked worker can hang for good (GNU OpenMP is not
fork-safe once the parent has used it, and a multiprocessing pool waits forever for a worker that
died); one did, in CI. A job hides the workers' start (a fresh interpreter importing
scikit-learn, about a second) behind its own imports by calling
:func:`figureflow.parallel.start_workers` first, with ``figureflow.sweeps:load_libraries``. This
module imports scikit-learn only there (:func:`load_libraries`), so checking a config is quick.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from figureflow.io import InputError, describe
from figureflow.seeding import seed_sequence

__all__ = [
    "EXPERIMENTS",
    "PARAMETERS",
    "Parameter",
    "register",
    "experiment_documentation",
    "blobs_and_labels",
    "gmm_vs_kmeans",
    "grid_points",
    "replicate_generator",
    "load_libraries",
    "run_replicate",
    "run_sweep",
    "summarize",
    "check_sweep",
    "check_config",
    "example_dataset",
    "gather_chunks",
]

@dataclass(frozen=True)
class Parameter:
    """One parameter of an experiment: its name, type (``int``, ``float`` or ``str``), default,
    allowed range (``low``/``high``, inclusive unless ``low_open``) or ``choices``, and a sentence
    for the schema's documentation. :meth:`check` refuses any other value before a job starts."""

    name: str
    kind: type
    default: object
    description: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    choices: tuple | None = None

    def allowed(self) -> str:
        """The allowed values in words: ``an integer >= 1``, ``a number in (0, 10]``, ``one of 'a', 'b'``."""
        if self.choices is not None:
            return f"one of {describe(self.choices)}"
        what = {int: "an integer", float: "a number", str: "text"}[self.kind]
        if self.low is not None and self.high is not None:
            return f"{what} in {'(' if self.low_open else '['}{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f"{what} {'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{what} <= {self.high:g}"
        return what

    def check(self, value, where: str) -> None:
        """Raise :class:`~figureflow.io.InputError` naming ``where`` (the config key) and the value
        unless ``value`` is of this parameter's type and within its range or choices."""
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if self.kind is int:
            ok = numeric and float(value).is_integer()
        elif self.kind is float:
            ok = numeric and math.isfinite(value)
        else:
            ok = isinstance(value, str)
        if ok and self.choices is not None:
            ok = value in self.choices
        if ok and self.low is not None:
            ok = value > self.low if self.low_open else value >= self.low
        if ok and self.high is not None:
            ok = value <= self.high
        if not ok:
            raise InputError(f"config key {where} is {value!r}; parameter '{self.name}' must be {self.allowed()} ({self.description})")


#: name -> (function, default parameters)
EXPERIMENTS: dict[str, tuple[Callable, dict]] = {}

#: name -> {parameter name: Parameter}, the declaration every grid value and fixed parameter is checked against
PARAMETERS: dict[str, dict[str, Parameter]] = {}


#: name -> ``requires(params) -> None or a sentence``: what must hold between an experiment's parameters
REQUIREMENTS: dict[str, Callable[[Mapping], str | None]] = {}


def register(name: str, *parameters: Parameter, requires: Callable[[Mapping], str | None] | None = None):
    """Decorator: register an experiment under ``name`` with its declared parameters (the defaults
    are theirs) and, optionally, ``requires(params)``, which returns a sentence when a combination
    of values cannot run (checked at every grid point before any job)."""

    def add(function):
        EXPERIMENTS[name] = (function, {p.name: p.default for p in parameters})
        PARAMETERS[name] = {p.name: p for p in parameters}
        if requires is not None:
            REQUIREMENTS[name] = requires
        return function

    return add


def experiment_documentation() -> str:
    """Every registered experiment and its parameters in one paragraph, as the schema's description
    of ``sweeps.<name>.experiment`` shows it (a test keeps the schema equal to this)."""
    parts = []
    for name in sorted(PARAMETERS):
        items = "; ".join(f"{p.name} ({p.allowed()}, default {p.default!r}): {p.description}" for p in PARAMETERS[name].values())
        parts.append(f"{name} - {items}")
    return "a registered experiment: " + " | ".join(parts)


#: the post's shear of the blobs (a point x becomes x @ SHEAR)
SHEAR = np.array([[0.6, -0.6], [-0.4, 0.8]])


def blobs_and_labels(rng: np.random.Generator, n_samples=300, centers=3, cluster_std=2.5, shear=1.0, covariance_type="full", n_init=20) -> dict:
    """Gaussian blobs, sheared, and the labels a Gaussian mixture and K-means give them.

    The blobs (``make_blobs``) are mapped by ``I + shear (SHEAR - I)``: ``shear = 1`` is the post's
    transformation, 0 leaves them round. Returns ``X`` (n, 2) and the labels ``truth``, ``gmm``,
    ``kmeans``; the data and both fits take their random states from ``rng``.
    """
    from sklearn.cluster import KMeans
    from sklearn.datasets import make_blobs
    from sklearn.mixture import GaussianMixture

    data_state, gmm_state, kmeans_state = (int(s) for s in rng.integers(0, 2**31 - 1, size=3))
    X, truth = make_blobs(int(n_samples), centers=int(centers), cluster_std=float(cluster_std), random_state=data_state)
    X = X @ (np.eye(2) + float(shear) * (SHEAR - np.eye(2)))
    gmm = GaussianMixture(int(centers), covariance_type=covariance_type, n_init=int(n_init), random_state=gmm_state).fit(X).predict(X)
    kmeans = KMeans(int(centers), n_init=int(n_init), random_state=kmeans_state).fit(X).labels_
    return {"X": X, "truth": truth, "gmm": gmm, "kmeans": kmeans}


@register(
    "gmm_vs_kmeans",
    Parameter("n_samples", int, 300, "points per dataset", low=10),
    Parameter("centers", int, 3, "blobs, the number of clusters both methods fit", low=2, high=50),
    Parameter("cluster_std", float, 2.5, "standard deviation of each blob before the shear", low=0, low_open=True),
    Parameter("shear", float, 1.0, "0 leaves the blobs round, 1 is the post's shear (the map collapses the plane at 1.25)", low=0, high=1),
    Parameter("covariance_type", str, "full", "the Gaussian mixture's covariance", choices=("full", "tied", "diag", "spherical")),
    Parameter("n_init", int, 20, "initializations of each fit, the best kept", low=1),
    requires=lambda p: None if p["n_samples"] >= 2 * p["centers"] else f"n_samples ({p['n_samples']}) must be at least twice centers ({p['centers']})",
)
def gmm_vs_kmeans(rng: np.random.Generator, **params) -> dict:
    """Adjusted Rand index of a Gaussian mixture and of K-means against the truth on sheared blobs
    (:func:`blobs_and_labels`): ``ari_gmm``, ``ari_kmeans`` and ``ari_diff`` (GMM minus K-means:
    positive where the mixture's covariances help)."""
    from sklearn.metrics import adjusted_rand_score

    d = blobs_and_labels(rng, **params)
    ari_gmm, ari_kmeans = adjusted_rand_score(d["truth"], d["gmm"]), adjusted_rand_score(d["truth"], d["kmeans"])
    return {"ari_gmm": float(ari_gmm), "ari_kmeans": float(ari_kmeans), "ari_diff": float(ari_gmm - ari_kmeans)}


def grid_points(grid: Mapping[str, list]) -> list[dict]:
    """Every combination of the grid's values, the first parameter varying slowest (``[{}]`` for no grid)."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*(list(grid[n]) for n in names))]


def replicate_generator(seed: int, sweep: str, point: Mapping, replicate: int) -> tuple[np.random.Generator, int]:
    """The generator of one replicate and a number that names its stream (the ``seed`` column)."""
    ss = seed_sequence(seed, "sweep", {"sweep": sweep, **{k: point[k] for k in point}}, replicate)
    return np.random.Generator(np.random.PCG64(ss)), int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))


@functools.cache
def load_libraries():
    """Import what the experiments use (scikit-learn) and find this process's BLAS/OpenMP
    libraries, once; returns the ``threadpoolctl.ThreadpoolController`` that limits them.

    scikit-learn is imported here, not at the top of the module: the config check imports this
    module, and a workflow's start should not pay for scikit-learn (about a second). It must be
    imported before a limit is entered: threadpoolctl limits only the libraries already loaded, so
    a replicate run before scikit-learn's OpenMP runtime was loaded would run on unbounded pools
    (3x slower here, 70x in the post). The controller is made once (``threadpool_limits`` searches
    for the libraries on every entry, 3 ms here, a few percent of a replicate).
    """
    import sklearn.cluster  # noqa: F401
    import sklearn.datasets  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.mixture  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def run_replicate(experiment: str, seed: int, sweep: str, point: Mapping, replicate: int, params: Mapping | None = None) -> dict:
    """One row of ``replicates.tsv``: the grid point, ``replicate``, ``seed`` and the experiment's results."""
    function, defaults = EXPERIMENTS[experiment]
    rng, stream = replicate_generator(seed, sweep, point, replicate)
    with load_libraries().limit(limits=1):
        result = function(rng, **{**defaults, **(params or {}), **point})
    return {**point, "replicate": int(replicate), "seed": stream, **result}


def run_sweep(
    experiment: str,
    grid: Mapping[str, list],
    replicates: int,
    seed: int,
    sweep: str,
    params: Mapping | None = None,
    n_jobs: int = 1,
    chunk: int = 0,
    chunks: int = 1,
) -> pd.DataFrame:
    """Every replicate at every grid point (or chunk ``chunk`` of ``chunks`` of them), as a table.

    Tasks are (grid point, replicate) in a fixed order; chunk ``c`` takes tasks ``c, c + chunks,
    ...``, so chunks have equal shares and their rows, sorted back, give the table of one chunk.
    ``n_jobs > 1`` runs them in this process and ``n_jobs - 1`` workers
    (:func:`figureflow.parallel.run_tasks`). The table does not depend on ``n_jobs`` or ``chunks``.
    """
    from figureflow.parallel import run_tasks

    tasks = [(p, r) for p in grid_points(grid) for r in range(int(replicates))]
    share = tasks[chunk::chunks]
    rows = run_tasks(run_replicate, [(experiment, seed, sweep, p, r, params) for p, r in share], n_jobs)
    order = [i for i in range(len(tasks))][chunk::chunks]
    table = pd.DataFrame(rows)
    table.insert(0, "task", order)
    return table


def gather_chunks(tables) -> pd.DataFrame:
    """One ``replicates.tsv`` from chunk tables: rows back in task order, the ``task`` column dropped."""
    table = pd.concat(list(tables), ignore_index=True).sort_values("task", kind="stable")
    return table.drop(columns="task").reset_index(drop=True)


def summarize(table: pd.DataFrame, grid_columns, value: str = "ari_diff", n_boot: int = 2000, seed: int = 0, sweep: str = "") -> pd.DataFrame:
    """Per grid point: replicates, mean ``value``, 95% bootstrap interval of the mean, and the
    fraction of replicates where it is positive (the GMM wins)."""
    rows = []
    groups = table.groupby(list(grid_columns), sort=False) if grid_columns else [((), table)]
    for key, part in groups:
        values = part[value].to_numpy(dtype=float)
        point = dict(zip(grid_columns, key if isinstance(key, tuple) else (key,)))
        rng = np.random.Generator(np.random.PCG64(seed_sequence(seed, "sweep_summary", {"sweep": sweep, **point})))
        means = values[rng.integers(values.size, size=(n_boot, values.size))].mean(axis=1)
        rows.append({
            **point, "replicates": values.size, f"mean_{value}": values.mean(),
            "ci_low": float(np.percentile(means, 2.5)), "ci_high": float(np.percentile(means, 97.5)),
            "fraction_positive": float((values > 0).mean()),
        })
    return pd.DataFrame(rows)


def check_sweep(name: str, spec: Mapping) -> None:
    """A sweep's experiment exists, its grid and parameters name only the experiment's parameters,
    every grid value and fixed parameter is allowed by the experiment's declaration
    (:class:`Parameter`), and ``chunks`` is at most the number of tasks (grid points x replicates).

    Raises
    ------
    InputError
        Naming ``sweeps.<name>``, the parameter and the value (or the unknown experiment or
        parameter, with the known ones).
    """
    experiment = spec.get("experiment")
    if experiment not in EXPERIMENTS:
        raise InputError(f"config key sweeps.{name}.experiment is {experiment!r}; experiments are {describe(sorted(EXPERIMENTS))}")
    declared = PARAMETERS[experiment]
    for part in ("grid", "params"):
        unknown = sorted(set(spec.get(part) or {}) - set(declared))
        if unknown:
            raise InputError(
                f"config key sweeps.{name}.{part} names {describe(unknown)}, which experiment '{experiment}' does not take; "
                f"its parameters are {describe(sorted(declared))}"
            )
    for parameter, values in (spec.get("grid") or {}).items():
        for i, value in enumerate(values):
            declared[parameter].check(value, f"sweeps.{name}.grid.{parameter}[{i}]")
    for parameter, value in (spec.get("params") or {}).items():
        declared[parameter].check(value, f"sweeps.{name}.params.{parameter}")
    if experiment in REQUIREMENTS:
        for point in grid_points(spec.get("grid") or {}):
            problem = REQUIREMENTS[experiment]({**EXPERIMENTS[experiment][1], **(spec.get("params") or {}), **point})
            if problem:
                at = f" at grid point {point}" if point else ""
                raise InputError(f"sweep '{name}' (config key sweeps.{name}){at}: {problem}")
    points = math.prod(len(v) for v in (spec.get("grid") or {}).values())
    tasks = points * int(spec.get("replicates", 40))
    chunks = int(spec.get("chunks", 1))
    if chunks > tasks:
        raise InputError(
            f"config key sweeps.{name}.chunks is {chunks}, but the sweep has only {tasks} replicate(s) in all "
            f"({points} grid point(s) x {int(spec.get('replicates', 40))} replicates), so {chunks - tasks} job(s) would be empty; "
            f"set chunks to at most {tasks}"
        )


def check_config(config: Mapping) -> dict:
    """The ``sweeps`` section: every sweep passes :func:`check_sweep`.

    Returns ``{sweep: {"chunks": k, "grid": [grid parameters]}}``.
    """
    facts = {}
    for name, spec in config.get("sweeps", {}).items():
        check_sweep(name, spec)
        facts[name] = {"chunks": int(spec.get("chunks", 1)), "grid": list(spec.get("grid") or {})}
    return facts


def example_dataset(seed: int, sweep: str, point: Mapping, replicate: int = 0, params: Mapping | None = None) -> dict:
    """For the figure: one ``gmm_vs_kmeans`` replicate's data and labels, exactly as the sweep drew them
    (:func:`blobs_and_labels` on that replicate's generator), with ``ari_gmm`` and ``ari_kmeans``."""
    from sklearn.metrics import adjusted_rand_score

    rng, _ = replicate_generator(seed, sweep, point, replicate)
    with load_libraries().limit(limits=1):
        d = blobs_and_labels(rng, **{**EXPERIMENTS["gmm_vs_kmeans"][1], **(params or {}), **point})
    return {**d, "ari_gmm": adjusted_rand_score(d["truth"], d["gmm"]), "ari_kmeans": adjusted_rand_score(d["truth"], d["kmeans"])}
