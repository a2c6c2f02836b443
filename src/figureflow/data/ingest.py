"""Bring a user's AnnData file or edge list into figureflow's standard form, or say what is wrong.

Checks are split so that the cheap ones (file exists, obs keys and labels, edge list rows) can
run while the workflow parses its config, before any job starts; the check of the count
matrix itself runs in the ingestion job.
"""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from figureflow.io import InputError, describe, read_table_checked

__all__ = [
    "check_h5ad_obs",
    "ingest_h5ad",
    "read_edge_list",
    "read_node_table",
    "edges_to_graph",
    "read_graph",
]


def _read_h5ad_obs(path: Path, key: str) -> pd.DataFrame:
    if not path.is_file():
        raise InputError(f"h5ad file '{path}' (config key {key}) does not exist")
    try:
        backed = ad.read_h5ad(path, backed="r")
    except Exception as exc:  # anndata/h5py raise many types for a corrupt file
        raise InputError(f"h5ad file '{path}' (config key {key}) could not be read as AnnData: {exc}") from None
    try:
        return backed.obs.copy()
    finally:
        backed.file.close()


def check_h5ad_obs(
    path: str | os.PathLike,
    dataset: str,
    cell_type_key: str = "cell_type",
    age_key: str = "age",
    young=None,
    old=None,
    require_age: bool = False,
) -> pd.DataFrame:
    """Check an h5ad file's cell annotations against its dataset config; return its obs.

    Reads only ``obs`` (the matrix stays on disk). The age column and labels are checked when
    ``young`` or ``old`` is given, or when ``require_age`` is true.

    Raises
    ------
    InputError
        If the file is missing or unreadable, ``cell_type_key`` or ``age_key`` is not an obs
        column (the message lists those that are), or a young/old label never occurs (the
        message lists the labels that do), or a label is both young and old.
    """
    base = f"datasets.{dataset}"
    path = Path(path)
    obs = _read_h5ad_obs(path, f"{base}.h5ad")
    if cell_type_key not in obs.columns:
        raise InputError(
            f"h5ad file '{path}': config key {base}.cell_type_key is '{cell_type_key}', "
            f"which is not an obs column; obs columns are {describe(obs.columns)}"
        )
    if young is None and old is None and not require_age:
        return obs
    if age_key not in obs.columns:
        raise InputError(
            f"h5ad file '{path}': config key {base}.age_key is '{age_key}', "
            f"which is not an obs column; obs columns are {describe(obs.columns)}"
        )
    present = pd.unique(obs[age_key].dropna().astype(str))
    for side, labels in (("young", young), ("old", old)):
        if not labels:
            raise InputError(
                f"dataset '{dataset}': config key {base}.{side} must list the {age_key!r} labels of "
                f"{side} cells; labels in the file are {describe(sorted(present))}"
            )
        absent = [str(v) for v in labels if str(v) not in set(present)]
        if absent:
            raise InputError(
                f"h5ad file '{path}': config key {base}.{side} lists {describe(absent)}, which never "
                f"occur in obs column '{age_key}'; labels there are {describe(sorted(present))}"
            )
    both = sorted({str(v) for v in young} & {str(v) for v in old})
    if both:
        raise InputError(f"dataset '{dataset}': labels {describe(both)} are in both {base}.young and {base}.old")
    return obs


