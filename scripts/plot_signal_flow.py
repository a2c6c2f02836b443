"""z per node group, and the adjacency matrix ordered by z (rule plot_signal_flow)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import pandas as pd
import scipy.sparse as sp

from figureflow.io import node_groups, read_nodes
from figureflow.plotting.data import plot_adjacency
from figureflow.plotting.signal_flow import order_by_z, plot_values_by_group
from figureflow.plotting.style import save_figure
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import generator

with job(snakemake) as log:
    nodes = read_nodes(snakemake.input.nodes)
    summary = pd.read_csv(snakemake.input.summary, sep="\t").iloc[0]
    graph = snakemake.wildcards.graph
    group_by, groups = node_groups(nodes, snakemake.params.group_by)
    title = f"{graph}: F0 = {summary.trophic_incoherence:.3f}, downhill {summary.downhill_fraction:.1%}"
    rng = generator(snakemake.params.seed, snakemake.rule, wildcards_dict(snakemake))
    z = nodes["z"].to_numpy(dtype=float)
    fig = plot_values_by_group(z, groups, group_name=group_by or "", value_name="signal flow z", rng=rng, title=title)
    save_figure(fig, snakemake.output.groups_png, snakemake.output.groups_pdf)
    adjacency = sp.load_npz(snakemake.input.graph)
    fig = plot_adjacency(adjacency, order=order_by_z(z), order_name="z (high to low)", max_bins=snakemake.params.max_bins, title=graph)
    save_figure(fig, snakemake.output.adjacency_png, snakemake.output.adjacency_pdf)
    log.info("grouped by %s", group_by)
