import re

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


def test_age_column_named_age_keeps_its_labels_as_input_age(tmp_path):
    path = write_small_h5ad(tmp_path / "a.h5ad", age=["y", "o"] * 60)
    out = ingest_h5ad(path, "d", "celltype", "age", ["y"], ["o"], counts_layer="counts")
    assert list(out.obs["age"].cat.categories) == ["young", "old"]
    assert (out.obs["input_age"] == ["y", "o"] * 60).all()
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
    with pytest.raises(InputError, match=r"counts_layer is 'spliced'.*layers are 'counts'"):
        ingest_h5ad(small_h5ad, "d", "celltype", counts_layer="spliced")
    with pytest.raises(InputError, match=r"counts_layer is 'raw', but the file has no raw.X; layers are 'counts'"):
        ingest_h5ad(small_h5ad, "d", "celltype", counts_layer="raw")


def test_counts_in_raw_x_are_read_with_their_own_genes(tmp_path):
    # CELLxGENE's shape: X normalized over 30 genes, raw counts of all 40 genes in raw.X
    from figureflow.data.ingest import check_h5ad_counts

    rng = np.random.default_rng(3)
    counts = sp.csr_matrix(rng.poisson(2.0, size=(60, 40)).astype(np.float32))
    full = ad.AnnData(X=counts, obs=pd.DataFrame({"celltype": ["B", "T"] * 30}, index=[f"c{i}" for i in range(60)]))
    full.var_names = [f"g{i}" for i in range(40)]
    full.raw = full.copy()
    normalized = full[:, :30].copy()
    normalized.X = sp.csr_matrix(np.log1p(normalized.X.toarray() / 2.0))
    normalized.write_h5ad(tmp_path / "cxg.h5ad")
    check_h5ad_counts(tmp_path / "cxg.h5ad", "d", "raw")  # before any job
    with pytest.raises(InputError, match="X must hold raw counts"):
        check_h5ad_counts(tmp_path / "cxg.h5ad", "d", None)
    out = ingest_h5ad(tmp_path / "cxg.h5ad", "d", "celltype", counts_layer="raw")
    assert out.shape == (60, 40) and list(out.var_names) == [f"g{i}" for i in range(40)]
    assert (out.X != counts).nnz == 0


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
        {"edges": e, "nodes": n, "source_column": "source", "target_column": "target", "weight_column": None, "node_column": "name"}, "g"
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


# ---------------------------------------------------------------- hardening: inputs that used to pass silently


def test_names_differing_only_by_surrounding_whitespace_are_one_node_with_a_warning(tmp_path):
    from figureflow.io import InputWarning

    path = tmp_path / "e.tsv"
    path.write_text("source\ttarget\nA \tB\nA\t B\n")
    with pytest.warns(InputWarning, match=r"1 name\(s\) in column '(source|target)' had leading or trailing whitespace"):
        A, nodes = edges_to_graph(read_edge_list(path, "g"))
    assert nodes["node"].tolist() == ["A", "B"] and A.toarray().tolist() == [[0.0, 2.0], [0.0, 0.0]]
    table = tmp_path / "n.tsv"
    table.write_text("node\tclass\n A\ts\nA\tm\n")
    with pytest.raises(InputError, match=r"line 3: node 'A' appears more than once"), pytest.warns(InputWarning):
        read_node_table(table, "g")


def test_an_explicit_weight_column_must_exist_while_the_default_may_be_absent(tmp_path):
    path = tmp_path / "e.tsv"
    path.write_text("source\ttarget\tsynapses\na\tb\t3\n")
    with pytest.raises(InputError, match=r"graphs.g.weight_column is 'weight', which is not a column; columns are 'source', 'target', 'synapses'"):
        read_edge_list(path, "g", weight_column="weight")
    assert read_edge_list(path, "g")["weight"].tolist() == [1.0]  # default: 'weight' if present, else 1
    assert read_edge_list(path, "g", weight_column="synapses")["weight"].tolist() == [3.0]
    path.write_text("source\ttarget\tweight\na\tb\t2.5\n")
    assert read_edge_list(path, "g")["weight"].tolist() == [2.5]


