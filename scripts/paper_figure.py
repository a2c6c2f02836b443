"""One method's paper figure, its legend and its source data, from the method's tables (rule paper_figure)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

import importlib
import json
from pathlib import Path

from figureflow.io import atomic_output, write_table
from figureflow.plotting.paper import layout_problems, legend_html, legend_markdown, paper_style, save_paper_figure, write_source_data
from figureflow.provenance import provenance_keywords
from figureflow.runtime import job

with job(snakemake) as log:
    method, out = snakemake.wildcards.method, snakemake.output
    record = json.loads(Path(snakemake.input.provenance).read_text())
    draw = importlib.import_module(f"figureflow.plotting.{method}").paper_figure  # each method's panels live in its plotting module
    with paper_style():
        figure = draw(snakemake.input, dict(snakemake.params.options))
        fig = figure.finish()
        problems = layout_problems(fig)
    for problem in problems:  # a user's own data can make labels collide; say where, and draw anyway
        log.warning("figure_%s: %s", method, problem)
    save_paper_figure(fig, out.pdf, out.png, method, record)
    write_source_data(out.source_data, figure.data)
    provenance = provenance_keywords(record)
    with atomic_output(out.legend) as tmp:
        tmp.write_text(legend_markdown(figure.title, figure.sentences, provenance))
    with atomic_output(out.legend_html) as tmp:
        tmp.write_text(legend_html(figure.title, figure.sentences, provenance))
    write_table(figure.headline_table(), out.headlines)
    log.info("figure_%s: %s panels, %.0f x %.0f mm, %d layout problem(s)", method, ", ".join(figure.letters), figure.width_mm, figure.height_mm, len(problems))