def ingest_h5ad(
    path: str | os.PathLike,
    dataset: str,
    cell_type_key: str = "cell_type",
    age_key: str = "age",
    young=None,
    old=None,
    counts_layer: str | None = None,
    require_age: bool = False,
) -> ad.AnnData:
    """Read a user's h5ad file into figureflow's standard form.

    The result has raw counts in ``X`` (CSR, taken from ``layers[counts_layer]`` if given),
    obs column ``cell_type`` (a copy of ``cell_type_key``) and, when young/old labels are
    given, ``age`` with categories ``young``/``old`` (NA for other labels; if the file's
    own age column was called ``age``, its labels move to ``age_label``). All other obs
    and var columns are kept.

    Raises
    ------
    InputError
        Everything :func:`check_h5ad_obs` raises; a missing ``counts_layer`` (listing the
        layers there are); counts that are not finite or are negative.
    """
    base = f"datasets.{dataset}"
    check_h5ad_obs(path, dataset, cell_type_key, age_key, young, old, require_age)
    adata = ad.read_h5ad(path)
    if counts_layer is not None:
        if counts_layer not in adata.layers:
            raise InputError(
                f"h5ad file '{path}': config key {base}.counts_layer is '{counts_layer}', which is not a "
                f"layer; layers are {describe(adata.layers.keys())}"
            )
        counts = adata.layers[counts_layer]
        where = f"layers['{counts_layer}']"
    else:
        counts = adata.X
        where = "X"
    if counts is None:
        raise InputError(f"h5ad file '{path}': {where} is empty; set {base}.counts_layer to the layer holding counts")
    counts = sp.csr_matrix(counts)
    values = counts.data
    if not np.issubdtype(values.dtype, np.number):
        raise InputError(f"h5ad file '{path}': {where} must hold numeric counts, found dtype {values.dtype}")
    if not np.all(np.isfinite(values)):
        n_bad = int(np.sum(~np.isfinite(values)))
        raise InputError(
            f"h5ad file '{path}': {where} must hold finite counts, found {n_bad} NaN or infinite value(s)"
        )
    if values.size and values.min() < 0:
        raise InputError(
            f"h5ad file '{path}': {where} must hold non-negative counts, found minimum {values.min()}; "
            f"if X is normalized, set {base}.counts_layer to the layer with raw counts"
        )
    out = ad.AnnData(X=counts, obs=adata.obs.copy(), var=adata.var.copy(), obsm=dict(adata.obsm))
    out.obs["cell_type"] = pd.Categorical(adata.obs[cell_type_key].astype(str))
    if young is not None or old is not None or require_age:
        labels = adata.obs[age_key].astype(str).where(adata.obs[age_key].notna())
        if age_key == "age":
            out.obs["age_label"] = adata.obs[age_key]
        age = pd.Series(pd.NA, index=adata.obs_names, dtype=object)
        age[labels.isin([str(v) for v in young])] = "young"
        age[labels.isin([str(v) for v in old])] = "old"
        out.obs["age"] = pd.Categorical(age, categories=["young", "old"])
    out.uns["figureflow"] = {"source": str(path), "cell_type_key": cell_type_key, "age_key": age_key}
    return out


def _line_of(row_index: int) -> int:
    """File line number of a data row (line 1 is the header)."""
    return int(row_index) + 2


def read_edge_list(
    path: str | os.PathLike,
    graph: str,
    source_column: str = "source",
    target_column: str = "target",
    weight_column: str | None = "weight",
) -> pd.DataFrame:
    """Read and validate an edge list (CSV or TSV with a header line).

    Parameters
    ----------
    path
        ``.csv`` is comma-separated, anything else tab-separated.
    graph
        The graph's name, for messages.
    source_column, target_column
        Columns naming each edge's source and target node.
    weight_column
        Column of edge weights; if the file has no such column every weight is 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``target`` (str) and ``weight`` (float64), one row per line.

    Raises
    ------
    InputError
        Naming file and line, for: a missing column, no rows at all, an empty source or target, a
        weight that is not a number, NaN, infinite or negative.
    """
    key = f"graphs.{graph}.edges"
    frame = read_table_checked(path, [source_column, target_column], "edge list", key)
    if frame.empty:
        raise InputError(f"edge list '{path}' (config key {key}) has a header but no edges: the graph would be empty")
    for column in (source_column, target_column):
        empty = frame[column].str.strip() == ""
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise InputError(f"edge list '{path}', line {_line_of(i)}: column '{column}' is empty; expected a node name")
    if weight_column is not None and weight_column in frame.columns:
        raw = frame[weight_column].str.strip()
        weight = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(weight)
        not_number = bad & ~raw.str.lower().isin(["nan", "-nan", "+nan"]).to_numpy()
        if not_number.any():
            i = int(np.flatnonzero(not_number)[0])
            raise InputError(
                f"edge list '{path}', line {_line_of(i)}: column '{weight_column}' must be a number, "
                f"found {frame[weight_column].iloc[i]!r}"
            )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"edge list '{path}', line {_line_of(i)}: column '{weight_column}' is NaN; expected a finite weight >= 0")
        if np.isinf(weight).any():
            i = int(np.flatnonzero(np.isinf(weight))[0])
            raise InputError(f"edge list '{path}', line {_line_of(i)}: column '{weight_column}' is infinite; expected a finite weight >= 0")
        if (weight < 0).any():
            i = int(np.flatnonzero(weight < 0)[0])
            raise InputError(
                f"edge list '{path}', line {_line_of(i)}: column '{weight_column}' must be >= 0, "
                f"found {weight[i]:g} (signal flow needs non-negative weights)"
            )
    else:
        weight = np.ones(len(frame))
    return pd.DataFrame(
        {"source": frame[source_column].to_numpy(), "target": frame[target_column].to_numpy(), "weight": weight}
    )


