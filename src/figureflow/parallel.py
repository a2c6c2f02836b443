"""Independent tasks over ``n_jobs`` processes: this one and ``n_jobs - 1`` loky workers.

A job that runs many small seeded tasks (a sweep's replicates) on ``threads`` cores spends, with
a plain worker pool, a second per worker starting a fresh interpreter and importing scikit-learn
before the first task, while the job's own process, which has imported everything already, sits
idle. Here the job's process is one of the ``n_jobs``:

* :func:`start_workers` launches the ``n_jobs - 1`` workers (loky's reusable executor: spawned,
  never forked, so no thread or OpenMP state of this process is copied) and has them import what
  the tasks need, without waiting. Called first thing in a job, their start overlaps this
  process's own imports.
* :func:`run_tasks` sends tasks from the front to the workers, a couple at a time, while this
  process runs them from the back, until the two meet. Results come back in task order, so they do not depend on
  ``n_jobs`` or on which process ran what, as long as each task seeds itself.

A worker that dies makes :func:`run_tasks` raise (loky's ``TerminatedWorkerError``); nothing waits forever.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence

__all__ = ["start_workers", "run_tasks"]

#: tasks a worker is kept ahead: one running, one in its pipe (no wait between tasks)
AHEAD = 2


def _import(modules: tuple[str, ...]) -> None:
    """Import each of ``modules``; ``"package.module:function"`` also calls ``function()``."""
    for name in modules:
        module, _, function = name.partition(":")
        loaded = importlib.import_module(module)
        if function:
            getattr(loaded, function)()


def _executor(n_workers: int):
    from joblib.externals.loky import get_reusable_executor

    return get_reusable_executor(max_workers=n_workers, reuse=True)


def start_workers(n_jobs: int, preload: Sequence[str] = ()) -> None:
    """Start the ``n_jobs - 1`` worker processes of :func:`run_tasks` now, each importing the
    modules ``preload`` (``"package.module:function"`` also calls ``function()``, e.g. one that
    imports what the tasks use); returns at once. Nothing happens for ``n_jobs <= 1``."""
    n_workers = int(n_jobs) - 1
    if n_workers < 1:
        return
    executor = _executor(n_workers)
    for _ in range(n_workers):
        executor.submit(_import, tuple(preload))


def run_tasks(function: Callable, tasks: Sequence[tuple], n_jobs: int = 1) -> list:
    """``[function(*task) for task in tasks]``, computed by this process and ``n_jobs - 1`` workers.

    The workers take tasks from the front, this process from the back; a task is run once, by
    whichever claims it first. Each worker is kept two tasks ahead (one running, one in its pipe):
    when one of its tasks ends, the next is claimed and sent from the executor's callback, so at
    the end this process waits for at most about one task per worker. ``function`` must be
    importable (a module-level function) and its arguments picklable. An exception in any task is
    raised here, and no further task is sent.
    """
    tasks = list(tasks)
    n_workers = int(n_jobs) - 1
    if n_workers < 1 or len(tasks) < 2:
        return [function(*task) for task in tasks]
    executor = _executor(n_workers)
    lock = threading.Lock()
    bounds = {"front": 0, "back": len(tasks), "failed": False}  # tasks[front:back] are unclaimed
    futures: dict = {}

    def failed(future) -> bool:
        return not future.cancelled() and future.exception() is not None

    def send(done=None):
        """Claim the front task for a worker (called again when it ends); a loop, not a recursion,
        for tasks that end before their callback is attached."""
        if done is not None and failed(done):
            bounds["failed"] = True
        while True:
            with lock:
                if bounds["failed"] or bounds["front"] >= bounds["back"]:
                    return
                i = bounds["front"]
                bounds["front"] += 1
                future = futures[i] = executor.submit(function, *tasks[i])
            if not future.done():
                future.add_done_callback(send)
                return
            if failed(future):
                bounds["failed"] = True

    results: list = [None] * len(tasks)
    try:
        for _ in range(AHEAD * n_workers):
            send()
        while True:
            with lock:
                if bounds["failed"] or bounds["front"] >= bounds["back"]:
                    break
                bounds["back"] -= 1
                i = bounds["back"]
            results[i] = function(*tasks[i])
        with lock:  # nothing more can be claimed: every worker task is in futures
            bounds["failed"] = True
            sent = dict(futures)
        for i, future in sent.items():
            results[i] = future.result()
    except BaseException:
        bounds["failed"] = True
        for future in list(futures.values()):
            future.cancel()
        raise
    return results
