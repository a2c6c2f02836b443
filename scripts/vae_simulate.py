"""Data with known generative factors for the VAE comparison (rule vae_simulate)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.generative.known_factors import simulate
from figureflow.io import write_arrays
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import generator

with job(snakemake) as log:
    spec = snakemake.params.spec
    arrays = simulate(spec, generator(snakemake.params.seed, "vae_simulate", wildcards_dict(snakemake)))
    write_arrays(snakemake.output[0], **arrays)
    log.info("%s: %s of shape %s, factors %s", spec["simulator"], "x", arrays["x"].shape, list(arrays["factor_names"]))
