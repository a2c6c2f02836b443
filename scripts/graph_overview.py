"""Adjacency heatmap ordered by group, and edge densities per group pair (rule graph_overview)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.data.sbm import group_pair_table, sbm_parameters
from figureflow.io import node_groups, read_graph_files, write_table
from figureflow.plotting.data import plot_adjacency
from figureflow.plotting.style import save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    adjacency, nodes = read_graph_files(snakemake.input.graph, snakemake.input.nodes)
    group_by, groups = node_groups(nodes, snakemake.params.group_by)
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
