"""Error against sample size, and D(z) over the latent grid (rule plot_jacobian)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import pandas as pd

from figureflow.jacobian.maps import map_from_config
from figureflow.jacobian.measure import latent_grid
from figureflow.plotting import plot_error_vs_n, plot_volume_grid, save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    name = snakemake.wildcards.map
    table = pd.read_csv(snakemake.input.estimates, sep="\t")
    exact = table["exact"].iloc[0]
    title = f"{name}: E[D] = {exact:.6g}" if pd.notna(exact) else f"{name}: E[D] unknown"
    save_figure(plot_error_vs_n(table, title=title), snakemake.output.error_png, snakemake.output.error_pdf)
    latent = map_from_config(name, snakemake.params.spec, snakemake.params.seed)
    axis, values, _ = latent_grid(latent, snakemake.params.grid_size, snakemake.params.grid_extent)
    save_figure(plot_volume_grid(axis, values, latent.d, title=name), snakemake.output.volume_png, snakemake.output.volume_pdf)
    log.info("D over the grid: min %.4g, max %.4g", values.min(), values.max())
