"""Reading, validating and writing files, with errors that say what to fix.

Every problem with a user's input is raised as :class:`InputError`, whose message names the
file, the config key or column, what was expected and what was found. The workflow checks
inputs when it parses the config, so a bad input stops the run before any job starts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

__all__ = [
    "InputError",
    "describe",
    "atomic_output",
    "write_table",
    "sep_for",
    "read_table_checked",
    "write_h5ad",
    "write_graph",
    "read_graph_files",
    "read_nodes",
    "node_groups",
]


class InputError(ValueError):
    """A user-supplied file or config value is unusable; the message says what to fix."""


def describe(values: Iterable[object], limit: int = 12) -> str:
    """``'a', 'b', 'c'`` (at most ``limit`` items, then ``... (N in all)``)."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... ({len(values)} in all)"
    return shown or "(none)"


@contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    A failure never leaves a half-written file at ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` as tab-separated text, no index, ``\\n`` line ends, empty string for NA.

    Floats are written with Python's shortest round-trip repr, so equal numbers give equal
    bytes, and the file is replaced atomically.
    """
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, na_rep="", lineterminator="\n")


def sep_for(path: str | os.PathLike) -> str:
    """Column separator from the file name: ``,`` for ``.csv`` (also gzipped), else tab."""
    name = str(path).lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def read_table_checked(
    path: str | os.PathLike, required: Iterable[str], what: str, key: str | None = None
) -> pd.DataFrame:
    """Read a CSV/TSV file as strings and check that it has the ``required`` columns.

    Parameters
    ----------
    path
        The file; ``.csv`` is comma-separated, anything else tab-separated.
    required
        Column names that must be present.
    what
        What the file is, for messages (``"edge list"``).
    key
        The config key that named the file, for messages.

    Raises
    ------
    InputError
        If the file is missing, unreadable, empty, or lacks a required column (the message
        lists the columns it does have).
    """
    where = f" (config key {key})" if key else ""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file '{path}'{where} does not exist")
    try:
        frame = pd.read_csv(path, sep=sep_for(path), dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} file '{path}'{where} is empty: expected a header line") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} file '{path}'{where} could not be parsed as a table: {exc}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} file '{path}'{where}: expected column(s) {describe(missing)}, "
            f"found columns {describe(frame.columns)}"
        )
    return frame


def write_h5ad(adata, path: str | os.PathLike) -> None:
    """Write an AnnData file atomically (gzip-compressed matrices)."""
    with atomic_output(path) as tmp:
        adata.write_h5ad(tmp, compression="gzip")


def write_graph(adjacency, nodes: pd.DataFrame, graph_path: str | os.PathLike, nodes_path: str | os.PathLike) -> None:
    """Write a graph: CSR adjacency as ``.npz`` (scipy) and its node table as TSV.

    ``nodes`` has one row per node, in adjacency order, with column ``node`` first.
    """
    import scipy.sparse as sp

    if adjacency.shape[0] != len(nodes):
        raise ValueError(f"adjacency has {adjacency.shape[0]} nodes but the node table {len(nodes)} rows")
    with atomic_output(graph_path) as tmp:
        sp.save_npz(tmp, sp.csr_matrix(adjacency), compressed=True)
    write_table(nodes, nodes_path)


def read_graph_files(graph_path: str | os.PathLike, nodes_path: str | os.PathLike):
    """Read a graph written by :func:`write_graph`: ``(csr_matrix, node DataFrame)``.

    Node names are read as strings; other node columns get pandas' inferred types.
    """
    import scipy.sparse as sp

    return sp.load_npz(graph_path).tocsr(), read_nodes(nodes_path)


def read_nodes(path: str | os.PathLike) -> pd.DataFrame:
    """A per-node TSV written by figureflow: ``node`` as strings, empty cells as NA, other types inferred."""
    return pd.read_csv(path, sep="\t", dtype={"node": str}, keep_default_na=False, na_values=[""])


def node_groups(nodes: pd.DataFrame, group_by: str | None = None, skip=("node", "z", "component")):
    """The column that groups the nodes, and each node's group.

    ``group_by`` if given, else the first column not in ``skip`` (``block`` for an SBM, the node
    table's first column for an edge list), else no grouping. Nodes with no value are grouped as
    ``"(none)"``.

    Returns
    -------
    (name, groups) : the column name and an array with one group per node, or ``(None, None)``

    Raises
    ------
    InputError
        If ``group_by`` is not a column (the message lists the columns).
    """
    if group_by is None:
        candidates = [c for c in nodes.columns if c not in skip]
        if not candidates:
            return None, None
        group_by = candidates[0]
    if group_by not in nodes.columns:
        raise InputError(f"group_by is '{group_by}', which is not a node-table column; columns are {describe(nodes.columns)}")
    column = nodes[group_by]
    if column.isna().any():
        column = column.astype("string").fillna("(none)")
    return group_by, column.to_numpy()
