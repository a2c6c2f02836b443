"""Train one seed replicate of one VAE run; write its model, history, metrics and latents (rule vae_train)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.generative.vae import latent_arrays, save_model, train_replicate, training_data
from figureflow.io import write_arrays, write_table
from figureflow.maps import vae_decoder_volume
from figureflow.runtime import job
from figureflow.seeding import generator

with job(snakemake) as log:
    run, replicate = snakemake.wildcards.run, int(snakemake.wildcards.replicate)
    options, seed, figures = snakemake.params.options, snakemake.params.seed, snakemake.params.figures
    data = training_data(snakemake.input.data, options["likelihood"])
    log.info("run %s, replicate %d: %s, %d rows x %d features, objective %s, likelihood %s, architecture %s", run, replicate,
             snakemake.input.data, *data["x"].shape, options["objective"], options["likelihood"], options["architecture"])

    def volume(model):  # E[sqrt(det J^T J)] of the decoder mean under the prior
        Z = generator(seed, "vae_volume", {"run": run}, replicate).standard_normal((figures["volume_samples"], model.config["latent_dim"]))
        return vae_decoder_volume(model, Z)

    out = train_replicate(data, options, seed, run, replicate, checkpoint=snakemake.params.checkpoint, threads=snakemake.threads, volume=volume,
                          traversal_steps=figures["traversal_steps"], traversal_extent=figures["traversal_extent"], log=log)
    write_arrays(snakemake.output.latent, **latent_arrays(out["latent"], data))
    write_table(out["history"], snakemake.output.history)
    write_table(out["metrics"], snakemake.output.metrics)
    save_model(snakemake.output.model, [out["model"]], options)
