"""Where a workflow run spends its time: every job's wall time from Snakemake's own log, per rule,
and how busy the cores were.

    python benchmarks/workflow_profile.py --demo              # the demo from a fresh clone of HEAD, then its profile
    python benchmarks/workflow_profile.py --demo --keep DIR   # ... in DIR, kept afterwards
    python benchmarks/workflow_profile.py LOG [--cores 2]     # the profile of a finished run's log
                                                              # (.snakemake/log/<date>.snakemake.log)

The log gives each job's start and end to the second, its rule, wildcards and threads. From them:
the run's wall time, job-seconds per rule (jobs, total, longest), the 12 longest jobs, and the
core-seconds left idle (cores x wall - sum of threads x job time), with the stretches where fewer
cores were busy than the run had and what ran then (the serial tail of a DAG shows up here).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
RULE = re.compile(r"^(?:local)?rule (\w+):$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


@dataclass
class Job:
    jobid: int
    rule: str
    start: float
    end: float | None = None
    threads: int = 1
    wildcards: str = ""

    @property
    def seconds(self) -> float:
        return (self.end or self.start) - self.start


def parse_log(text: str) -> list[Job]:
    """The jobs of a Snakemake log, with start and end times (seconds since the epoch)."""
    jobs: dict[int, Job] = {}
    stamp = None
    current = None
    for line in text.splitlines():
        line = line.rstrip()
        if m := STAMP.match(line):
            stamp = datetime.strptime(" ".join(m.group(1).split()), "%a %b %d %H:%M:%S %Y").timestamp()
            current = None
            continue
        if m := RULE.match(line):
            current = {"rule": m.group(1), "start": stamp}
            continue
        if current is not None:
            key, _, value = line.strip().partition(": ")
            if key == "jobid":
                job = Job(int(value), current["rule"], current["start"])
                jobs[job.jobid] = job
                current["job"] = job
            elif key in ("threads", "wildcards") and "job" in current:
                if key == "threads":
                    current["job"].threads = int(value)
                else:
                    current["job"].wildcards = value
        if m := FINISHED.match(line):
            job = jobs.get(int(m.group(1)))
            if job is not None:
                job.end = stamp
    return sorted(jobs.values(), key=lambda j: (j.start, j.jobid))


def report(jobs: list[Job], cores: int, wall: float | None = None) -> str:
    done = [j for j in jobs if j.end is not None and j.rule != "all"]
    if not done:
        return "no finished jobs in the log"
    begin = min(j.start for j in done)
    end = max(j.end for j in done)
    wall = wall if wall is not None else end - begin
    job_seconds = sum(j.seconds for j in done)
    core_seconds = sum(j.seconds * min(j.threads, cores) for j in done)
    lines = [
        f"{len(done)} jobs; jobs from first start to last end {end - begin:.0f} s"
        + (f" (the whole call {wall:.0f} s)" if wall is not None else ""),
        f"job-seconds {job_seconds:.0f}; core-seconds claimed (threads x time) {core_seconds:.0f} of {cores * (end - begin):.0f} "
        f"({core_seconds / (cores * (end - begin)):.0%} of {cores} cores)",
        "",
        f"{'rule':<26}{'jobs':>5}{'job-s':>8}{'longest':>9}{'threads':>8}",
    ]
    by_rule = defaultdict(list)
    for j in done:
        by_rule[j.rule].append(j)
    for rule, rule_jobs in sorted(by_rule.items(), key=lambda kv: -sum(j.seconds for j in kv[1])):
        total = sum(j.seconds for j in rule_jobs)
        longest = max(rule_jobs, key=lambda j: j.seconds)
        threads = sorted({j.threads for j in rule_jobs})
        lines.append(f"{rule:<26}{len(rule_jobs):>5}{total:>8.0f}{longest.seconds:>9.0f}{','.join(map(str, threads)):>8}")
    lines += ["", "longest jobs (start and end in seconds from the first start):"]
    for j in sorted(done, key=lambda j: -j.seconds)[:12]:
        lines.append(f"  {j.seconds:6.0f} s  {j.start - begin:5.0f}-{j.end - begin:<5.0f} {j.rule} {j.wildcards} (threads {j.threads})")
    # stretches with fewer busy cores than the run had
    lines += ["", f"stretches of 5 s or more with fewer than {cores} cores claimed:"]
    seconds = range(int(begin), int(end))
    busy = {t: [j for j in done if j.start <= t < j.end] for t in seconds}
    stretch = None
    idle_total = 0
    for t in [*seconds, None]:
        claimed = sum(min(j.threads, cores) for j in busy[t]) if t is not None else cores
        if t is not None:
            idle_total += max(0, cores - claimed)
        under = t is not None and claimed < cores
        if under and stretch is None:
            stretch = [t, t, {f"{j.rule} {j.wildcards}".strip() for j in busy[t]}]
        elif under:
            stretch[1] = t
            stretch[2] |= {f"{j.rule} {j.wildcards}".strip() for j in busy[t]}
        elif stretch is not None:
            if stretch[1] - stretch[0] + 1 >= 5:
                running = ", ".join(sorted(stretch[2])) or "nothing (Snakemake between jobs)"
                lines.append(f"  {stretch[0] - begin:5.0f}-{stretch[1] + 1 - begin:<5.0f} ({stretch[1] + 1 - stretch[0]:4.0f} s): {running}")
            stretch = None
    lines.append(f"idle core-seconds in all: {idle_total:.0f}")
    return "\n".join(lines)


def run_demo(directory: Path, cores: int) -> tuple[Path, float]:
    subprocess.run(["git", "clone", "-q", str(REPO), str(directory)], check=True)
    began = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores)], cwd=directory, capture_output=True, text=True)
    wall = time.perf_counter() - began
    if out.returncode != 0:
        sys.exit(f"the demo failed:\n{out.stderr[-3000:]}")
    log = max((directory / ".snakemake" / "log").glob("*.snakemake.log"))
    return log, wall


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("log", nargs="?", type=Path, help="a Snakemake log to profile")
    parser.add_argument("--demo", action="store_true", help="run the demo from a fresh clone of HEAD first")
    parser.add_argument("--keep", type=Path, help="with --demo: the directory to clone into (kept)")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    wall = None
    if args.demo:
        if args.keep:
            log, wall = run_demo(args.keep, args.cores)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                log, wall = run_demo(Path(tmp) / "demo", args.cores)
                print(f"demo: snakemake --cores {args.cores} in a fresh clone of HEAD")
                print(report(parse_log(log.read_text()), args.cores, wall))
                return
        print(f"demo: snakemake --cores {args.cores} in a fresh clone of HEAD ({args.keep})")
    elif args.log is None:
        parser.error("give a Snakemake log, or --demo")
    else:
        log = args.log
    print(report(parse_log(log.read_text()), args.cores, wall))


if __name__ == "__main__":
    main()
