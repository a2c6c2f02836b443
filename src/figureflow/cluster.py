"""Checks of the cluster a run is submitted to, made once by the main process before any job.

A SLURM cluster without an accounting database answers ``sacct`` with "Slurm accounting storage
is disabled" and lists no job. Snakemake's SLURM executor, asking ``sacct`` for the status of the
jobs it submitted, then never sees one finish and waits for ever (seen here: every job done, and
Snakemake still waiting 20 minutes later). :func:`check_slurm_status_command` finds this before
the first submission and says which profile key to set.
"""

from __future__ import annotations

import subprocess

from figureflow.io import InputError

__all__ = ["NO_ACCOUNTING", "check_slurm_status_command"]

#: what sacct says (on standard error or output) on a cluster without an accounting database
NO_ACCOUNTING = "accounting storage is disabled"


def check_slurm_status_command(status_command: str | None, profile: str = "your SLURM profile's config.yaml (figureflow's: profiles/slurm/config.yaml)", timeout: float = 60.0) -> str:
    """Before any submission: the executor's ``status_command`` can see jobs finish.

    With ``squeue`` (or no setting), nothing is asked. With ``sacct``, ``sacct`` is run once (the
    jobs of the last minute); if it answers that accounting storage is disabled, the run is refused.

    Returns what was found, for the log: ``"squeue"``, ``"sacct answers"`` or ``"sacct not found"``.

    Raises
    ------
    InputError
        When ``sacct`` is the status command and the cluster keeps no accounting: the sentence
        names the profile key (``slurm-status-command: squeue``) and the command-line option.
    """
    if status_command != "sacct":
        return "squeue"
    try:
        answer = subprocess.run(
            ["sacct", "--noheader", "--allocations", "--starttime", "now-1minutes", "--format", "JobID"],
            capture_output=True, text=True, timeout=timeout, check=False,
        )
    except FileNotFoundError:  # the executor falls back to squeue by itself
        return "sacct not found"
    except subprocess.TimeoutExpired:
        raise InputError(
            f"sacct did not answer within {timeout:g} s, so Snakemake could not see its SLURM jobs finish; if this cluster "
            f"keeps no accounting database, set 'slurm-status-command: squeue' in {profile} (or pass --slurm-status-command squeue)"
        ) from None
    said = f"{answer.stderr} {answer.stdout}".strip()
    if NO_ACCOUNTING in said.lower():
        raise InputError(
            f"this SLURM cluster keeps no accounting database (sacct says: '{' '.join(said.split())}'), so with "
            f"slurm-status-command sacct Snakemake would submit the jobs and then wait for ever, never seeing one finish; set "
            f"'slurm-status-command: squeue' in {profile} (or pass --slurm-status-command squeue), and keep MinJobAge >= 300 s "
            "in slurm.conf so that squeue still lists a finished job when Snakemake asks"
        )
    return "sacct answers"
