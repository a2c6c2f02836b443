"""Helpers shared by the benchmarks."""

import resource


def peak_memory_mb() -> float:
    """This process's peak resident memory in MB (VmHWM; unlike ru_maxrss it is not inherited across exec)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_case(script: str, case: str, *args: str) -> dict:
    """Run ``python script --case case [args]`` in a fresh process (so its peak memory, and its
    cold start, are its own); return the JSON object it prints last."""
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, script, "--case", case, *args], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])
