"""Reading, validating and writing files, with errors that say what to fix.

Every problem with a user's input is raised as :class:`InputError`, whose message names the
file, the config key or column, what was expected and what was found. The workflow checks
inputs when it parses the config, so a bad input stops the run before any job starts.
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import warnings
from collections.abc import Iterable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "InputError",
    "RunError",
    "InputWarning",
    "warn_input",
    "carry_columns",
    "describe",
    "current_umask",
    "temporary_siblings",
    "atomic_output",
    "write_table",
    "fast_tsv_chunks",
    "read_table",
    "sep_for",
    "read_table_checked",
    "write_h5ad",
    "write_graph",
    "write_arrays",
    "read_arrays",
    "read_graph_files",
    "read_nodes",
    "node_groups",
]


class InputError(ValueError):
    """A user-supplied file or config value is unusable; the message says what to fix."""


class RunError(RuntimeError):
    """A job stopped for a reason that one sentence states and a setting can change (a training that
    diverged, a solve past its budget). The workflow prints it on the console like an
    :class:`InputError`; the job writes none of its outputs."""


class InputWarning(UserWarning):
    """A user-supplied input was used, but not quite as given (the message says how).

    The workflow prints these on the console, during its checks and from inside jobs.
    """


def warn_input(message: str) -> None:
    """Issue an :class:`InputWarning` (shown on the console by the workflow)."""
    warnings.warn(message, InputWarning, stacklevel=2)


def carry_columns(computed: pd.DataFrame, carried: pd.DataFrame, key: str = "node", what: str = "node table") -> pd.DataFrame:
    """``computed`` followed by every column of ``carried`` except ``key``; rows are matched by position.

    A carried column never replaces a computed one: figureflow refuses such node tables before
    any job (:func:`figureflow.config.check_inputs`), and this raises if one gets this far.

    Raises
    ------
    ValueError
        If the frames differ in length, or a carried column has the name of a computed one.
    """
    if len(computed) != len(carried):
        raise ValueError(f"{what} has {len(carried)} rows for {len(computed)} computed rows")
    clash = [c for c in carried.columns if c != key and c in computed.columns]
    if clash:
        raise ValueError(
            f"{what} column(s) {describe(clash)} have the name of a column figureflow computes; "
            "rename them in the node table"
        )
    frame = computed.copy()
    for column in carried.columns:
        if column != key:
            frame[column] = carried[column].to_numpy()
    return frame


def describe(values: Iterable[object], limit: int = 12) -> str:
    """``'a', 'b', 'c'`` (at most ``limit`` items, then ``... (N in all)``)."""
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    if len(values) > limit:
        shown += f", ... ({len(values)} in all)"
    return shown or "(none)"


TEMP_MARK = "fftmp"


def current_umask() -> int:
    """The process's file-creation mask (read from /proc where possible, so nothing is changed)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def temporary_siblings(path: str | os.PathLike) -> list[Path]:
    """Temporary files that :func:`atomic_output` made for ``path`` and did not remove (a killed job)."""
    path = Path(path)
    pattern = f".{glob.escape(path.name)}.*.{TEMP_MARK}{glob.escape(path.suffix)}"
    return sorted(path.parent.glob(pattern))


