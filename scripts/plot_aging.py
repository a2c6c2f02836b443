"""Aging magnitudes per cell type, and the transport plan of the strongest one (rule plot_aging)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import numpy as np

from figureflow.io import read_arrays, read_table
from figureflow.plotting.aging import plot_magnitudes, plot_trajectory_cosines, plot_transport_plan
from figureflow.plotting.style import save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    dataset = snakemake.wildcards.dataset
    table = read_table(snakemake.input.magnitudes, dtype={"cell_type": str})
    save_figure(plot_magnitudes(table, title=dataset), snakemake.output.magnitudes_png, snakemake.output.magnitudes_pdf)
    cell_type = str(read_arrays(snakemake.input.plan, ["cell_type"])["cell_type"])
    if cell_type:
        plan = read_arrays(snakemake.input.plan, ["young_2d", "old_2d", "match"])
        fig = plot_transport_plan(plan["young_2d"], plan["old_2d"], plan["match"], title=f"{dataset}: {cell_type}, old to young")
    else:
        empty = np.zeros((0, 2))
        fig = plot_transport_plan(empty, empty, np.zeros(0, dtype=int), title=f"{dataset}: no cell type with a magnitude")
    save_figure(fig, snakemake.output.plan_png, snakemake.output.plan_pdf)
    trajectories = read_table(snakemake.input.trajectories, dtype={"cell_type_a": str, "cell_type_b": str})
    fig = plot_trajectory_cosines(trajectories, title=dataset)
    save_figure(fig, snakemake.output.trajectories_png, snakemake.output.trajectories_pdf)
    log.info("drew %d cell types; transport plan of %s", len(table), cell_type or "none")
