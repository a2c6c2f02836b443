"""Aging trajectories: cosine similarity of cell types' young-to-old vectors in NMF program space (rule aging_trajectories)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
from figureflow.aging import aging_trajectories, planted_cosines
from figureflow.data.ingest import read_h5ad_parts
from figureflow.io import write_table
from figureflow.runtime import job

with job(snakemake) as log:
    o, dataset = snakemake.params.options, snakemake.wildcards.dataset
    adata = read_h5ad_parts(snakemake.input[0], ("obs", "var", "X", "uns"))  # the NMF's X: no counts layer, no neighbour graph
    table = aging_trajectories(adata, dataset, snakemake.params.seed, o["n_programs"], o["bootstraps"])
    planted = planted_cosines(adata, table)
    if planted is not None:
        table["planted_cosine"] = planted
    log.info("%d cell type pairs, %d programs; cosines from %.3f to %.3f", len(table), o["n_programs"], table["cosine"].min(), table["cosine"].max())
    write_table(table, snakemake.output[0])
