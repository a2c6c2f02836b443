import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from figureflow.data.ingest import check_h5ad_obs, edges_to_graph, ingest_h5ad, read_edge_list, read_graph, read_node_table
from figureflow.io import InputError

from conftest import write_small_h5ad

# ---------------------------------------------------------------- h5ad


def test_ingest_standardizes_cell_type_and_age(small_h5ad):
    out = ingest_h5ad(small_h5ad, "d", "celltype", "donor_age", ["3m"], ["24m"], counts_layer="counts")
    src = ad.read_h5ad(small_h5ad)
    assert (out.X != sp.csr_matrix(src.layers["counts"])).nnz == 0  # counts taken from the layer
    assert (out.obs["cell_type"].astype(str) == src.obs["celltype"]).all()
    expected_age = src.obs["donor_age"].map({"3m": "young", "24m": "old"})
    assert (out.obs["age"].isna() == expected_age.isna()).all()
    assert (out.obs["age"].dropna().astype(str) == expected_age.dropna()).all()
    assert out.obs["age"].isna().sum() == (src.obs["donor_age"] == "12m").sum()
    assert "donor_age" in out.obs.columns  # original annotations are kept


def test_age_column_named_age_keeps_its_labels_as_age_label(tmp_path):
    path = write_small_h5ad(tmp_path / "a.h5ad", age=["y", "o"] * 60)
    out = ingest_h5ad(path, "d", "celltype", "age", ["y"], ["o"], counts_layer="counts")
    assert list(out.obs["age"].cat.categories) == ["young", "old"]
    assert (out.obs["age_label"] == ["y", "o"] * 60).all()
    assert (out.obs["age"].astype(str) == ["young", "old"] * 60).all()


def test_without_age_labels_no_age_column_is_made(small_h5ad):
    out = ingest_h5ad(small_h5ad, "d", "celltype", counts_layer="counts")
    assert "age" not in out.obs.columns


def test_missing_file_is_named(tmp_path):
    with pytest.raises(InputError, match=r"h5ad file '.*nope.h5ad' \(config key datasets.d.h5ad\) does not exist"):
        check_h5ad_obs(tmp_path / "nope.h5ad", "d")


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "bad.h5ad"
    bad.write_text("not hdf5")
    with pytest.raises(InputError, match="could not be read as AnnData"):
        check_h5ad_obs(bad, "d")


def test_absent_cell_type_key_lists_obs_columns(small_h5ad):
    with pytest.raises(InputError, match=r"cell_type_key is 'cell_type'.*obs columns are 'celltype', 'donor_age'"):
        check_h5ad_obs(small_h5ad, "d")


def test_absent_age_key_lists_obs_columns(small_h5ad):
    with pytest.raises(InputError, match=r"datasets.d.age_key is 'age', which is not an obs column; obs columns are 'celltype', 'donor_age'"):
        check_h5ad_obs(small_h5ad, "d", "celltype", "age", ["3m"], ["24m"])


def test_young_label_that_never_occurs_lists_labels(small_h5ad):
    with pytest.raises(InputError, match=r"datasets.d.young lists '2m', which never occur .* labels there are '12m', '24m', '3m'"):
        check_h5ad_obs(small_h5ad, "d", "celltype", "donor_age", ["2m"], ["24m"])


def test_label_in_both_groups_is_refused(small_h5ad):
    with pytest.raises(InputError, match="in both"):
        check_h5ad_obs(small_h5ad, "d", "celltype", "donor_age", ["3m", "12m"], ["12m", "24m"])


def test_only_one_age_group_is_refused(small_h5ad):
    with pytest.raises(InputError, match="datasets.d.old must list"):
        check_h5ad_obs(small_h5ad, "d", "celltype", "donor_age", ["3m"], None)


def test_missing_layer_lists_layers(small_h5ad):
    with pytest.raises(InputError, match=r"counts_layer is 'raw'.*layers are 'counts'"):
        ingest_h5ad(small_h5ad, "d", "celltype", counts_layer="raw")


