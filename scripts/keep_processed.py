"""A processed dataset is used as it is: its own X and embedding, no preprocessing (rule keep_processed)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import anndata as ad

from figureflow.io import write_h5ad
from figureflow.runtime import job

with job(snakemake) as log:
    adata = ad.read_h5ad(snakemake.input[0])
    log.info("kept as processed: %d cells x %d genes, obsm %s", adata.n_obs, adata.n_vars, sorted(adata.obsm))
    write_h5ad(adata, snakemake.output[0])
