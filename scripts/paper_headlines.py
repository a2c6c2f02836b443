"""Every paper figure's headline numbers in one table, and as HTML for the report (rule paper_headlines)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

import json
from pathlib import Path

import pandas as pd

from figureflow.io import atomic_output, read_table, write_table
from figureflow.plotting.paper import headlines_html
from figureflow.provenance import provenance_keywords
from figureflow.runtime import job

with job(snakemake) as log:
    table = pd.concat([read_table(path, dtype={"note": str, "interval": str, "quantity": str}) for path in snakemake.input.tables],
                      ignore_index=True)
    table[["interval", "note"]] = table[["interval", "note"]].fillna("")
    write_table(table, snakemake.output.table)
    record = json.loads(Path(snakemake.input.provenance).read_text())
    with atomic_output(snakemake.output.html) as tmp:
        tmp.write_text(headlines_html(table, provenance_keywords(record)))
    log.info("%d headline numbers from %d figures", len(table), len(snakemake.input.tables))
