"""Bring a user's AnnData file or edge list into figureflow's standard form, or say what is wrong.

Two inputs, a module each: :mod:`figureflow.data.h5ad` (an AnnData file) and
:mod:`figureflow.data.edges` (an edge list and node table); this module re-exports their public
names, which callers import from here. Checks are split so that the cheap ones (file exists, obs
keys and labels, edge list rows) can run while the workflow parses its config, before any job
starts; the check of the count matrix itself runs in the ingestion job.
"""

from __future__ import annotations

from figureflow.data.edges import (
    edges_to_graph,
    read_edge_list,
    read_graph,
    read_node_table,
)
from figureflow.data.h5ad import (
    COMPUTED_OBS_COLUMNS,
    COUNT_SAMPLE,
    EMBEDDINGS,
    RAW,
    cell_type_labels,
    check_count_values,
    check_h5ad_counts,
    check_h5ad_obs,
    check_h5ad_processed,
    ingest_h5ad,
    matrix_sample,
    open_h5ad,
    read_h5ad_annotations,
    read_h5ad_parts,
)

__all__ = [
    "open_h5ad",
    "read_h5ad_annotations",
    "read_h5ad_parts",
    "matrix_sample",
    "COMPUTED_OBS_COLUMNS",
    "EMBEDDINGS",
    "check_h5ad_processed",
    "check_h5ad_obs",
    "check_h5ad_counts",
    "check_count_values",
    "ingest_h5ad",
    "read_edge_list",
    "read_node_table",
    "edges_to_graph",
    "read_graph",
    "cell_type_labels",
    "RAW",
    "COUNT_SAMPLE",
]
