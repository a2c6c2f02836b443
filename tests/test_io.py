import numpy as np
import pandas as pd
import pytest

from figureflow.io import InputError, node_groups, read_nodes, write_table


def test_node_groups_defaults_to_the_first_column_after_node_and_results():
    nodes = pd.DataFrame({"node": ["a", "b", "c"], "z": [1.0, 0.0, -1.0], "component": [0, 0, 0], "class": ["s", "i", "m"], "x": [1, 2, 3]})
    name, groups = node_groups(nodes)
    assert name == "class" and groups.tolist() == ["s", "i", "m"]
    assert node_groups(nodes, "x")[1].tolist() == [1, 2, 3]


def test_node_groups_without_annotation_is_none_and_missing_values_are_named():
    assert node_groups(pd.DataFrame({"node": ["a"], "z": [0.0], "component": [0]})) == (None, None)
    name, groups = node_groups(pd.DataFrame({"node": ["a", "b"], "class": ["s", None]}))
    assert groups.tolist() == ["s", "(none)"]


def test_node_groups_refuses_an_absent_column():
    with pytest.raises(InputError, match=r"group_by is 'kind', which is not a node-table column; columns are 'node', 'class'"):
        node_groups(pd.DataFrame({"node": ["a"], "class": ["s"]}), "kind")


def test_read_nodes_keeps_names_as_text_and_empty_cells_as_missing(tmp_path):
    frame = pd.DataFrame({"node": ["007", "NA", "x"], "z": [1.5, np.nan, -1.5], "block": [0, 1, 1]})
    write_table(frame, tmp_path / "n.tsv")
    back = read_nodes(tmp_path / "n.tsv")
    assert back["node"].tolist() == ["007", "NA", "x"]  # not 7, not NaN
    assert np.isnan(back["z"].iloc[1]) and back["z"].iloc[2] == -1.5 and back["block"].tolist() == [0, 1, 1]


# ---------------------------------------------------------------- atomic writes


def _writers(tmp_path):
    """Every way figureflow writes a result file, each writing one file under tmp_path."""
    import anndata as ad
    import matplotlib.pyplot as plt
    import scipy.sparse as sp

    from figureflow.io import write_graph, write_h5ad
    from figureflow.plotting.style import save_figure

    frame = pd.DataFrame({"node": ["a", "b"], "block": [0, 1]})

    def figure():
        fig, ax = plt.subplots()
        ax.plot([0, 1], [0, 1])
        save_figure(fig, tmp_path / "f.png", tmp_path / "f.pdf")
        return [tmp_path / "f.png", tmp_path / "f.pdf"]

    return {
        "table": lambda: write_table(frame, tmp_path / "t.tsv") or [tmp_path / "t.tsv"],
        "h5ad": lambda: write_h5ad(ad.AnnData(np.ones((2, 2), dtype=np.float32)), tmp_path / "d.h5ad") or [tmp_path / "d.h5ad"],
        "graph": lambda: write_graph(sp.csr_matrix(np.eye(2)), frame, tmp_path / "g.npz", tmp_path / "g.tsv")
        or [tmp_path / "g.npz", tmp_path / "g.tsv"],
        "figure": figure,
    }


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
@pytest.mark.parametrize("writer", ["table", "h5ad", "graph", "figure"])
def test_every_writer_gives_files_the_mode_the_umask_allows(tmp_path, umask, writer):
    import os

    previous = os.umask(umask)
    try:
        files = _writers(tmp_path)[writer]()
    finally:
        os.umask(previous)
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, (path.name, oct(path.stat().st_mode))


KILLED_WRITER = """
import os, signal, sys
from figureflow.io import atomic_output
with atomic_output(sys.argv[1]) as tmp:
    tmp.write_text("half a table")
    os.kill(os.getpid(), signal.{signal})
"""


def test_a_writer_killed_outright_leaves_a_temporary_that_the_next_write_removes(tmp_path):
    import subprocess
    import sys

    from figureflow.io import temporary_siblings

    target = tmp_path / "results" / "nodes.tsv"
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER.format(signal="SIGKILL"), str(target)])
    assert done.returncode == -9
    assert not target.exists() and len(temporary_siblings(target)) == 1  # nothing can run on SIGKILL
    write_table(pd.DataFrame({"node": ["a"]}), target)
    assert target.read_text() == "node\na\n"
    assert temporary_siblings(target) == [] and sorted(p.name for p in target.parent.iterdir()) == ["nodes.tsv"]


JOB_TERMINATED = """
import os, signal, sys
from types import SimpleNamespace
from figureflow.io import atomic_output
from figureflow.runtime import job

smk = SimpleNamespace(log=[sys.argv[2]], threads=1, rule="r", wildcards={})
with job(smk):
    with atomic_output(sys.argv[1]) as tmp:
        tmp.write_text("half a table")
        os.kill(os.getpid(), signal.SIGTERM)
"""


def test_a_job_stopped_by_sigterm_removes_its_temporary_file(tmp_path):
    import subprocess
    import sys

    from figureflow.io import temporary_siblings

    target = tmp_path / "results" / "nodes.tsv"
    done = subprocess.run([sys.executable, "-c", JOB_TERMINATED, str(target), str(tmp_path / "job.log")])
    assert done.returncode == 128 + 15
    assert not target.exists() and temporary_siblings(target) == []
    assert list(target.parent.iterdir()) == []


# ---------------------------------------------------------------- reading tables


def _read(tmp_path, text, name="e.tsv"):
    from figureflow.io import read_table_checked

    path = tmp_path / name
    path.write_text(text)
    return read_table_checked(path, ["source", "target"], "edge list", "graphs.g.edges")


