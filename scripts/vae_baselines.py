"""PCA and FastICA latents of a simulation, scored by MIG and SAP (rule vae_baselines)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

import numpy as np
import pandas as pd

from figureflow.generative.disentanglement import baseline_latents, mig, sap
from figureflow.io import read_arrays, write_table
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import generator

with job(snakemake) as log:
    arrays = read_arrays(snakemake.input[0], ["x", "factors", "categorical"])
    x = np.log1p(arrays["x"]) if snakemake.params.counts else arrays["x"]
    rows = []
    for method in snakemake.params.baselines:
        for r in range(snakemake.params.replicates if method == "fastica" else 1):
            seed = int(generator(snakemake.params.seed, "vae_baselines", wildcards_dict(snakemake), r).integers(2**31 - 1))
            z = baseline_latents(x, method, snakemake.params.latent_dim, seed)
            rows.append({"method": method, "replicate": r, "mig": mig(z, arrays["factors"]), "sap": sap(z, arrays["factors"], arrays["categorical"])})
            log.info("%s replicate %d: MIG %.3f, SAP %.3f", method, r, rows[-1]["mig"], rows[-1]["sap"])
    write_table(pd.DataFrame(rows), snakemake.output[0])