@pytest.mark.parametrize("bad_value, message", [(-1.0, "non-negative counts, found minimum -1"), (np.nan, "finite counts, found 1 NaN")])
def test_bad_counts_are_refused(tmp_path, bad_value, message):
    X = np.ones((6, 4), dtype=np.float32)
    X[2, 1] = bad_value
    adata = ad.AnnData(X=X, obs=pd.DataFrame({"celltype": list("aabbcc")}, index=[f"c{i}" for i in range(6)]))
    adata.write_h5ad(tmp_path / "x.h5ad")
    with pytest.raises(InputError, match=message):
        ingest_h5ad(tmp_path / "x.h5ad", "d", "celltype")


# ---------------------------------------------------------------- edge lists


def write(path, text):
    path.write_text(text)
    return path


def test_duplicate_edges_are_summed_and_names_kept(tmp_path):
    path = write(tmp_path / "e.tsv", "source\ttarget\tweight\nAVA\tAVB\t1\nAVB\tDA1\t2.5\nAVA\tAVB\t3\nDA1\tDA1\t1\n")
    A, nodes = edges_to_graph(read_edge_list(path, "g"))
    assert nodes["node"].tolist() == ["AVA", "AVB", "DA1"]
    np.testing.assert_array_equal(A.toarray(), [[0, 4, 0], [0, 0, 2.5], [0, 0, 1]])


def test_missing_weight_column_means_unit_weights_and_csv_is_comma_separated(tmp_path):
    path = write(tmp_path / "e.csv", "from,to\na,b\nb,c\n")
    edges = read_edge_list(path, "g", "from", "to")
    assert edges["weight"].tolist() == [1.0, 1.0]


def test_node_table_order_first_then_new_nodes_and_columns_carried(tmp_path):
    e = write(tmp_path / "e.tsv", "source\ttarget\nx\ty\nz\tq\n")
    n = write(tmp_path / "n.tsv", "name\tclass\nq\tmotor\ny\tinter\nlonely\tsensory\n")
    A, nodes = read_graph(
        {"edges": e, "nodes": n, "source_column": "source", "target_column": "target", "weight_column": "weight", "node_column": "name"}, "g"
    )
    assert nodes["node"].tolist() == ["q", "y", "lonely", "x", "z"]
    assert nodes["class"].tolist()[:3] == ["motor", "inter", "sensory"] and nodes["class"].isna().sum() == 2
    assert A.shape == (5, 5) and A[3, 1] == 1 and A[4, 0] == 1 and A.nnz == 2


@pytest.mark.parametrize(
    "text, message",
    [
        ("source\tweight\na\t1\n", r"expected column\(s\) 'target', found columns 'source', 'weight'"),
        ("source\ttarget\tweight\na\tb\t1\nb\tc\theavy\n", r"line 3: column 'weight' must be a number, found 'heavy'"),
        ("source\ttarget\tweight\na\tb\t1\nb\tc\t2\nc\ta\t-0.5\n", r"line 4: column 'weight' must be >= 0, found -0.5"),
        ("source\ttarget\tweight\na\tb\tNaN\n", r"line 2: column 'weight' is NaN"),
        ("source\ttarget\tweight\na\tb\t\n", r"line 2: column 'weight' must be a number, found ''"),
        ("source\ttarget\tweight\na\tb\tinf\n", r"line 2: column 'weight' is infinite"),
        ("source\ttarget\tweight\na\tb\t1\n\tc\t1\n", r"line 3: column 'source' is empty"),
        ("", r"is empty: expected a header line"),
        ("source\ttarget\tweight\n", r"has a header but no edges: the graph would be empty"),
    ],
)
def test_bad_edge_rows_name_file_and_line(tmp_path, text, message):
    path = write(tmp_path / "edges.tsv", text)
    with pytest.raises(InputError, match=message) as info:
        read_edge_list(path, "g")
    assert "edges.tsv" in str(info.value)


def test_missing_edge_file_names_the_key(tmp_path):
    with pytest.raises(InputError, match=r"config key graphs.g.edges\) does not exist"):
        read_edge_list(tmp_path / "none.tsv", "g")


def test_node_table_with_repeated_node_is_refused(tmp_path):
    path = write(tmp_path / "n.tsv", "node\tclass\na\tx\nb\ty\na\tz\n")
    with pytest.raises(InputError, match=r"line 4: node 'a' appears more than once"):
        read_node_table(path, "g")