@contextmanager
def atomic_output(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; move it onto ``path`` only if the block succeeds.

    * A failure never leaves a half-written file at ``path``, and the temporary file is removed
      (also on SIGTERM, which :func:`figureflow.runtime.job` turns into an exception).
    * A process killed outright (SIGKILL, out of memory) cannot clean up: its temporary file is
      removed by the next write of the same ``path``. Snakemake never runs two jobs that write
      one output at the same time, so no other writer's file is touched.
    * The file gets the mode a plain ``open()`` would give it (``0o666`` less the umask), so
      results on a shared file system are as readable as the user's other files.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in temporary_siblings(path):
        stale.unlink(missing_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.{TEMP_MARK}{path.suffix}"
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~current_umask())  # a writer that recreated the file may have narrowed it
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_table(frame: pd.DataFrame, path: str | os.PathLike) -> None:
    """Write ``frame`` as tab-separated text, no index, ``\\n`` line ends, empty string for NA.

    Floats are written with Python's shortest round-trip repr, so equal numbers give equal
    bytes, and the file is replaced atomically. A long table of plain columns (see
    :func:`fast_tsv_chunks`) is formatted without pandas' CSV writer, to the same bytes.
    """
    chunks = fast_tsv_chunks(frame) if len(frame) >= FAST_TSV_ROWS else None
    with atomic_output(path) as tmp:
        if chunks is None:
            frame.to_csv(tmp, sep="\t", index=False, na_rep="", lineterminator="\n")
            return
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            for text in chunks:
                handle.write(text)


#: tables at least this long are written by :func:`fast_tsv_chunks` where they can be
FAST_TSV_ROWS = 10_000

#: rows formatted at a time (bounds the memory of the strings)
_TSV_CHUNK = 1 << 16


def _plain_strings(values: list) -> bool:
    """Every value is a ``str`` that pandas writes unquoted (no tab, line break or quote)."""
    if not all(type(v) is str for v in values):
        return False
    joined = "\x00".join(values)
    return not any(c in joined for c in ("\t", "\n", "\r", '"'))


def fast_tsv_chunks(frame: pd.DataFrame):
    """The text :func:`write_table` writes for ``frame``, as an iterator of pieces, or ``None`` when
    the frame has a column this path does not format (then pandas writes it).

    Formatted here: float64 (``repr``, NaN as empty), integer, bool and text columns (``str``
    values without tab, line break or quote), with at least two columns (pandas quotes the empty
    field of a one-column row) and plain column names. pandas' CSV writer spends most of its time on
    floats; this path takes about half (a million rows of ``node, z, component, block``). The bytes
    are the same as pandas', which a test checks on tables with every such case.
    """
    names = [str(c) for c in frame.columns]
    if frame.shape[1] < 2 or not _plain_strings(names) or len(set(names)) != len(names):
        return None
    kinds = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if dtype == np.float64:
            kinds.append("float")
        elif dtype == np.bool_ or (dtype.kind in "iu" and isinstance(dtype, np.dtype)):
            kinds.append("str")
        elif dtype == object and _plain_strings(frame[name].tolist()):
            kinds.append("text")
        else:
            return None

    def pieces():
        yield "\t".join(names) + "\n"
        for start in range(0, len(frame), _TSV_CHUNK):
            part = frame.iloc[start : start + _TSV_CHUNK]
            columns = []
            for name, kind in zip(frame.columns, kinds):
                values = part[name].to_numpy()
                if kind == "float":
                    texts = list(map(float.__repr__, values.tolist()))
                    for i in np.flatnonzero(np.isnan(values)).tolist():
                        texts[i] = ""
                elif kind == "str":
                    texts = list(map(str, values.tolist()))
                else:
                    texts = values.tolist()
                columns.append(texts)
            yield "\n".join(map("\t".join, zip(*columns))) + "\n"

    return pieces()


def read_table(path: str | os.PathLike, **kwargs) -> pd.DataFrame:
    """Read a table written by :func:`write_table`, exactly: every float as it was written
    (``float_precision="round_trip"``; pandas' default parser can be one bit off), only empty
    cells as NA (a cell type called ``NA`` stays text). ``kwargs`` go to ``pandas.read_csv``.
    """
    return pd.read_csv(path, sep="\t", float_precision="round_trip", keep_default_na=False, na_values=[""], **kwargs)


def sep_for(path: str | os.PathLike) -> str:
    """Column separator from the file name: ``,`` for ``.csv`` (also gzipped), else tab."""
    name = str(path).lower().removesuffix(".gz")
    return "," if name.endswith(".csv") else "\t"


def _line_layout(path: Path, sep: str):
    """File line number and field count of every non-blank line, or None for a file with quotes.

    Counting separators per line is exact only without quoting (a quoted field may hold a
    separator or a line break); such files are left to pandas' own tokenizer.
    """
    if path.name.lower().endswith(".gz"):
        import gzip

        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    else:
        raw = path.read_bytes()
    if b'"' in raw:
        return None
    data = np.frombuffer(raw, dtype=np.uint8)
    ends = np.flatnonzero(data == ord("\n"))
    if data.size and data[-1] != ord("\n"):
        ends = np.append(ends, data.size)
    starts = np.concatenate([[0], ends[:-1] + 1]) if ends.size else np.zeros(0, dtype=np.int64)
    length = ends - starts
    carriage = length > 0
    carriage[carriage] = data[ends[carriage] - 1] == ord("\r")
    blank = (length - carriage) == 0
    separators = np.flatnonzero(data == ord(sep))
    fields = np.searchsorted(separators, ends) - np.searchsorted(separators, starts) + 1
    lines = np.flatnonzero(~blank) + 1
    return lines, fields[~blank]


def read_table_checked(
    path: str | os.PathLike, required: Iterable[str], what: str, key: str | None = None
) -> pd.DataFrame:
    """Read a CSV/TSV file as strings and check its shape and that it has the ``required`` columns.

    Parameters
    ----------
    path
        The file; ``.csv`` is comma-separated, anything else tab-separated (also gzipped).
    required
        Column names that must be present.
    what
        What the file is, for messages (``"edge list"``).
    key
        The config key that named the file, for messages.

    Returns
    -------
    pandas.DataFrame
        One row per data line, all values as ``str``; the index is each row's line number in
        the file (line 1 is the header), for messages. Blank lines are skipped.

    Raises
    ------
    InputError
        If the file is missing, unreadable or empty; a column name repeats; a line has more or
        fewer fields than the header (naming the line); or a required column is missing (the
        message lists the columns the file does have).
    """
    where = f" (config key {key})" if key else ""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} file '{path}'{where} does not exist")
    sep = sep_for(path)
    try:
        frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, header=None)
    except pd.errors.EmptyDataError:
        raise InputError(f"{what} file '{path}'{where} is empty: expected a header line") from None
    except pd.errors.ParserError as exc:
        found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(exc))
        if found:
            n, line, saw = found.groups()
            raise InputError(
                f"{what} file '{path}', line {line}: too many fields ({saw}; the header has {n}); "
                f"check the separator ({'comma' if sep == ',' else 'tab'}) and stray separators in names"
            ) from None
        raise InputError(f"{what} file '{path}'{where} could not be parsed as a table: {exc}") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} file '{path}'{where} is not UTF-8 text: {exc}") from None
    header = [str(c) for c in frame.iloc[0]]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise InputError(
            f"{what} file '{path}'{where}: column name(s) {describe(repeated)} appear more than once in the "
            f"header; every column needs its own name"
        )
    layout = _line_layout(path, sep)
    if layout is not None and layout[0].size == len(frame):
        lines, fields = layout
        wrong = np.flatnonzero(fields != len(header))
        if wrong.size:
            k = int(wrong[0])
            amount = "too many" if fields[k] > len(header) else "too few"
            raise InputError(
                f"{what} file '{path}', line {lines[k]}: {amount} fields ({fields[k]}; the header has "
                f"{len(header)}: {describe(header)}); check the separator ({'comma' if sep == ',' else 'tab'})"
            )
        index = lines[1:]
    else:
        index = np.arange(2, len(frame) + 1)
    frame = frame.iloc[1:]
    frame.columns = header
    frame.index = pd.Index(index, name="line")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise InputError(
            f"{what} file '{path}'{where}: expected column(s) {describe(missing)}, "
            f"found columns {describe(frame.columns)}"
        )
    return frame


