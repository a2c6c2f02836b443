"""Train one CNF run and score it; write the model, history, metrics and what its figures draw (rule cnf_train)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.data.ingest import read_h5ad_annotations
from figureflow.generative.cnf import save_model, train_run, training_data
from figureflow.io import write_arrays, write_table
from figureflow.runtime import job

with job(snakemake) as log:
    run, options, seed = snakemake.wildcards.run, snakemake.params.options, snakemake.params.seed
    path = snakemake.input.get("h5ad")
    annotations = read_h5ad_annotations(path) if path else None  # obs and the embeddings: no matrix
    data = training_data(options, seed, run, annotations, path)
    log.info("run %s: %s, %d points x %d dims (standardized: shift %.4g, scale %.4g), objective %s, trace %s, solver %s",
             run, options["data"], *data["x"].shape, data["shift"], data["scale"], options["objective"], options["trace"], options["solver"])
    out = train_run(data, options, seed, run, snakemake.params.figures, checkpoint=snakemake.params.checkpoint, threads=snakemake.threads, log=log)
    write_table(out["history"], snakemake.output.history)
    write_table(out["metrics"], snakemake.output.metrics)
    write_arrays(snakemake.output.arrays, **out["arrays"])
    save_model(snakemake.output.model, out["field"], options, {"shift": data["shift"], "scale": data["scale"]})
