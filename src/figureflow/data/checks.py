"""The data layer's config sections, ``datasets`` and ``graphs``: which are simulated or
ingested, and the check of every input they name, before any job.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from figureflow.data.ingest import (
    cell_type_labels,
    check_h5ad_counts,
    check_h5ad_obs,
    check_h5ad_processed,
    read_edge_list,
    read_node_table,
)
from figureflow.data.sbm import sbm_parameters
from figureflow.io import InputError, describe

__all__ = ["simulated", "ingested", "processed", "expected_edges", "check_config"]


def simulated(config: Mapping, section: str) -> list[str]:
    """Names in ``config[section]`` (``datasets`` or ``graphs``) built by simulation (``simulate:`` or ``sbm:``)."""
    key = "simulate" if section == "datasets" else "sbm"
    return [name for name, spec in config.get(section, {}).items() if key in spec]


def processed(config: Mapping) -> list[str]:
    """Datasets read with ``processed: true``: their own X and embedding are kept, not preprocessed."""
    return [name for name, spec in config.get("datasets", {}).items() if spec.get("processed")]


def ingested(config: Mapping, section: str) -> list[str]:
    """Names in ``config[section]`` (``datasets`` or ``graphs``) read from a user's file (``h5ad:`` or ``edges:``)."""
    key = "h5ad" if section == "datasets" else "edges"
    return [name for name, spec in config.get(section, {}).items() if key in spec]


#: bytes per line of an edge list, for guessing its edge count from its size ("neuron_12<TAB>neuron_40<TAB>3")
EDGE_LINE_BYTES = 16


def expected_edges(spec: Mapping, base: str | os.PathLike = ".") -> float:
    """Edges of a configured graph before it is simulated or ingested: an SBM's expected count
    (``sum_kl n_k n_l P_kl``), an edge list's size over :data:`EDGE_LINE_BYTES` (a rough guess,
    for sizing a job). ``spec`` is the graph's section, checked by :func:`check_config`."""
    import numpy as np

    if "sbm" in spec:
        sizes, P = sbm_parameters(spec["sbm"], "graph")
        return float((np.outer(sizes, sizes) * P).sum())
    return os.path.getsize(Path(base) / spec["edges"]) / EDGE_LINE_BYTES

def check_config(config: Mapping, base: str | os.PathLike = ".", computed: Mapping | None = None) -> dict:
    """Check the ``datasets`` and ``graphs`` sections and every file they name.

    * h5ad datasets: the file reads, the obs keys exist, young/old labels occur, the cell-type
      column has values (:func:`~figureflow.data.ingest.check_h5ad_obs`), the count matrix
      holds counts (a sample of it, :func:`~figureflow.data.ingest.check_h5ad_counts`);
    * simulated datasets: one aging shift per cell type;
    * edge-list graphs: every row is valid, and so is the node table, which may not carry a
      column in ``computed`` (column -> the method that computes it);
    * SBM graphs: the block model is complete and in range;
    * ``group_by`` names a node-table column other than the node name.

    Relative paths are taken from ``base``. Returns what the checks learnt about each dataset:
    ``{"datasets": {name: {"cell_types": [sorted names], "ages": young and old known, "processed": bool,
    "shape": [cells, genes]}}}``
    (processed datasets also: ``obsm`` keys and ``x_min``, the smallest sampled ``X`` value).

    Raises
    ------
    InputError
        The first problem found, naming the file, the key, what was expected and what was found.
    """
    base = Path(base)
    datasets = {}
    for name, spec in config.get("datasets", {}).items():
        if "h5ad" in spec:
            obs = check_h5ad_obs(base / spec["h5ad"], name, spec["cell_type_key"], spec["age_key"], spec.get("young"), spec.get("old"))
            types = sorted(cell_type_labels(obs[spec["cell_type_key"]]).dropna().unique())
            genes = obs.attrs["n_raw_vars"] if spec.get("counts_layer") == "raw" and obs.attrs["n_raw_vars"] else obs.attrs["n_vars"]
            datasets[name] = {"cell_types": types, "ages": bool(spec.get("young") and spec.get("old")), "processed": False,
                              "shape": [len(obs), int(genes)]}
            if spec.get("processed"):
                datasets[name].update(check_h5ad_processed(base / spec["h5ad"], name), processed=True)
            else:
                check_h5ad_counts(base / spec["h5ad"], name, spec.get("counts_layer"), spec.get("allow_noninteger_counts", False))
        else:
            if spec.get("processed"):
                raise InputError(f"config key datasets.{name}.processed: a simulated dataset holds counts and is always preprocessed; remove the key")
            sim = spec["simulate"]
            datasets[name] = {"cell_types": [f"type_{t}" for t in range(sim["n_cell_types"])], "ages": True, "processed": False,
                              "shape": [int(sim["n_cells"]), int(sim["n_genes"])]}
            shifts = sim.get("aging_shift")
            if shifts is not None and len(shifts) != sim["n_cell_types"]:
                raise InputError(
                    f"config key datasets.{name}.simulate.aging_shift: expected {sim['n_cell_types']} "
                    f"magnitudes (one per cell type, n_cell_types), found {len(shifts)}"
                )
    for name, spec in config.get("graphs", {}).items():
        group_by = spec.get("group_by")
        if "edges" in spec:
            read_edge_list(base / spec["edges"], name, spec["source_column"], spec["target_column"], spec.get("weight_column"))
            columns = ["node"]
            if spec.get("nodes"):
                columns = list(read_node_table(base / spec["nodes"], name, spec["node_column"], computed).columns)
        else:
            sbm_parameters(spec["sbm"], name)
            columns = ["node", "block"]
        if group_by is not None and (group_by == "node" or group_by not in columns):
            raise InputError(
                f"config key graphs.{name}.group_by is '{group_by}'; expected a node-table column other than "
                f"the node name, found {describe(columns[1:])}"
            )
    return {"datasets": datasets}
