"""Thread limits for numba's parallel kernels.

``figureflow.runtime.job`` bounds the BLAS and OpenMP pools of a job (threadpoolctl); numba keeps
its own pool, sized at import to the machine's cores. A kernel that runs ``prange`` loops takes
its thread count from :func:`numba_threads`, so that a job uses the threads its rule declared.
Kept apart from :mod:`figureflow.runtime` so that importing the runtime never imports numba.
"""

from __future__ import annotations

from contextlib import contextmanager

import numba

__all__ = ["numba_threads"]


@contextmanager
def numba_threads(n_threads: int | None):
    """Run the enclosed numba kernels on ``n_threads`` threads, then restore the previous count.

    ``None`` leaves numba's current setting. The count is clipped to ``[1, NUMBA_NUM_THREADS]``
    (the pool's size, fixed when numba starts), so asking for more threads than the pool has is
    not an error. Yields the count in use.
    """
    previous = numba.get_num_threads()
    if n_threads is not None:
        numba.set_num_threads(max(1, min(int(n_threads), numba.config.NUMBA_NUM_THREADS)))
    try:
        yield numba.get_num_threads()
    finally:
        numba.set_num_threads(previous)
