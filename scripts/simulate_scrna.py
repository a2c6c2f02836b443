"""Simulate a single-cell counts matrix with planted aging shifts (rule simulate_scrna)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
from figureflow import __version__
from figureflow.data.scrna import simulate_scrna
from figureflow.io import write_h5ad
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import seed_sequence

with job(snakemake) as log:
    spec = snakemake.params.spec["simulate"]
    stream = seed_sequence(snakemake.params.seed, snakemake.rule, wildcards_dict(snakemake))
    adata = simulate_scrna(stream, **spec, n_threads=snakemake.threads)
    adata.uns["figureflow"] = {"version": __version__, "seed": snakemake.params.seed, "rule": snakemake.rule}
    log.info("simulated %d cells x %d genes, %d nonzero counts", adata.n_obs, adata.n_vars, adata.X.nnz)
    log.info("planted aging shifts: %s", dict(zip(adata.uns["truth"]["cell_types"], adata.uns["truth"]["aging_shift"])))
    write_h5ad(adata, snakemake.output[0])
