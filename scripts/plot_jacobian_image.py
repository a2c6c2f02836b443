"""The image of the latent grid in 3-D data space, coloured by D (rule plot_jacobian_image)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.jacobian.maps import map_from_config
from figureflow.jacobian.measure import latent_grid
from figureflow.plotting import plot_image_coloured, save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    name = snakemake.wildcards.map
    latent = map_from_config(name, snakemake.params.spec, snakemake.params.seed)
    size = 241 if latent.d == 1 else 61
    axis, values, points = latent_grid(latent, size, snakemake.params.grid_extent)
    save_figure(plot_image_coloured(points, values, title=name), snakemake.output.png, snakemake.output.pdf)
    log.info("drew %d grid points", values.size)
