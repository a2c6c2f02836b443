"""Read and validate a user's AnnData file into figureflow's standard form (rule ingest_h5ad)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import time

from figureflow.data.ingest import ingest_h5ad
from figureflow.io import write_h5ad
from figureflow.runtime import job

with job(snakemake) as log:
    start = time.perf_counter()
    spec = snakemake.params.spec
    adata = ingest_h5ad(
        snakemake.input[0],
        snakemake.wildcards.dataset,
        cell_type_key=spec["cell_type_key"],
        age_key=spec["age_key"],
        young=spec.get("young"),
        old=spec.get("old"),
        counts_layer=spec["counts_layer"],
        allow_noninteger_counts=spec["allow_noninteger_counts"],
        processed=spec["processed"],
    )
    log.info("ingested %d cells x %d genes from %s in %.1f s", adata.n_obs, adata.n_vars, snakemake.input[0], time.perf_counter() - start)
    start = time.perf_counter()
    write_h5ad(adata, snakemake.output[0])
    log.info("wrote %s in %.1f s", snakemake.output[0], time.perf_counter() - start)