def write_h5ad(adata, path: str | os.PathLike) -> None:
    """Write an AnnData file atomically, its matrices gzip-compressed at level 1 (on 30,000 cells
    8.3 s and 146 MB against level 4's 13.7 s and 122 MB; gzip, unlike lzf, is read by every HDF5
    reader, R's included)."""
    with atomic_output(path) as tmp:
        adata.write_h5ad(tmp, compression="gzip", compression_opts=1)


def write_graph(adjacency, nodes: pd.DataFrame, graph_path: str | os.PathLike, nodes_path: str | os.PathLike) -> None:
    """Write a graph: CSR adjacency as ``.npz`` (scipy, uncompressed) and its node table as TSV.

    ``nodes`` has one row per node, in adjacency order, with column ``node`` first. The matrix is
    stored uncompressed (for 10^7 unit-weight edges 123 MB instead of 32 MB): zlib was most of
    a large graph's round trip (see the README's signal-flow timings)."""
    import scipy.sparse as sp

    if adjacency.shape[0] != len(nodes):
        raise ValueError(f"adjacency has {adjacency.shape[0]} nodes but the node table {len(nodes)} rows")
    with atomic_output(graph_path) as tmp:
        sp.save_npz(tmp, sp.csr_matrix(adjacency), compressed=False)
    write_table(nodes, nodes_path)


def write_arrays(path: str | os.PathLike, **arrays) -> None:
    """Write named arrays as an ``.npz`` that ``numpy.load`` reads, atomically and reproducibly.

    ``numpy.savez`` stamps each member with the time of writing; here every member carries the
    same fixed date, so equal arrays give byte-identical files on any machine and rerun.
    """
    import zipfile
    from io import BytesIO

    with atomic_output(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, value in arrays.items():
            buffer = BytesIO()
            np.lib.format.write_array(buffer, np.asarray(value), allow_pickle=False)
            member = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            member.compress_type = zipfile.ZIP_DEFLATED
            member.external_attr = 0o644 << 16
            archive.writestr(member, buffer.getvalue())


def read_arrays(path: str | os.PathLike, names: Iterable[str], optional: Iterable[str] = ()) -> dict[str, np.ndarray]:
    """The arrays ``names`` of an ``.npz`` written by :func:`write_arrays`, and those of
    ``optional`` that it holds.

    Raises
    ------
    InputError
        If the file lacks one of them (an output of an older figureflow: rerun the rule that writes it).
    """
    with np.load(path, allow_pickle=False) as archive:
        missing = [n for n in names if n not in archive.files]
        if missing:
            raise InputError(f"file '{path}' lacks the arrays {describe(missing)} (it has {describe(archive.files)}); rerun the rule that writes it")
        return {n: archive[n] for n in [*names, *(o for o in optional if o in archive.files)]}


def read_graph_files(graph_path: str | os.PathLike, nodes_path: str | os.PathLike):
    """Read a graph written by :func:`write_graph`: ``(csr_matrix, node DataFrame)``.

    Node names are read as strings; other node columns get pandas' inferred types.
    """
    import scipy.sparse as sp

    return sp.load_npz(graph_path).tocsr(), read_nodes(nodes_path)


def read_nodes(path: str | os.PathLike) -> pd.DataFrame:
    """A per-node TSV written by figureflow (:func:`read_table`): ``node`` as strings, other types inferred."""
    return read_table(path, dtype={"node": str})


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
