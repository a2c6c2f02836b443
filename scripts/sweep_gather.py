"""A sweep's chunks in one table, its summary per grid point, and one example dataset (rule sweep_gather)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import read_table, write_arrays, write_table
from figureflow.runtime import job
from figureflow.sweeps import example_dataset, gather_chunks, grid_points, summarize

with job(snakemake) as log:
    spec, sweep, seed = snakemake.params.spec, snakemake.wildcards.sweep, snakemake.params.seed
    table = gather_chunks([read_table(f) for f in snakemake.input])
    write_table(table, snakemake.output.replicates)
    summary = summarize(table, list(spec["grid"]), seed=seed, sweep=sweep)
    write_table(summary, snakemake.output.summary)
    point = grid_points(spec["grid"])[0]
    example = example_dataset(seed, sweep, point, 0, spec["params"])
    write_arrays(snakemake.output.example, **example)
    log.info("%d replicates at %d grid points; example: %s, replicate 0", len(table), len(summary), point or "the only point")
