"""The cluster check before any submission: a SLURM cluster without accounting is found, not waited on."""

import os
import stat

import pytest

from figureflow.cluster import check_slurm_status_command
from figureflow.io import InputError


def _fake_sacct(tmp_path, monkeypatch, stderr: str, stdout: str = "", code: int = 1):
    script = tmp_path / "sacct"
    script.write_text(f"#!/bin/sh\necho '{stdout}'\necho '{stderr}' >&2\nexit {code}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")


@pytest.mark.parametrize("said", ["Slurm accounting storage is disabled", "sacct: error: Slurm accounting storage is disabled"])
def test_sacct_without_accounting_is_refused_naming_the_profile_key(tmp_path, monkeypatch, said):
    _fake_sacct(tmp_path, monkeypatch, said)
    with pytest.raises(InputError, match=r"keeps no accounting database \(sacct says: '.*Slurm accounting storage is disabled'\).*set 'slurm-status-command: squeue' in .*--slurm-status-command squeue"):
        check_slurm_status_command("sacct")


def test_a_cluster_with_accounting_or_squeue_as_status_command_passes(tmp_path, monkeypatch):
    _fake_sacct(tmp_path, monkeypatch, "", "12345", code=0)
    assert check_slurm_status_command("sacct") == "sacct answers"
    _fake_sacct(tmp_path, monkeypatch, "Slurm accounting storage is disabled")
    assert check_slurm_status_command("squeue") == "squeue" and check_slurm_status_command(None) == "squeue"


def test_no_sacct_on_the_path_leaves_the_executors_own_fallback(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert check_slurm_status_command("sacct") == "sacct not found"
