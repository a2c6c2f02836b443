"""Training curves, latent traversals and the latent space of one VAE run (rule plot_vae_run)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

import numpy as np

from figureflow.io import read_arrays, read_table
from figureflow.plotting.style import save_figure
from figureflow.plotting.vae import learned_nothing_note, plot_gene_traversal, plot_image_traversals, plot_latent_space, plot_training_curves
from figureflow.runtime import job

with job(snakemake) as log:
    run, out = snakemake.wildcards.run, snakemake.output
    history, metrics = read_table(snakemake.input.history), read_table(snakemake.input.metrics)
    notes = [n for n in (learned_nothing_note(metrics, r) for r in metrics["replicate"]) if n]
    note = learned_nothing_note(metrics, 0)  # the traversal and latent figures show replicate 0
    for line in notes:
        log.warning(line)
    save_figure(plot_training_curves(history, title=f"{run}: {history['replicate'].nunique()} replicates", note=" ".join(notes) or None),
                out.training_png, out.training_pdf)
    with np.load(snakemake.input.latent, allow_pickle=False) as f:
        latent = {k: f[k] for k in f.files}
    if "canvas" in latent:  # every seed side by side, each headed by its disentanglement_lib MIG
        seeds = [read_arrays(path, ["traversal", "kl_per_dim"]) for path in snakemake.input.replicates]
        labels = [f"replicate {r}" + (f": MIG(dlib) {m:.3f}" if "mig_dlib" in metrics and np.isfinite(m := metrics["mig_dlib"].iloc[r]) else "")
                  for r in range(len(seeds))]
        fig = plot_image_traversals([s["traversal"] for s in seeds], latent["traversal_values"], int(latent["canvas"]), [s["kl_per_dim"] for s in seeds],
                                    labels, title=f"{run}: traversals", notes=notes)
    else:
        fig = plot_gene_traversal(latent["traversal"], latent["traversal_values"], latent["kl_per_dim"], latent.get("var_names"), title=f"{run}: traversals (replicate 0)", note=note)
    save_figure(fig, out.traversal_png, out.traversal_pdf)
    if "factors" in latent:
        colours = {str(name): latent["factors"][:, k] for k, name in enumerate(latent["factor_names"])}
    else:
        colours = {name: latent[name] for name in ("cell_type", "age") if name in latent} or {"cells": np.zeros(len(latent["z"]))}
    save_figure(plot_latent_space(latent["z"], colours, latent["kl_per_dim"], title=f"{run}: latent space (replicate 0)", note=note), out.latent_png, out.latent_pdf)
    log.info("drew %d epochs and %d latent dimensions", len(history), latent["z"].shape[1])
