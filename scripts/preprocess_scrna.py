"""Normalize, log-transform, select genes and embed a dataset with scanpy (rule preprocess_scrna)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import time

import anndata as ad

from figureflow.data.preprocess import preprocess, qc_table
from figureflow.io import write_h5ad, write_table
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import generator

with job(snakemake) as log:
    start = time.perf_counter()
    adata = ad.read_h5ad(snakemake.input[0])
    log.info("read %s in %.1f s", snakemake.input[0], time.perf_counter() - start)
    rng = generator(snakemake.params.seed, snakemake.rule, wildcards_dict(snakemake))
    processed = preprocess(adata, random_state=int(rng.integers(2**31 - 1)), copy=False, n_threads=snakemake.threads,
                           **snakemake.params.options)
    log.info("kept %d highly variable genes, %d PCs", processed.var["highly_variable"].sum(), processed.obsm["X_pca"].shape[1])
    write_table(qc_table(processed, counts_layer="counts"), snakemake.output.qc)
    start = time.perf_counter()
    write_h5ad(processed, snakemake.output.h5ad)
    log.info("wrote %s in %.1f s", snakemake.output.h5ad, time.perf_counter() - start)