def read_node_table(path: str | os.PathLike, graph: str, node_column: str = "node") -> pd.DataFrame:
    """Read a node table (CSV/TSV keyed by ``node_column``); return it with that column named ``node``.

    Raises
    ------
    InputError
        If the key column is missing, has empty names or repeats a name.
    """
    frame = read_table_checked(path, [node_column], "node table", f"graphs.{graph}.nodes")
    names = frame[node_column]
    if (names.str.strip() == "").any():
        i = int(np.flatnonzero((names.str.strip() == "").to_numpy())[0])
        raise InputError(f"node table '{path}', line {_line_of(i)}: column '{node_column}' is empty")
    dup = names.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"node table '{path}', line {_line_of(i)}: node {names.iloc[i]!r} appears more than once")
    frame = frame.rename(columns={node_column: "node"})
    return frame[["node"] + [c for c in frame.columns if c != "node"]]


def edges_to_graph(edges: pd.DataFrame, nodes: pd.DataFrame | None = None) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Sparse adjacency from an edge table; duplicate edges are summed.

    Node order: the node table's rows first (if given), then nodes seen only in the edge
    list, in order of first appearance. Node-table columns are carried; nodes absent from the
    table get empty values.

    Returns
    -------
    adjacency : scipy.sparse.csr_matrix, (n, n) float64, ``A[i, j]`` = weight of ``i -> j``.
    node_frame : pandas.DataFrame with column ``node`` first, then the node table's columns.
    """
    endpoints = pd.unique(np.concatenate([edges["source"].to_numpy(), edges["target"].to_numpy()]))
    if nodes is not None:
        known = pd.Index(nodes["node"])
        extra = endpoints[~pd.Index(endpoints).isin(known)]
        names = pd.Index(np.concatenate([known.to_numpy(dtype=object), extra.astype(object)]))
        node_frame = pd.concat([nodes, pd.DataFrame({"node": extra})], ignore_index=True)
    else:
        names = pd.Index(endpoints)
        node_frame = pd.DataFrame({"node": names.to_numpy()})
    src = names.get_indexer(edges["source"])
    dst = names.get_indexer(edges["target"])
    n = len(names)
    A = sp.coo_matrix((edges["weight"].to_numpy(dtype=float), (src, dst)), shape=(n, n)).tocsr()
    A.sum_duplicates()
    A.sort_indices()
    return A, node_frame


def read_graph(spec: dict, graph: str) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Adjacency and node frame of an ingested graph from its config section (``edges:``, ``nodes:``, columns)."""
    edges = read_edge_list(
        spec["edges"], graph, spec["source_column"], spec["target_column"], spec["weight_column"]
    )
    nodes = read_node_table(spec["nodes"], graph, spec["node_column"]) if spec.get("nodes") else None
    return edges_to_graph(edges, nodes)
