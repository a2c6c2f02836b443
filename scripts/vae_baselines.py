"""PCA and FastICA latents of a simulation, scored by both MIG variants and SAP (rule vae_baselines)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.generative.disentanglement import baseline_scores
from figureflow.io import read_arrays, write_table
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import generator

with job(snakemake) as log:
    p = snakemake.params
    arrays = read_arrays(snakemake.input[0], ["x", "factors", "categorical"], optional=["factor_classes"])
    seeds = [int(generator(p.seed, "vae_baselines", wildcards_dict(snakemake), r).integers(2**31 - 1)) for r in range(p.replicates)]
    table = baseline_scores(arrays, p.baselines, p.replicates, seeds, p.counts, p.latent_dim)
    write_table(table, snakemake.output[0])
    log.info("\n%s", table.to_string(index=False))
