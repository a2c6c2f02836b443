"""The disentanglement comparison: every run on a simulation and the baselines, per seed and summarized (rule vae_comparison)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

import pandas as pd

from figureflow.generative.disentanglement import SCORES, summarize_scores
from figureflow.io import read_table, write_table
from figureflow.runtime import job

with job(snakemake) as log:
    frames = []
    for run, path in zip(snakemake.params.runs, snakemake.input.metrics):
        frames.append(read_table(path).assign(data=snakemake.params.run_data[run], method=run))
    for simulation, path in zip(snakemake.params.simulations, snakemake.input.baselines):
        frames.append(read_table(path).assign(data=simulation))
    scores = pd.concat(frames, ignore_index=True)
    extra = ("active_units", "learned_nothing", "held_out_elbo", "held_out_reconstruction", "constant_reconstruction", "decoder_volume", "note")
    scores = scores[["data", "method", "replicate", *SCORES] + [c for c in extra if c in scores]]
    write_table(scores, snakemake.output.scores)
    summary = summarize_scores(scores)
    write_table(summary, snakemake.output.summary)
    log.info("\n%s", summary.to_string(index=False))
