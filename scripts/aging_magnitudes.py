"""Every cell type's aging magnitude in one table, and the transport plan of the strongest (rule aging_magnitudes)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.aging import (
    cell_type_stream,
    embedding_by_age,
    gather_bootstraps,
    gather_magnitudes,
    planted_shifts,
    strongest_cell_type,
    transport_plan,
)
from figureflow.data.ingest import read_h5ad_annotations
from figureflow.io import read_table, write_arrays, write_table
from figureflow.runtime import job

with job(snakemake) as log:
    o, dataset = snakemake.params.options, snakemake.wildcards.dataset
    adata = read_h5ad_annotations(snakemake.input.h5ad)  # every obsm key (small): an error can list them
    table = gather_magnitudes([read_table(f, dtype={"cell_type": str}) for f in snakemake.input.magnitudes], planted_shifts(adata))
    write_table(table, snakemake.output.magnitudes)
    bootstraps = gather_bootstraps([read_table(f, dtype={"cell_type": str}) for f in snakemake.input.bootstraps])
    write_table(bootstraps, snakemake.output.bootstraps)
    strongest = strongest_cell_type(table)
    arrays = {"cell_type": strongest or ""}
    if strongest is not None:
        young, old = embedding_by_age(adata, dataset, strongest, o["embedding"], o["n_dims"])
        arrays.update(transport_plan(young, old, cell_type_stream(snakemake.params.seed, dataset, strongest), o["n_per_sample"], o["sampling"]))
    write_arrays(snakemake.output.plan, **arrays)
    log.info("%d cell types, %d with a magnitude; strongest: %s", len(table), int((table["status"] == "ok").sum()), strongest)
