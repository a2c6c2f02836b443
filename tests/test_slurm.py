"""The workflow on a real SLURM cluster: a throwaway single node started by tests/slurm_cluster.sh.

Runs where the cluster can be started (root, SLURM installed or installable with apt-get, as in
CI); elsewhere every test here is skipped with the reason. The run goes through
``profiles/slurm`` as a user's would, with the status command a cluster without accounting needs.
"""

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from conftest import EXPECTED_TABLES, REPO, SNAKEFILE, assert_same_tables, prepare_workdir, write_counts_failing_in_the_job

pytestmark = [pytest.mark.workflow, pytest.mark.slurm]

CLUSTER = REPO / "tests" / "slurm_cluster.sh"
SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\d+)")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """The cluster's environment (``SLURM_CONF``) while the module runs; stopped afterwards."""
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        pytest.skip("snakemake-executor-plugin-slurm is not installed (pip install -e '.[test]')")
    if os.geteuid() != 0:
        pytest.skip("the throwaway SLURM cluster runs its daemons as root; not root here")
    directory = tmp_path_factory.mktemp("slurm_cluster")
    began = time.perf_counter()
    started = subprocess.run([str(CLUSTER), "start", str(directory)], capture_output=True, text=True, timeout=600)
    if started.returncode == 3:
        pytest.skip(f"no SLURM cluster here: {started.stderr.strip()}")
    assert started.returncode == 0, started.stdout + started.stderr
    print(f"\nSLURM cluster up in {time.perf_counter() - began:.1f} s ({directory})", file=sys.__stderr__)
    yield dict(os.environ, SLURM_CONF=str(directory / "slurm.conf"), PYTHONHASHSEED="random")
    subprocess.run([str(CLUSTER), "stop", str(directory)], capture_output=True, text=True, timeout=120)


def slurm_command(workdir, configfile, *args):
    return [
        sys.executable, "-m", "snakemake", "-s", str(SNAKEFILE), "--directory", str(workdir), "--configfile", str(configfile),
        "--profile", str(REPO / "profiles" / "slurm"),
        # no accounting database on the throwaway cluster: squeue, not sacct, sees the jobs
        "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2", "--latency-wait", "10",
        *args,
    ]


def run_on_slurm(slurm, workdir, configfile, *args, timeout=1200):
    return subprocess.run(slurm_command(workdir, configfile, *args), capture_output=True, text=True, timeout=timeout, env=slurm, cwd=workdir)


def queue_is_empty(slurm) -> bool:
    out = subprocess.run(["squeue", "-h", "-o", "%i %T"], capture_output=True, text=True, env=slurm, check=True).stdout
    return not [line for line in out.splitlines() if line.split()[1] in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING")]


def test_a_run_on_slurm_killed_and_rerun_gives_the_tables_of_a_local_run(slurm, request, tmp_path, capsys):
    workdir = tmp_path / "slurm"
    config = prepare_workdir(workdir)
    began = time.perf_counter()
    # Snakemake killed outright (a lost login session) once some jobs have finished ...
    # the tables only: figures are drawn by the same scripts locally and in the workflow tests, and
    # each of the ~40 figure jobs would cost a submission and a job-step start here
    first = subprocess.Popen(
        slurm_command(workdir, config, *EXPECTED_TABLES), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=slurm, cwd=workdir,
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    while not (workdir / "results/graphs/tiny_sbm.nodes.tsv").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert first.poll() is None, "the workflow ended before it could be killed:\n" + first.stdout.read()
    os.killpg(first.pid, signal.SIGKILL)
    killed_output = first.communicate()[0]
    # ... its jobs already on the cluster run out; then the user unlocks and runs again
    while not queue_is_empty(slurm):
        time.sleep(1)
    unlock = run_on_slurm(slurm, workdir, config, "--unlock")
    assert unlock.returncode == 0, unlock.stdout + unlock.stderr
    rerun = run_on_slurm(slurm, workdir, config, *EXPECTED_TABLES)
    out = rerun.stdout + rerun.stderr
    assert rerun.returncode == 0, out[-5000:]
    seconds = time.perf_counter() - began
    jobs = len(SUBMITTED.findall(killed_output)), len(SUBMITTED.findall(out))
    assert jobs[0] >= 1 and jobs[1] >= 1
    # the local run, asked for only now: under pytest-xdist another worker makes it meanwhile
    runs = request.getfixturevalue("runs")
    assert_same_tables(runs["1"], workdir, "the local run", "the SLURM run")
    with capsys.disabled():
        print(f"\nSLURM ran {sum(jobs)} jobs ({jobs[0]} before Snakemake was killed, {jobs[1]} on the rerun) in {seconds:.0f} s; "
              "every table equals the local run's")


def test_a_failing_job_and_a_timed_out_job_are_reported_with_their_logs(slurm, tmp_path, capsys):
    # one job fails (a negative count the check before any job cannot see), one CNF run would
    # train for half an hour and is given a one-minute time limit; --keep-going lets both end
    config = write_counts_failing_in_the_job(tmp_path)
    config.write_text(
        config.read_text() + "cnf:\n  runs:\n    slow: {data: moons, size: 2000, objective: flow_matching, hidden: [32, 32], "
        "iterations: 2000000, evaluate_every: 2000000}\n"
    )
    result = run_on_slurm(slurm, tmp_path, config, "--retries", "0", "--keep-going", "--set-resources", "cnf_train:runtime=1", timeout=900)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    # the failed job: the rule's log (printed in full: show-failed-logs) and the SLURM job's own log
    assert "Error in rule ingest_h5ad" in out
    assert "logs/ingest_h5ad/d.log" in out
    assert "X must hold non-negative counts, found minimum -4" in out
    assert re.search(r"\.snakemake/slurm_logs/rule_ingest_h5ad/\S*\d+\.log", out)
    assert not list((tmp_path / "results").rglob("*.h5ad"))
    # the job killed at its time limit: said as such, with its logs
    assert "Error in rule cnf_train" in out
    assert "SLURM status is: 'TIMEOUT'" in out, out[-3000:]
    assert re.search(r"\.snakemake/slurm_logs/rule_cnf_train/\S*\d+\.log", out)
    assert not (tmp_path / "results/cnf/slow/model.pt").exists()
    with capsys.disabled():  # what the user sees
        print("\n" + "\n".join(line for line in out.splitlines() if re.search(r"Error in rule|SLURM-job|log: |slurm_logs", line)))


def test_a_cluster_without_accounting_is_found_before_any_submission_when_sacct_is_the_status_command(slurm, tmp_path):
    """The throwaway cluster keeps no accounting: with the executor's default status command (sacct),
    Snakemake used to submit every job and then wait for ever. Now it stops before submitting."""
    config = prepare_workdir(tmp_path)
    command = [c for c in slurm_command(tmp_path, config) if c not in ("--slurm-status-command", "squeue")]
    result = subprocess.run([*command, "--slurm-status-command", "sacct"], capture_output=True, text=True, timeout=300, env=slurm, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "this SLURM cluster keeps no accounting database (sacct says: 'Slurm accounting storage is disabled')" in out, out[-3000:]
    assert "set 'slurm-status-command: squeue'" in out
    assert not SUBMITTED.search(out) and queue_is_empty(slurm) and not (tmp_path / "results").exists()
