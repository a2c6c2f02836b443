"""What every workflow script needs around its work: a log, bounded threads, a clear failure.

A script reads::

    from figureflow.runtime import job

    with job(snakemake) as log:
        ...

Inside the block, Python logging and everything written to standard error (also by C code)
go to the rule's log file; BLAS/OpenMP pools are limited to the rule's ``threads`` so that
parallel jobs do not oversubscribe the cores; start, end and duration are logged, and so is
which ``figureflow`` the job imported (the workflow's own ``src/``, see
``scripts/_figureflow_src.py``). An :class:`~figureflow.io.InputError` or
:class:`~figureflow.io.RunError` (a diverged training, a solve past its budget) is also printed as
one line on the console, and so is an :class:`~figureflow.io.InputWarning`, so the user sees what
to fix without opening the log. SIGTERM (Ctrl-C in a terminal sends SIGINT; a cluster's time
limit or ``scancel`` sends SIGTERM) is turned into an exception, so that a job stopped mid-write
removes its temporary files.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import warnings
from contextlib import contextmanager

from threadpoolctl import threadpool_limits

import figureflow
from figureflow.io import InputError, InputWarning, RunError

__all__ = ["job", "wildcards_dict", "JobTerminated"]


def wildcards_dict(smk) -> dict:
    """The job's wildcards as a plain ``{name: value}`` dict."""
    return {name: str(value) for name, value in smk.wildcards.items()}


class JobTerminated(SystemExit):
    """The job received SIGTERM; raised so that clean-up code runs before it exits."""


def _terminate(signum, frame):
    raise JobTerminated(128 + signum)


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
    log.info("figureflow %s from %s", figureflow.__version__, os.path.dirname(figureflow.__file__))

    def show_warning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, InputWarning):
            log.warning("%s", message)
            os.write(console, f"figureflow: warning in rule {smk.rule}: {message}\n".encode())
        else:
            log.warning("%s", warnings.formatwarning(message, category, filename, lineno, line).rstrip())

    previous_term = signal.signal(signal.SIGTERM, _terminate)
    start = time.perf_counter()
    try:
        with threadpool_limits(limits=threads), warnings.catch_warnings():
            warnings.simplefilter("always", InputWarning)
            warnings.showwarning = show_warning
            yield log
    except (InputError, RunError) as exc:
        log.error("%s", exc)
        os.write(console, f"figureflow: error in rule {smk.rule}: {exc}\n".encode())
        raise
    except Exception:
        log.exception("rule %s failed", smk.rule)
        raise
    else:
        log.info("done in %.2f s", time.perf_counter() - start)
    finally:
        signal.signal(signal.SIGTERM, previous_term)
        logging.shutdown()
        os.close(console)
        if log_file is not None:
            log_file.flush()
