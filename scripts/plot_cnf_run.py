"""Learned density, samples, trajectories and training curve of one CNF run (rule plot_cnf_run)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

import numpy as np

from figureflow.io import read_table
from figureflow.plotting.cnf import plot_density, plot_samples, plot_training_curve, plot_trajectories
from figureflow.plotting.style import save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    run, out = snakemake.wildcards.run, snakemake.output
    history = read_table(snakemake.input.history)
    metrics = read_table(snakemake.input.metrics).iloc[0].to_dict()
    with np.load(snakemake.input.arrays, allow_pickle=False) as f:
        a = {k: f[k] for k in f.files}
    names, label = [str(n) for n in a["names"]], f"{run}: {metrics['data']}, {metrics['objective'].replace('_', ' ')}"
    save_figure(plot_density(a["held_out"], names, a.get("grid_axis"), a.get("log_density"), a.get("held_out_log_density"), metrics, title=label),
                out.density_png, out.density_pdf)
    save_figure(plot_samples(a["held_out"], a["samples"], names, title=label), out.samples_png, out.samples_pdf)
    save_figure(plot_trajectories(a["trajectory"], a["times"], names, title=label), out.trajectories_png, out.trajectories_pdf)
    reference = {"true density": metrics["true_nll"], "Gaussian mixture": metrics["gmm_nll"]}
    save_figure(plot_training_curve(history, reference, title=label), out.training_png, out.training_pdf)
    log.info("drew %d history rows, %d samples at %d times", len(history), a["samples"].shape[0], len(a["times"]))
