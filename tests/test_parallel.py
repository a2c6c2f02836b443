"""figureflow.parallel: tasks shared between the job's process and its workers."""

import os
import time

import pytest
from joblib.externals.loky.process_executor import TerminatedWorkerError

from figureflow.parallel import run_tasks, start_workers


def slow_square(i, seconds):
    time.sleep(seconds)
    return i * i, os.getpid()


def fail_at(i, bad):
    if i == bad:
        raise ValueError(f"task {i} failed")
    return i


def die_at(i, bad):
    if i == bad:
        os._exit(3)
    time.sleep(0.05)
    return i


@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_results_come_back_in_task_order_whoever_ran_them(n_jobs):
    results = run_tasks(slow_square, [(i, 0.02) for i in range(12)], n_jobs)
    assert [r[0] for r in results] == [i * i for i in range(12)]
    pids = {r[1] for r in results}
    if n_jobs == 1:
        assert pids == {os.getpid()}


def test_this_process_takes_tasks_from_the_back_while_a_worker_takes_them_from_the_front():
    start_workers(2, preload=["figureflow.parallel"])
    results = run_tasks(slow_square, [(i, 0.1) for i in range(10)], 2)
    pids = [r[1] for r in results]
    assert pids[-1] == os.getpid()  # the last task never reaches the worker
    assert pids[0] != os.getpid()  # the first is the worker's before this process starts
    # each process ran a contiguous run of tasks: worker ones at the front, this process's at the back
    first_mine = pids.index(os.getpid())
    assert all(p != os.getpid() for p in pids[:first_mine]) and all(p == os.getpid() for p in pids[first_mine:])
    assert 2 <= first_mine <= 8  # both did a share


@pytest.mark.parametrize("bad", [0, 11])  # a worker's task, this process's task
def test_an_exception_in_any_task_is_raised(bad):
    with pytest.raises(ValueError, match=f"task {bad} failed"):
        run_tasks(fail_at, [(i, bad) for i in range(12)], 2)
    assert run_tasks(fail_at, [(i, -1) for i in range(12)], 2) == list(range(12))  # the workers are still usable


def test_a_worker_that_dies_is_reported_not_waited_for():
    with pytest.raises(TerminatedWorkerError):
        run_tasks(die_at, [(i, 0) for i in range(12)], 2)
    assert run_tasks(fail_at, [(i, -1) for i in range(4)], 2) == list(range(4))  # a fresh executor after the crash


def test_thousands_of_tiny_tasks_are_all_run_once():
    """Tasks that end before their callback is attached are fed in a loop (no recursion limit)."""
    assert run_tasks(fail_at, [(i, -1) for i in range(3000)], 3) == list(range(3000))
