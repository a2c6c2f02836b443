"""A user's graph: an edge list and an optional node table, checked row by row, made into a sparse adjacency.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import scipy.sparse as sp

from figureflow.io import InputError, describe, read_table_checked, warn_input

__all__ = ["read_edge_list", "read_node_table", "edges_to_graph", "read_graph"]


def _node_names(frame: pd.DataFrame, column: str, path, what: str) -> pd.Series:
    """A column of node names with surrounding whitespace removed (a console warning says so)."""
    names = frame[column]
    stripped = names.str.strip()
    changed = stripped != names
    if changed.any():
        line = frame.index[int(np.flatnonzero(changed.to_numpy())[0])]
        warn_input(
            f"{what} '{path}': {int(changed.sum())} name(s) in column '{column}' had leading or trailing "
            f"whitespace, which was removed (first: line {line}, {names[line]!r}); names that differ only "
            "by surrounding whitespace are the same node"
        )
    empty = stripped == ""
    if empty.any():
        line = frame.index[int(np.flatnonzero(empty.to_numpy())[0])]
        raise InputError(f"{what} '{path}', line {line}: column '{column}' is empty; expected a node name")
    return stripped


def read_edge_list(
    path: str | os.PathLike,
    graph: str,
    source_column: str = "source",
    target_column: str = "target",
    weight_column: str | None = None,
) -> pd.DataFrame:
    """Read and validate an edge list (CSV or TSV with a header line).

    Parameters
    ----------
    path
        ``.csv`` is comma-separated, anything else tab-separated.
    graph
        The graph's name, for messages.
    source_column, target_column
        Columns naming each edge's source and target node. Surrounding whitespace is removed from
        names (with a console warning), so ``"A "`` and ``"A"`` are one node.
    weight_column
        Column of edge weights, which must then exist; ``None``: the column ``weight`` if the file
        has one, else every weight is 1.

    Returns
    -------
    pandas.DataFrame
        Columns ``source``, ``target`` (str) and ``weight`` (float64), one row per line.

    Raises
    ------
    InputError
        Naming file and line, for: a missing column (also a ``weight_column`` set but absent), no
        rows at all, a line with too many or too few fields, an empty source or target, a weight
        that is not a number, NaN, infinite or negative.
    """
    key = f"graphs.{graph}.edges"
    frame = read_table_checked(path, [source_column, target_column], "edge list", key)
    if weight_column is not None and weight_column not in frame.columns:
        raise InputError(
            f"edge list '{path}': config key graphs.{graph}.weight_column is '{weight_column}', which is not a "
            f"column; columns are {describe(frame.columns)} (remove the key to give every edge weight 1)"
        )
    if frame.empty:
        raise InputError(f"edge list '{path}' (config key {key}) has a header but no edges: the graph would be empty")
    source = _node_names(frame, source_column, path, "edge list")
    target = _node_names(frame, target_column, path, "edge list")
    column = weight_column if weight_column is not None else ("weight" if "weight" in frame.columns else None)
    if column is not None:
        raw = frame[column].str.strip()
        weight = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(weight)
        not_number = bad & ~raw.str.lower().isin(["nan", "-nan", "+nan"]).to_numpy()
        lines = frame.index
        if not_number.any():
            i = int(np.flatnonzero(not_number)[0])
            raise InputError(
                f"edge list '{path}', line {lines[i]}: column '{column}' must be a number, "
                f"found {frame[column].iloc[i]!r}"
            )
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"edge list '{path}', line {lines[i]}: column '{column}' is NaN; expected a finite weight >= 0")
        if np.isinf(weight).any():
            i = int(np.flatnonzero(np.isinf(weight))[0])
            raise InputError(f"edge list '{path}', line {lines[i]}: column '{column}' is infinite; expected a finite weight >= 0")
        if (weight < 0).any():
            i = int(np.flatnonzero(weight < 0)[0])
            raise InputError(
                f"edge list '{path}', line {lines[i]}: column '{column}' must be >= 0, "
                f"found {weight[i]:g} (signal flow needs non-negative weights)"
            )
    else:
        weight = np.ones(len(frame))
    return pd.DataFrame({"source": source.to_numpy(), "target": target.to_numpy(), "weight": weight})


def read_node_table(
    path: str | os.PathLike, graph: str, node_column: str = "node", computed: dict | None = None
) -> pd.DataFrame:
    """Read a node table (CSV/TSV keyed by ``node_column``); return it with that column named ``node``.

    Node names lose surrounding whitespace (with a console warning). ``computed`` maps the
    name of every per-node column that figureflow computes (e.g. ``z``) to what computes it;
    a node-table column of such a name is refused, since carrying it would replace the result.

    Raises
    ------
    InputError
        If the key column is missing, has empty names or repeats a name (after removing
        whitespace); a column name repeats; another column is called ``node``; or a column has
        the name of a computed column.
    """
    key = f"graphs.{graph}.nodes"
    frame = read_table_checked(path, [node_column], "node table", key)
    if node_column != "node" and "node" in frame.columns:
        raise InputError(
            f"node table '{path}' (config key {key}): has a column 'node' besides the node names in "
            f"'{node_column}' (graphs.{graph}.node_column); figureflow names the node column 'node', so rename the "
            "other one, or set node_column: node"
        )
    for column in frame.columns:
        if column != node_column and column in (computed or {}):
            raise InputError(
                f"node table '{path}' (config key {key}): column '{column}' has the name of a per-node column "
                f"that figureflow computes ({computed[column]}); carrying it would replace the result, so rename it "
                f"(reserved names: {describe(sorted(computed))})"
            )
    names = _node_names(frame, node_column, path, "node table")
    dup = names.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(f"node table '{path}', line {frame.index[i]}: node {names.iloc[i]!r} appears more than once")
    frame = frame.assign(**{node_column: names}).rename(columns={node_column: "node"}).reset_index(drop=True)
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


def read_graph(spec: dict, graph: str, computed: dict | None = None) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Adjacency and node frame of an ingested graph from its config section (``edges:``, ``nodes:``, columns).

    ``computed``: the per-node columns figureflow computes (see :func:`read_node_table`).
    """
    edges = read_edge_list(
        spec["edges"], graph, spec["source_column"], spec["target_column"], spec.get("weight_column")
    )
    nodes = read_node_table(spec["nodes"], graph, spec["node_column"], computed) if spec.get("nodes") else None
    return edges_to_graph(edges, nodes)
