"""Gather a VAE run's seed replicates into one model, history and metrics table (rules vae_gather*)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.generative.vae import gather_replicates
from figureflow.io import write_h5ad
from figureflow.runtime import job

with job(snakemake) as log:
    out = snakemake.output
    metrics = gather_replicates(snakemake.input, out.model, out.history, out.metrics, out.latent)
    log.info("%s: %d replicates\n%s", snakemake.wildcards.run, len(metrics), metrics.to_string(index=False))
    if "latent_h5ad" in out.keys():
        import anndata as ad
        import numpy as np

        from figureflow.data.ingest import read_h5ad_annotations

        obs = read_h5ad_annotations(snakemake.input.data, obsm=[]).obs  # backed mode would read every layer
        with np.load(out.latent, allow_pickle=False) as latent:
            adata = ad.AnnData(obs=obs)
            adata.obsm["X_vae"] = latent["z"].astype("float32")
        write_h5ad(adata, out.latent_h5ad)
