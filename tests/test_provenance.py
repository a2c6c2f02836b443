"""figureflow.provenance: the record a paper figure carries."""

import hashlib
import subprocess

import pytest

import figureflow
from figureflow.provenance import config_digest, git_commit, package_versions, provenance, provenance_keywords


def test_the_config_digest_is_the_sha256_of_canonical_json_whatever_the_key_order():
    a = {"seed": 3, "jacobian": {"maps": {"toy": {"map": "toy"}}, "sample_sizes": [1024, 4096]}}
    b = {"jacobian": {"sample_sizes": [1024, 4096], "maps": {"toy": {"map": "toy"}}}, "seed": 3}
    canonical = '{"jacobian":{"maps":{"toy":{"map":"toy"}},"sample_sizes":[1024,4096]},"seed":3}'
    assert config_digest(a) == config_digest(b) == hashlib.sha256(canonical.encode()).hexdigest()
    assert config_digest({**a, "seed": 4}) != config_digest(a)


def git(directory, *args):
    return subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, check=True).stdout.strip()


def test_the_commit_is_head_and_says_when_tracked_files_differ_from_it(tmp_path):
    if subprocess.run(["git", "--version"], capture_output=True).returncode != 0:
        pytest.skip("git is not installed")
    git(tmp_path, "init", "-q")
    (tmp_path / "a.txt").write_text("one\n")
    git(tmp_path, "add", "a.txt")
    git(tmp_path, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "first")
    head = git(tmp_path, "rev-parse", "HEAD")
    assert git_commit(tmp_path) == head
    (tmp_path / "untracked.txt").write_text("not part of the workflow\n")
    assert git_commit(tmp_path) == head
    (tmp_path / "a.txt").write_text("two\n")
    assert git_commit(tmp_path) == head + "-dirty"


def test_outside_a_checkout_the_commit_is_unknown(tmp_path):
    assert git_commit(tmp_path) == "unknown"
    assert git_commit(tmp_path / "missing") == "unknown"


def test_the_record_names_version_commit_digest_seed_and_installed_packages():
    record = provenance({"seed": 7, "graphs": {}}, "abc123")
    assert record["figureflow"] == figureflow.__version__
    assert (record["commit"], record["seed"]) == ("abc123", 7)
    assert record["config_sha256"] == config_digest({"seed": 7, "graphs": {}})
    import numpy
    import pandas

    assert record["packages"]["numpy"] == numpy.__version__ and record["packages"]["pandas"] == pandas.__version__
    assert package_versions(["numpy", "no-such-distribution-here"]) == {"numpy": numpy.__version__}
    line = provenance_keywords(record)
    assert line.startswith(f"figureflow={figureflow.__version__}; commit=abc123; config_sha256={record['config_sha256']}; seed=7; packages=")
    assert f"numpy {numpy.__version__}" in line
