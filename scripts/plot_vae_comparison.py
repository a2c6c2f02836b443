"""MIG and SAP across objectives, seeds and baselines (rule plot_vae_comparison)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import read_table
from figureflow.plotting.style import save_figure
from figureflow.plotting.vae import plot_comparison
from figureflow.runtime import job

with job(snakemake) as log:
    scores = read_table(snakemake.input.scores)
    save_figure(plot_comparison(scores), snakemake.output.png, snakemake.output.pdf)
    log.info("drew %d scores of %d methods", len(scores), scores["method"].nunique())
