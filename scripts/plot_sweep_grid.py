"""Mean difference over a sweep's 2-D grid (rule plot_sweep_grid)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import read_table
from figureflow.plotting.style import save_figure
from figureflow.plotting.sweeps import plot_grid_heatmap
from figureflow.runtime import job

with job(snakemake) as log:
    x, y = snakemake.params.grid
    summary = read_table(snakemake.input.summary)
    save_figure(plot_grid_heatmap(summary, x, y, title=snakemake.wildcards.sweep), snakemake.output.png, snakemake.output.pdf)
    log.info("drew a %d-point grid", len(summary))