def test_node_table_column_named_node_besides_the_key_is_refused(tmp_path):
    path = tmp_path / "n.tsv"
    path.write_text("neuron\tnode\tclass\nA\t1\ts\n")
    with pytest.raises(InputError, match=r"has a column 'node' besides the node names in 'neuron'"):
        read_node_table(path, "g", "neuron")


def test_a_node_table_carrying_every_computed_column_is_refused_for_each(tmp_path):
    # every per-node column any method computes: a node table carrying one of them is refused
    from figureflow.config import computed_node_columns

    computed = computed_node_columns()
    assert {"z", "component"} <= set(computed)
    for column in computed:
        path = tmp_path / f"n_{column}.tsv"
        path.write_text(f"node\t{column}\tclass\nA\t1.5\ts\n")
        with pytest.raises(InputError, match=rf"column '{column}' has the name of a per-node column that figureflow computes"):
            read_node_table(path, "g", computed=computed)


def _h5ad_with(tmp_path, X, **obs):
    n = X.shape[0]
    frame = pd.DataFrame({"celltype": ["a", "b"] * (n // 2), **obs}, index=[f"c{i}" for i in range(n)])
    path = tmp_path / "x.h5ad"
    ad.AnnData(X=X, obs=frame).write_h5ad(path)
    return path


@pytest.mark.parametrize("sparse", [True, False])
def test_log_normalized_x_is_refused_before_any_job_saying_what_to_set(tmp_path, sparse):
    from figureflow.data.ingest import check_h5ad_counts

    counts = np.random.default_rng(0).poisson(2.0, size=(20, 6)).astype(np.float32)
    X = np.log1p(counts)
    path = _h5ad_with(tmp_path, sp.csr_matrix(X) if sparse else X)
    first = f"{X[np.nonzero(X)][0]:.6g}"  # the first stored entry that is not a whole number
    message = rf"X must hold raw counts \(whole numbers\), found non-integer values such as {re.escape(first)} \(log-normalized data\?\); set datasets\.d\.counts_layer"
    with pytest.raises(InputError, match=message + r".*datasets\.d\.allow_noninteger_counts: true"):
        check_h5ad_counts(path, "d")
    with pytest.raises(InputError, match=message):
        ingest_h5ad(path, "d", "celltype")
    check_h5ad_counts(path, "d", allow_noninteger=True)  # estimated counts may be fractional
    assert ingest_h5ad(path, "d", "celltype", allow_noninteger_counts=True).X.dtype == np.float32


def test_counts_layer_that_is_absent_is_named_before_any_job(small_h5ad):
    from figureflow.data.ingest import check_h5ad_counts

    with pytest.raises(InputError, match=r"counts_layer is 'spliced', which is not a layer; layers are 'counts'"):
        check_h5ad_counts(small_h5ad, "d", "spliced")
    check_h5ad_counts(small_h5ad, "d", "counts")


def test_all_nan_cell_types_are_refused_and_some_nan_give_no_type_nan(tmp_path):
    from figureflow.io import InputWarning

    X = np.ones((4, 3), dtype=np.float32)
    for nothing in ([np.nan] * 4, ["", " ", "", ""]):
        path = _h5ad_with(tmp_path, X, kind=nothing)
        with pytest.raises(InputError, match=r"obs column 'kind' \(datasets.d.cell_type_key\) has no values \(all 4 cells are NaN or empty\)"):
            check_h5ad_obs(path, "d", "kind")
    path = _h5ad_with(tmp_path, X, kind=["B", np.nan, "T", " "])
    with pytest.warns(InputWarning, match=r"2 of 4 cells have no value in obs column 'kind'"):
        out = ingest_h5ad(path, "d", "kind")
    assert out.obs["cell_type"].isna().tolist() == [False, True, False, True]
    assert list(out.obs["cell_type"].cat.categories) == ["B", "T"]  # no type called 'nan'


def test_obs_columns_figureflow_writes_keep_the_files_own_values_under_input(tmp_path):
    X = np.ones((4, 3), dtype=np.float32)
    path = _h5ad_with(tmp_path, X, cell_type=["x", "y", "x", "y"], age=["3m", "24m", "3m", "1y"])
    out = ingest_h5ad(path, "d", "celltype", "age", ["3m"], ["24m"])
    assert out.obs["cell_type"].astype(str).tolist() == ["a", "b", "a", "b"]  # from cell_type_key
    assert out.obs["input_cell_type"].tolist() == ["x", "y", "x", "y"]
    assert out.obs["age"].astype(str).tolist() == ["young", "old", "young", "nan"]
    assert out.obs["input_age"].tolist() == ["3m", "24m", "3m", "1y"]
    path = _h5ad_with(tmp_path, X, cell_type=["x"] * 4, input_cell_type=["y"] * 4)
    with pytest.raises(InputError, match=r"obs has both 'cell_type' and 'input_cell_type'"):
        check_h5ad_obs(path, "d", "celltype")


@pytest.fixture
def pbmc_reduced():
    """scanpy's pbmc68k_reduced exactly as scanpy ships it (anndata's oldest layout: obs, var and obsm
    as compound datasets, categories in uns/<key>_categories, raw.X and raw.var beside the groups):
    X scaled (negative values), no counts, X_pca and X_umap, no age."""
    from conftest import SHIPPED_PBMC

    return SHIPPED_PBMC


def test_the_shipped_file_is_in_the_old_layout_that_hand_walked_hdf5_misread():
    import h5py

    from conftest import SHIPPED_PBMC

    with h5py.File(SHIPPED_PBMC, "r") as handle:  # what this test relies on, not how figureflow reads it
        assert isinstance(handle["obsm"], h5py.Dataset) and "raw.X" in handle and "bulk_labels_categories" in handle["uns"]


def test_old_style_categories_of_the_shipped_file_are_read_as_labels(pbmc_reduced):
    obs = check_h5ad_obs(pbmc_reduced, "pbmc", "bulk_labels")
    assert "CD14+ Monocyte" in set(obs["bulk_labels"].astype(str)) and obs["bulk_labels"].nunique() == 10
    with pytest.raises(InputError, match=r"config key datasets.pbmc.age_key is 'age', which is not an obs column; obs columns are .*'bulk_labels'"):
        check_h5ad_obs(pbmc_reduced, "pbmc", "bulk_labels", require_age=True)


def test_the_shipped_files_raw_values_are_refused_as_counts_naming_raw_x(pbmc_reduced):
    from figureflow.data.ingest import check_h5ad_counts

    with pytest.raises(InputError, match=r"raw.X must hold raw counts \(whole numbers\)"):
        check_h5ad_counts(pbmc_reduced, "pbmc", counts_layer="raw")


@pytest.mark.parametrize("sparse_format", ["csr", "csc"])
def test_counts_in_csr_or_csc_x_are_checked_and_ingested_equal(tmp_path, sparse_format):
    from figureflow.data.ingest import check_h5ad_counts

    rng = np.random.default_rng(0)
    counts = sp.random(60, 40, density=0.2, format=sparse_format, random_state=rng, dtype=np.float32)
    counts.data = np.ceil(counts.data * 9)
    obs = pd.DataFrame({"celltype": ["a", "b"] * 30}, index=[f"c{i}" for i in range(60)])
    path = tmp_path / f"{sparse_format}.h5ad"
    ad.AnnData(X=counts, obs=obs).write_h5ad(path)
    check_h5ad_counts(path, "d")
    out = ingest_h5ad(path, "d", "celltype")
    assert out.X.format == "csr" and (out.X != counts.tocsr()).nnz == 0
    bad = counts.copy()
    bad.data[0] = 0.5
    ad.AnnData(X=bad, obs=obs).write_h5ad(path)
    with pytest.raises(InputError, match=r"X must hold raw counts \(whole numbers\), found non-integer values such as 0.5"):
        check_h5ad_counts(path, "d")


def test_raw_with_its_own_var_gives_counts_over_raws_genes(tmp_path):
    """CELLxGENE's shape: normalized X over 30 genes, raw counts of 50 genes in raw.X with raw.var."""
    from figureflow.data.ingest import check_h5ad_counts

    rng = np.random.default_rng(1)
    counts = sp.csr_matrix(rng.poisson(2.0, size=(40, 50)).astype(np.float32))
    raw = ad.AnnData(X=counts, var=pd.DataFrame(index=[f"g{i}" for i in range(50)]))
    adata = raw[:, :30].copy()
    adata.X = sp.csr_matrix(np.log1p(adata.X.toarray()) * 0.5)
    adata.raw = raw
    adata.obs["celltype"] = ["a", "b"] * 20
    path = tmp_path / "raw.h5ad"
    adata.write_h5ad(path)
    check_h5ad_counts(path, "d", counts_layer="raw")
    out = ingest_h5ad(path, "d", "celltype", counts_layer="raw")
    assert out.shape == (40, 50) and list(out.var_names) == list(raw.var_names) and (out.X != counts).nnz == 0


def test_a_processed_atlas_keeps_its_own_x_and_embedding(pbmc_reduced):
    from figureflow.data.ingest import check_h5ad_processed

    facts = check_h5ad_processed(pbmc_reduced, "pbmc")
    assert {"X_pca", "X_umap"} <= set(facts["obsm"]) and facts["x_min"] < 0
    original = ad.read_h5ad(pbmc_reduced)
    out = ingest_h5ad(pbmc_reduced, "pbmc", "bulk_labels", processed=True)
    np.testing.assert_array_equal(out.X.toarray(), original.X)
    np.testing.assert_array_equal(out.obsm["X_umap"], original.obsm["X_umap"])
    assert out.obs["cell_type"].nunique() == original.obs["bulk_labels"].nunique() and "age" not in out.obs


def test_a_processed_atlas_read_as_counts_is_refused_with_the_key_to_set(pbmc_reduced):
    from figureflow.data.ingest import check_h5ad_counts

    message = r"X must hold non-negative counts.*set datasets.pbmc.counts_layer.*or, for a processed file without counts, set datasets.pbmc.processed: true"
    with pytest.raises(InputError, match=message):
        check_h5ad_counts(pbmc_reduced, "pbmc")


def test_a_processed_file_without_an_embedding_is_refused(tmp_path):
    from figureflow.data.ingest import check_h5ad_processed

    adata = ad.AnnData(X=np.ones((5, 3)), obs=pd.DataFrame({"c": list("aabbc")}, index=list("vwxyz")), obsm={"X_tsne": np.zeros((5, 2))})
    adata.write_h5ad(tmp_path / "p.h5ad")
    with pytest.raises(InputError, match=r"datasets.p.processed is true.*obsm has none of 'X_pca', 'X_umap'; obsm keys are 'X_tsne'"):
        check_h5ad_processed(tmp_path / "p.h5ad", "p")


@pytest.mark.parametrize("check", ["counts", "processed"])
def test_a_file_that_is_not_hdf5_or_is_missing_is_named_by_every_check(tmp_path, check):
    from figureflow.data.ingest import check_h5ad_counts, check_h5ad_processed

    run = {"counts": check_h5ad_counts, "processed": check_h5ad_processed}[check]
    bad = tmp_path / "atlas.h5ad"
    bad.write_text("cell,type\na,b\n")  # a CSV saved under the wrong name
    with pytest.raises(InputError, match=r"h5ad file '.*atlas.h5ad' \(config key datasets.d.h5ad\) could not be read as AnnData: OSError"):
        run(bad, "d")
    with pytest.raises(InputError, match=r"h5ad file '.*gone.h5ad' \(config key datasets.d.h5ad\) does not exist"):
        run(tmp_path / "gone.h5ad", "d")


def test_h5ad_annotations_are_the_files_obs_obsm_and_uns_without_its_matrices(tmp_path):
    import anndata as ad
    import h5py
    import scipy.sparse as sp

    from figureflow.data.ingest import read_h5ad_annotations
    from figureflow.io import write_h5ad

    rng = np.random.default_rng(0)
    counts = sp.random(300, 40, density=0.3, format="csr", random_state=1, dtype=np.float32)
    obs = pd.DataFrame({"cell_type": pd.Categorical(rng.choice(["b", "a", "t"], 300), categories=["t", "b", "a"]),
                        "age": pd.Categorical(rng.choice(["young", "old"], 300)), "depth": rng.random(300)},
                       index=[f"c{i}" for i in range(300)])
    full = ad.AnnData(X=counts.copy(), obs=obs, layers={"counts": counts}, obsm={"X_pca": rng.standard_normal((300, 5)), "X_umap": rng.random((300, 2))},
                      uns={"truth": {"cell_types": np.array(["t", "b", "a"]), "aging_shift": np.array([0.0, 0.5, 1.0])}})
    path = tmp_path / "processed.h5ad"
    write_h5ad(full, path)
    read = read_h5ad_annotations(path)
    pd.testing.assert_frame_equal(read.obs, ad.read_h5ad(path).obs)
    assert list(read.obs["cell_type"].cat.categories) == ["t", "b", "a"]  # the file's category order
    assert set(read.obsm) == {"X_pca", "X_umap"} and read.n_vars == 0 and not read.layers and read.X is None
    np.testing.assert_array_equal(read.obsm["X_pca"], full.obsm["X_pca"])
    np.testing.assert_array_equal(read.uns["truth"]["aging_shift"], [0.0, 0.5, 1.0])
    only = read_h5ad_annotations(path, obsm=["X_umap", "X_tsne"])  # a key the file lacks is left out
    assert list(only.obsm) == ["X_umap"]
    with h5py.File(path, "a") as handle:  # the matrices are never read: a file whose X and layers are unreadable still gives its annotations
        del handle["X"], handle["layers"]
        handle["X"] = np.zeros(1)
    np.testing.assert_array_equal(read_h5ad_annotations(path, obsm=["X_pca"]).obsm["X_pca"], full.obsm["X_pca"])


def test_h5ad_parts_read_x_var_and_obs_and_never_the_counts_layer_or_the_neighbour_graph(tmp_path):
    """What the aging trajectories' NMF reads: X, var, obs and uns; layers and obsp stay on disk."""
    import h5py

    from figureflow.data.ingest import read_h5ad_parts
    from figureflow.io import write_h5ad

    rng = np.random.default_rng(3)
    X = sp.random(50, 12, density=0.4, format="csr", random_state=2, dtype=np.float32)
    full = ad.AnnData(X=X, obs=pd.DataFrame({"cell_type": list("ab") * 25}, index=[f"c{i}" for i in range(50)]),
                      var=pd.DataFrame({"highly_variable": rng.random(12) > 0.5}, index=[f"g{i}" for i in range(12)]),
                      layers={"counts": X.copy()}, obsp={"connectivities": sp.identity(50, format="csr")}, uns={"truth": {"k": np.arange(3)}})
    path = tmp_path / "p.h5ad"
    write_h5ad(full, path)
    with h5py.File(path, "a") as handle:  # unreadable layers and graph: a reader that touches them fails
        del handle["layers"], handle["obsp"]
        handle["layers"] = np.zeros(1)
        handle["obsp"] = np.zeros(1)
    with pytest.raises(Exception):
        ad.read_h5ad(path)
    read = read_h5ad_parts(path, ("obs", "var", "X", "uns"))
    assert (read.X != full.X).nnz == 0 and read.X.dtype == np.float32
    pd.testing.assert_frame_equal(read.var, full.var)
    pd.testing.assert_frame_equal(read.obs, full.obs)
    np.testing.assert_array_equal(read.uns["truth"]["k"], [0, 1, 2])
    assert not read.layers and not read.obsp
    with pytest.raises(ValueError, match="reading X needs var"):
        read_h5ad_parts(path, ("obs", "X"))
