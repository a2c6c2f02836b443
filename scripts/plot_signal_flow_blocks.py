"""Mean signal flow per SBM block against block index (rule plot_signal_flow_blocks)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
from figureflow.io import read_nodes
from figureflow.plotting.signal_flow import plot_group_means
from figureflow.plotting.style import save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    nodes = read_nodes(snakemake.input.nodes)
    fig = plot_group_means(nodes["z"].to_numpy(), nodes["block"].to_numpy(), "block", "signal flow z", title=snakemake.wildcards.graph)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
    means = nodes.groupby("block")["z"].mean()
    log.info("mean z per block: %s", means.round(4).to_dict())
