"""PCA (and UMAP) scatter coloured by cell type and age (rule plot_embedding)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.data.ingest import EMBEDDINGS, read_h5ad_annotations
from figureflow.plotting.data import plot_embedding
from figureflow.plotting.style import save_figure
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import generator

with job(snakemake) as log:
    adata = read_h5ad_annotations(snakemake.input[0], obsm=EMBEDDINGS)
    embeddings = {key[2:].upper(): adata.obsm[key] for key in EMBEDDINGS if key in adata.obsm}
    rng = generator(snakemake.params.seed, snakemake.rule, wildcards_dict(snakemake))
    fig = plot_embedding(
        embeddings, adata.obs, rng=rng, max_points=snakemake.params.max_points, title=snakemake.wildcards.dataset
    )
    save_figure(fig, snakemake.output.png, snakemake.output.pdf)