@pytest.mark.parametrize(
    "text, message",
    [
        ("source\ttarget\tweight\na\tb\t1\nb\tc\t2\textra\n", r"line 3: too many fields \(4; the header has 3"),
        ("source\ttarget\tweight\na\tb\t1\tx\nb\tc\t2\n", r"line 2: too many fields \(4; the header has 3"),
        ("source\ttarget\tweight\na\tb\t1\nb\tc\n", r"line 3: too few fields \(2; the header has 3: 'source', 'target', 'weight'\)"),
        ("source\ttarget\tweight\na\tb\t1\n\nb\tc\n", r"line 4: too few fields"),  # the blank line 3 is counted
        ("source\ttarget\tsource\na\tb\tc\n", r"column name\(s\) 'source' appear more than once in the header"),
        ("source,target\n", r"expected column\(s\) 'source', 'target', found columns 'source,target'"),
    ],
)
def test_a_malformed_table_is_refused_naming_the_line(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        _read(tmp_path, text)


def test_rows_keep_their_line_numbers_across_blank_lines_and_quoted_csv(tmp_path):
    frame = _read(tmp_path, "source\ttarget\na\tb\n\n\nc\td\n")
    assert frame.index.tolist() == [2, 5] and frame["target"].tolist() == ["b", "d"]
    quoted = _read(tmp_path, 'source,target\n"a,1",b\nc,d\n', name="e.csv")
    assert quoted["source"].tolist() == ["a,1", "c"]


def test_carried_columns_never_replace_computed_ones():
    from figureflow.io import carry_columns

    computed = pd.DataFrame({"node": ["a", "b"], "z": [1.0, -1.0]})
    out = carry_columns(computed, pd.DataFrame({"node": ["a", "b"], "class": ["s", "m"]}))
    assert out.columns.tolist() == ["node", "z", "class"] and out["z"].tolist() == [1.0, -1.0]
    with pytest.raises(ValueError, match=r"column\(s\) 'z' have the name of a column figureflow computes"):
        carry_columns(computed, pd.DataFrame({"node": ["a", "b"], "z": [5.0, 6.0]}))


def test_read_table_gives_back_every_float_exactly_and_only_empty_cells_as_na(tmp_path):
    from figureflow.io import read_table, write_table

    values = np.random.default_rng(0).random(2000) * 10.0 ** np.random.default_rng(1).integers(-8, 8, 2000)
    frame = pd.DataFrame({"cell_type": ["NA", "B"] * 1000, "x": values, "y": [np.nan, 1.5] * 1000})
    write_table(frame, tmp_path / "t.tsv")
    back = read_table(tmp_path / "t.tsv")
    np.testing.assert_array_equal(back["x"].to_numpy(), values)  # bit for bit
    assert back["cell_type"].tolist()[:2] == ["NA", "B"] and back["y"].isna().sum() == 1000


def _tricky_table(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    special = np.array([0.1, 1e-5, 1e16, 1e15, 1.2345678901234568e17, 3.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, 1.7976931348623157e308, 1e-7, 1e22])
    floats = np.concatenate([special, rng.normal(size=n - special.size) * 10.0 ** rng.integers(-30, 30, n - special.size)])
    return pd.DataFrame({
        "node": np.array([f"cell {i}" if i % 7 else "" for i in range(n)], dtype=object),
        "z": floats,
        "component": rng.integers(-1, 5, n),
        "flag": rng.random(n) > 0.5,
        "count": rng.integers(0, 2**63, n, dtype=np.uint64),
        "missing": np.full(n, np.nan),
    })


def test_the_fast_table_writer_gives_pandas_bytes_on_every_case_it_takes(tmp_path):
    # repr of extreme floats, -0.0, inf, NaN as empty, ints, uint64, bools, empty strings, across chunks
    from figureflow.io import _TSV_CHUNK, fast_tsv_chunks

    frame = _tricky_table(_TSV_CHUNK + 1234)
    expected = frame.to_csv(None, sep="\t", index=False, na_rep="", lineterminator="\n")
    assert "".join(fast_tsv_chunks(frame)) == expected
    write_table(frame, tmp_path / "t.tsv")
    assert (tmp_path / "t.tsv").read_bytes() == expected.encode()


@pytest.mark.parametrize(
    "change",
    [
        lambda f: f[["z"]],  # one column: pandas quotes an empty row
        lambda f: f.assign(node=f["node"].where(f.index != 5, "a\tb")),  # a tab in a text field is quoted
        lambda f: f.assign(node=f["node"].where(f.index != 5, 'say "hi"')),
        lambda f: f.assign(node=f["node"].where(f.index != 5, None)),
        lambda f: f.assign(z=f["z"].astype(np.float32)),
        lambda f: f.assign(component=f["component"].astype("Int64")),
        lambda f: f.assign(node=f["node"].astype("category")),
    ],
    ids=["one column", "tab", "quote", "None", "float32", "nullable int", "category"],
)
def test_the_fast_table_writer_leaves_to_pandas_what_it_does_not_format(tmp_path, change):
    from figureflow.io import FAST_TSV_ROWS, fast_tsv_chunks

    frame = change(_tricky_table(FAST_TSV_ROWS))
    assert fast_tsv_chunks(frame) is None
    write_table(frame, tmp_path / "t.tsv")
    assert (tmp_path / "t.tsv").read_text() == frame.to_csv(None, sep="\t", index=False, na_rep="", lineterminator="\n")
