"""One chunk of a seeded sweep's replicates, on the job's threads (rule sweep_chunk)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.parallel import start_workers

start_workers(snakemake.threads, preload=["figureflow.sweeps:load_libraries"])  # they import scikit-learn while this process does

from figureflow.io import write_table  # noqa: E402
from figureflow.runtime import job  # noqa: E402
from figureflow.sweeps import run_sweep  # noqa: E402

with job(snakemake) as log:
    spec, sweep, chunk = snakemake.params.spec, snakemake.wildcards.sweep, int(snakemake.wildcards.chunk)
    table = run_sweep(
        spec["experiment"], spec["grid"], spec["replicates"], snakemake.params.seed, sweep, spec["params"],
        n_jobs=snakemake.threads, chunk=chunk, chunks=spec["chunks"],
    )
    log.info("sweep %s, chunk %d of %d: %d replicates on %d workers", sweep, chunk + 1, spec["chunks"], len(table), snakemake.threads)
    write_table(table, snakemake.output[0])
