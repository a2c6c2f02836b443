"""Aging trajectories: cosine similarity of cell types' young-to-old vectors in NMF program space (rule aging_trajectories)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import anndata as ad

from figureflow.aging import aging_trajectories, planted_cosines
from figureflow.io import write_table
from figureflow.runtime import job

with job(snakemake) as log:
    o, dataset = snakemake.params.options, snakemake.wildcards.dataset
    adata = ad.read_h5ad(snakemake.input[0])
    table = aging_trajectories(adata, dataset, snakemake.params.seed, o["n_programs"], o["bootstraps"])
    planted = planted_cosines(adata, table)
    if planted is not None:
        table["planted_cosine"] = planted
    log.info("%d cell type pairs, %d programs; cosines from %.3f to %.3f", len(table), o["n_programs"], table["cosine"].min(), table["cosine"].max())
    write_table(table, snakemake.output[0])
