"""z per node group, and the adjacency matrix ordered by z (rule plot_signal_flow)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import numpy as np
import pandas as pd
import scipy.sparse as sp

from figureflow.plotting import plot_adjacency, plot_values_by_group, save_figure
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import generator

with job(snakemake) as log:
    nodes = pd.read_csv(snakemake.input.nodes, sep="\t", dtype={"node": str}, keep_default_na=False, na_values=[""])
    summary = pd.read_csv(snakemake.input.summary, sep="\t").iloc[0]
    graph = snakemake.wildcards.graph
    group_by = snakemake.params.group_by
    extra = [c for c in nodes.columns if c not in ("node", "z", "component")]
    if group_by is None and extra:
        group_by = extra[0]
    groups = nodes[group_by].to_numpy() if group_by else None
    title = f"{graph}: F0 = {summary.trophic_incoherence:.3f}, downhill {summary.downhill_fraction:.1%}"
    rng = generator(snakemake.params.seed, snakemake.rule, wildcards_dict(snakemake))
    fig = plot_values_by_group(nodes["z"].to_numpy(), groups, group_name=group_by or "", value_name="signal flow z", rng=rng, title=title)
    save_figure(fig, snakemake.output.groups_png, snakemake.output.groups_pdf)
    # highest z (sources) first; isolated nodes (no z) last
    z = nodes["z"].to_numpy(dtype=float)
    order = np.lexsort((np.arange(z.size), -np.nan_to_num(z, nan=-np.inf)))
    adjacency = sp.load_npz(snakemake.input.graph)
    fig = plot_adjacency(adjacency, order=order, order_name="z (high to low)", max_bins=snakemake.params.max_bins, title=graph)
    save_figure(fig, snakemake.output.adjacency_png, snakemake.output.adjacency_pdf)
    log.info("grouped by %s", group_by)
