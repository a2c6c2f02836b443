"""The image of the latent grid in 3-D data space, coloured by D (rule plot_jacobian_image)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import read_arrays
from figureflow.plotting.jacobian import plot_image_coloured
from figureflow.plotting.style import save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    grid = read_arrays(snakemake.input.grid, ["image_points", "image_volume"])
    fig = plot_image_coloured(grid["image_points"], grid["image_volume"], title=snakemake.wildcards.map)
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
    log.info("drew %d grid points", grid["image_volume"].size)
