"""Error against sample size, and D(z) over the latent grid (rule plot_jacobian)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import pandas as pd

from figureflow.io import read_arrays
from figureflow.plotting.jacobian import plot_error_vs_n, plot_volume_grid
from figureflow.plotting.style import save_figure
from figureflow.runtime import job

with job(snakemake) as log:
    name = snakemake.wildcards.map
    table = pd.read_csv(snakemake.input.estimates, sep="\t")
    exact = table["exact"].iloc[0]
    title = f"{name}: E[D] = {exact:.6g}" if pd.notna(exact) else f"{name}: E[D] unknown"
    save_figure(plot_error_vs_n(table, title=title), snakemake.output.error_png, snakemake.output.error_pdf)
    grid = read_arrays(snakemake.input.grid, ["axis", "volume", "latent_dim"])
    fig = plot_volume_grid(grid["axis"], grid["volume"], int(grid["latent_dim"]), title=name)
    save_figure(fig, snakemake.output.volume_png, snakemake.output.volume_pdf)
    log.info("drew %d estimates and a %d-point grid", len(table), grid["volume"].size)
