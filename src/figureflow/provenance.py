"""What made a result: figureflow's version and commit, a digest of the effective config, the
seed and the versions of the main packages.

The paper figures carry this record in their PDF metadata and beside them in
``results/paper/provenance.json``, so that a reader holding only a PDF can tell exactly what
made it. Package versions are read from the installed distributions' metadata: nothing here
imports torch, numba or POT.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

import figureflow

__all__ = ["PACKAGES", "config_digest", "git_commit", "package_versions", "provenance", "provenance_keywords"]

#: distributions whose versions a result depends on (their PyPI names)
PACKAGES = ("numpy", "scipy", "pandas", "matplotlib", "scikit-learn", "torch", "torchdiffeq", "numba", "POT", "anndata", "scanpy",
            "joblib", "snakemake")


def config_digest(config: Mapping) -> str:
    """SHA-256 of the config as canonical JSON (keys sorted, no spaces): equal configs give equal
    digests whatever the order of their keys or the file they came from."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str, ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def git_commit(directory: str | Path) -> str:
    """The commit checked out in ``directory``, with ``-dirty`` when tracked files differ from it;
    ``unknown`` outside a git checkout (an installed or downloaded workflow) or without git."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=directory, capture_output=True, text=True, timeout=30)
        if head.returncode != 0:
            return "unknown"
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=directory, capture_output=True, text=True,
                                timeout=30)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head.stdout.strip() + ("-dirty" if status.returncode == 0 and status.stdout.strip() else "")


def package_versions(packages=PACKAGES) -> dict:
    """``{distribution: version}`` for the installed ones among ``packages`` (absent ones are left out)."""
    versions = {}
    for name in packages:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(config: Mapping, commit: str) -> dict:
    """The record: ``figureflow`` (version), ``commit``, ``config_sha256``, ``seed`` and ``packages``."""
    return {
        "figureflow": figureflow.__version__,
        "commit": commit,
        "config_sha256": config_digest(config),
        "seed": config.get("seed"),
        "packages": package_versions(),
    }


def provenance_keywords(record: Mapping) -> str:
    """The record as one line of ``key=value`` pairs (a PDF's Keywords)."""
    packages = ", ".join(f"{k} {v}" for k, v in record["packages"].items())
    return (f"figureflow={record['figureflow']}; commit={record['commit']}; config_sha256={record['config_sha256']}; "
            f"seed={record['seed']}; packages={packages}")
