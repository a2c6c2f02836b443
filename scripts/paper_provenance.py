"""What made the paper figures: version, commit, config digest, seed, packages (rule paper_provenance)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

import json

from figureflow.io import atomic_output
from figureflow.runtime import job

with job(snakemake) as log:
    record = dict(snakemake.params.record)
    with atomic_output(snakemake.output[0]) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    log.info("figureflow %s, commit %s, config sha256 %s, seed %s", record["figureflow"], record["commit"], record["config_sha256"], record["seed"])
