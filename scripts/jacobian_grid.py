"""D(z) over the latent grid, and for maps into 3-D its image, for the figures (rule jacobian_grid)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import write_arrays
from figureflow.jacobian.measure import figure_grids
from figureflow.maps import resolve_map
from figureflow.runtime import job

with job(snakemake) as log:
    latent = resolve_map(snakemake.wildcards.map, snakemake.params.spec, snakemake.params.seed)
    grid = snakemake.params.grid
    arrays = figure_grids(latent, grid["size"], grid["extent"], grid["image_size"], n_threads=snakemake.threads)
    log.info("D over the %d-point grid: min %.4g, max %.4g", grid["size"], arrays["volume"].min(), arrays["volume"].max())
    if grid["image_size"] is not None:
        log.info("image of the %d-point grid in R^3", grid["image_size"])
    write_arrays(snakemake.output[0], **arrays)
