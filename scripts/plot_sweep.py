"""The distribution of the difference over replicates, and one example dataset (rule plot_sweep)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import read_arrays, read_table
from figureflow.plotting.style import save_figure
from figureflow.plotting.sweeps import first_point, plot_difference_distribution, plot_example
from figureflow.runtime import job

with job(snakemake) as log:
    sweep, grid = snakemake.wildcards.sweep, snakemake.params.grid
    table = read_table(snakemake.input.replicates)
    at_first, where = first_point(table, grid)
    title = f"{sweep}: {len(at_first)} replicates" + (f" at {where}" if where else "") + f", mean {at_first['ari_diff'].mean():+.3f}"
    fig = plot_difference_distribution(at_first["ari_diff"].to_numpy(), title=title)
    save_figure(fig, snakemake.output.distribution_png, snakemake.output.distribution_pdf)
    ex = read_arrays(snakemake.input.example, ["X", "truth", "gmm", "kmeans", "ari_gmm", "ari_kmeans"])
    labels = {"truth": ex["truth"], "GMM": ex["gmm"], "K-means": ex["kmeans"]}
    fig = plot_example(ex["X"], labels, {"GMM": float(ex["ari_gmm"]), "K-means": float(ex["ari_kmeans"])}, title=f"{sweep}: replicate 0")
    save_figure(fig, snakemake.output.example_png, snakemake.output.example_pdf)
    log.info("drew %d replicates", len(at_first))
