"""Independent tasks over ``n_jobs`` processes: this one and ``n_jobs - 1`` loky workers.

A job that runs many small seeded tasks (a sweep's replicates) on ``threads`` cores spends, with
a plain worker pool, a second per worker starting a fresh interpreter and importing scikit-learn
before the first task, while the job's own process, which has imported everything already, sits
idle. Here the job's process is one of the ``n_jobs``:

* :func:`start_workers` launches the ``n_jobs - 1`` workers (loky's reusable executor: spawned,
  never forked, so no thread or OpenMP state of this process is copied) and has them import what
  the tasks need, without waiting. Called first thing in a job, their start overlaps this
  process's own imports.
* :func:`run_tasks` queues every task for the workers, which take them from the front, while this
  process takes them from the back (cancelling each one's queued future before running it
  itself), until the two meet. Results come back in task order, so they do not depend on
  ``n_jobs`` or on which process ran what, as long as each task seeds itself.

A worker that dies makes :func:`run_tasks` raise (loky's ``TerminatedWorkerError``); nothing waits forever.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence

__all__ = ["start_workers", "run_tasks"]


def _import(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)


def _executor(n_workers: int):
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=n_workers, reuse=True)


def start_workers(n_jobs: int, preload: Sequence[str] = ()) -> None:
    """Start the ``n_jobs - 1`` worker processes of :func:`run_tasks` now, each importing the
    modules ``preload``; returns at once. Nothing happens for ``n_jobs <= 1``."""
    n_workers = int(n_jobs) - 1
    if n_workers < 1:
        return
    executor = _executor(n_workers)
    for _ in range(n_workers):
        executor.submit(_import, tuple(preload))


def run_tasks(function: Callable, tasks: Sequence[tuple], n_jobs: int = 1) -> list:
    """``[function(*task) for task in tasks]``, computed by this process and ``n_jobs - 1`` workers.

    The workers take tasks from the front, this process from the back; a task is run once, by
    whichever reaches it first. ``function`` must be importable (a module-level function) and its
    arguments picklable. An exception in any task is raised here, and the tasks still queued are
    cancelled.
    """
    tasks = list(tasks)
    n_workers = int(n_jobs) - 1
    if n_workers < 1 or len(tasks) < 2:
        return [function(*task) for task in tasks]
    executor = _executor(n_workers)
    futures = [executor.submit(function, *task) for task in tasks]
    results: list = [None] * len(tasks)
    mine = set()
    try:
        for i in reversed(range(len(tasks))):
            if not futures[i].cancel():  # a worker holds it (or has finished it): the rest are theirs
                break
            mine.add(i)
            results[i] = function(*tasks[i])
        for i, future in enumerate(futures):
            if i not in mine:
                results[i] = future.result()
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return results
