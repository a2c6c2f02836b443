import numba
import pytest

from figureflow.threads import numba_threads


def test_numba_threads_sets_the_count_inside_and_restores_it_after():
    before = numba.get_num_threads()
    with numba_threads(1) as n:
        assert n == 1 == numba.get_num_threads()
    assert numba.get_num_threads() == before


def test_numba_threads_clips_to_the_pool_and_none_leaves_it():
    pool = numba.config.NUMBA_NUM_THREADS
    with numba_threads(pool + 5) as n:
        assert n == pool
    with numba_threads(0) as n:
        assert n == 1
    before = numba.get_num_threads()
    with numba_threads(None) as n:
        assert n == before


def test_numba_threads_restores_the_count_when_the_kernel_fails():
    before = numba.get_num_threads()
    with pytest.raises(RuntimeError):
        with numba_threads(1):
            raise RuntimeError("kernel failed")
    assert numba.get_num_threads() == before
