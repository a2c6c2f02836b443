"""Aging magnitude of one cell type: bootstrapped OT distances, old against young (rule aging_cell_type)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import pandas as pd

from figureflow.aging import bootstrap_options, cell_type_magnitude, cell_type_stream, embedding_by_age
from figureflow.data.ingest import read_h5ad_annotations
from figureflow.io import write_table
from figureflow.runtime import job

with job(snakemake) as log:
    o, dataset, cell_type = snakemake.params.options, snakemake.wildcards.dataset, snakemake.params.cell_type
    adata = read_h5ad_annotations(snakemake.input[0])  # every obsm key (small): an error can list them
    young, old = embedding_by_age(adata, dataset, cell_type, o["embedding"], o["n_dims"])
    log.info("cell type %r: %d young, %d old cells in obsm[%r] (%d dimensions)", cell_type, len(young), len(old), o["embedding"], young.shape[1])
    stream = cell_type_stream(snakemake.params.seed, dataset, cell_type)
    row, bootstraps = cell_type_magnitude(young, old, cell_type, stream, **bootstrap_options(o, snakemake.threads))
    log.info("%s: magnitude %.4g [%.4g, %.4g], %s", cell_type, row["magnitude"], row["ci_low"], row["ci_high"], row["status"])
    write_table(pd.DataFrame([row]), snakemake.output.magnitude)
    write_table(bootstraps, snakemake.output.bootstraps)
