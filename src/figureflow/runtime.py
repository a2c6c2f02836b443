"""What every workflow script needs around its work: a log, bounded threads, a clear failure.

A script reads::

    from figureflow.runtime import job

    with job(snakemake) as log:
        ...

Inside the block, Python logging and everything written to standard error (also by C code)
go to the rule's log file; BLAS/OpenMP pools are limited to the rule's ``threads`` so that
parallel jobs do not oversubscribe the cores; start, end and duration are logged. An
:class:`~figureflow.io.InputError` is also printed as one line on the console, so the user sees
what to fix without opening the log.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

from figureflow.io import InputError

__all__ = ["job", "wildcards_dict"]


def wildcards_dict(smk) -> dict:
    """The job's wildcards as a plain ``{name: value}`` dict."""
    return {name: str(value) for name, value in smk.wildcards.items()}


@contextmanager
def job(smk):
    """Run a script's body with logging to ``smk.log[0]`` and threads bounded by ``smk.threads``.

    Yields
    ------
    logging.Logger
        The logger named after the rule.
    """
    log_path = smk.log[0] if len(smk.log) else None
    console = os.dup(2)
    log_file = None
    if log_path:
        os.makedirs(os.path.dirname(log_path) or ".", exist_ok=True)
        log_file = open(log_path, "w", buffering=1)
        sys.stderr.flush()
        os.dup2(log_file.fileno(), 2)
        sys.stderr = log_file
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    for noisy in ("matplotlib", "numba", "h5py", "fontTools", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    log = logging.getLogger(f"figureflow.{smk.rule}")
    threads = max(1, int(smk.threads))
    log.info("rule %s, wildcards %s, threads %d", smk.rule, wildcards_dict(smk), threads)
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=threads):
            yield log
    except InputError as exc:
        log.error("%s", exc)
        os.write(console, f"figureflow: error in rule {smk.rule}: {exc}\n".encode())
        raise
    except Exception:
        log.exception("rule %s failed", smk.rule)
        raise
    else:
        log.info("done in %.2f s", time.perf_counter() - start)
    finally:
        logging.shutdown()
        os.close(console)
        if log_file is not None:
            log_file.flush()
