"""Adjacency heatmap ordered by group, and edge densities per group pair (rule graph_overview)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
from figureflow.data.sbm import group_pair_table, sbm_parameters
from figureflow.io import InputError, describe, read_graph_files, write_table
from figureflow.plotting import plot_adjacency, save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    adjacency, nodes = read_graph_files(snakemake.input.graph, snakemake.input.nodes)
    group_by = snakemake.params.group_by
    if group_by is None and nodes.shape[1] > 1:
        group_by = nodes.columns[1]
    if group_by is not None and group_by not in nodes.columns:
        raise InputError(
            f"config key graphs.{snakemake.wildcards.graph}.group_by is '{group_by}', which is not a node-table "
            f"column; columns are {describe(nodes.columns)}"
        )
    groups = None
    if group_by:
        column = nodes[group_by]
        groups = (column.astype("string").fillna("(none)") if column.isna().any() else column).to_numpy()
    planted = None
    if "sbm" in snakemake.params.spec:
        planted = sbm_parameters(snakemake.params.spec["sbm"], snakemake.wildcards.graph)[1]
    table = group_pair_table(adjacency, groups if groups is not None else ["all"] * adjacency.shape[0], planted)
    write_table(table, snakemake.output.groups)
    fig = plot_adjacency(
        adjacency, groups, group_name=group_by or "node", max_bins=snakemake.params.max_bins, title=snakemake.wildcards.graph
    )
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
    log.info("%d nodes, %d edges, grouped by %s", adjacency.shape[0], adjacency.nnz, group_by)
