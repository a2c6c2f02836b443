"""D(z) over the latent grid, and for maps into 3-D its image, for the figures (rule jacobian_grid)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import write_arrays
from figureflow.jacobian.measure import figure_grids
from figureflow.maps import resolve_map
from figureflow.runtime import job

with job(snakemake) as log:
    latent = resolve_map(snakemake.wildcards.map, snakemake.params.spec, snakemake.params.seed)
    grid = snakemake.params.grid
    arrays = figure_grids(
        latent, grid["grid_size"], grid["grid_extent"], grid["image_grid_size"], grid["image_curve_size"], n_threads=snakemake.threads
    )
    log.info("D over the %d-point grid: min %.4g, max %.4g", grid["grid_size"], arrays["volume"].min(), arrays["volume"].max())
    if "image_points" in arrays:
        log.info("image in R^3 of a grid of shape %s", arrays["image_volume"].shape)
    write_arrays(snakemake.output[0], **arrays)
