"""Train every seed replicate of one VAE run; write the model, history, metrics and latents (rules vae_train*)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.generative.vae import latent_arrays, save_model, train_run, training_data
from figureflow.io import write_arrays, write_h5ad, write_table
from figureflow.maps import vae_decoder_volume
from figureflow.runtime import job
from figureflow.seeding import generator

with job(snakemake) as log:
    run, options, seed, figures = snakemake.wildcards.run, snakemake.params.options, snakemake.params.seed, snakemake.params.figures
    data = training_data(snakemake.input.data, options["likelihood"])
    log.info("run %s: %s, %d rows x %d features, objective %s, likelihood %s", run, snakemake.input.data, *data["x"].shape, options["objective"], options["likelihood"])

    def volume(model, replicate):  # E[sqrt(det J^T J)] of the decoder mean under the prior
        Z = generator(seed, "vae_volume", {"run": run}, replicate).standard_normal((figures["volume_samples"], model.config["latent_dim"]))
        return vae_decoder_volume(model, Z)

    out = train_run(data, options, seed, run, checkpoint_dir=snakemake.params.checkpoints, threads=snakemake.threads, volume=volume,
                    traversal_steps=figures["traversal_steps"], traversal_extent=figures["traversal_extent"], log=log)
    write_arrays(snakemake.output.latent, **latent_arrays(out["latent"], data))
    write_table(out["history"], snakemake.output.history)
    write_table(out["metrics"], snakemake.output.metrics)
    if "latent_h5ad" in snakemake.output.keys():
        import anndata as ad

        adata = ad.AnnData(obs=data["obs"].copy())
        adata.obsm["X_vae"] = out["latent"]["z"].astype("float32")
        write_h5ad(adata, snakemake.output.latent_h5ad)
    save_model(snakemake.output.model, out["models"], options)
