import numpy as np
import pytest
import scipy.sparse as sp

from figureflow.data.preprocess import covariance_pca, preprocess, qc_table
from figureflow.data.scrna import simulate_scrna
from figureflow.seeding import seed_sequence


@pytest.fixture(scope="module")
def raw():
    return simulate_scrna(seed_sequence(3, "t"), n_cells=400, n_genes=200, n_cell_types=3, aging_shift=[0, 1, 2])


@pytest.fixture(scope="module")
def processed(raw):
    return preprocess(raw, random_state=0, target_sum=1e4, n_top_genes=80, n_pcs=12)


def test_counts_are_kept_unchanged(raw, processed):
    assert (processed.layers["counts"] != raw.X.astype(np.float32)).nnz == 0
    assert (raw.X != raw.X).nnz == 0 and raw.X.dtype == np.int32  # input untouched


def test_log_normalized_cells_sum_to_target(processed):
    totals = np.asarray(np.expm1(processed.X.astype(np.float64)).sum(axis=1)).ravel()
    np.testing.assert_allclose(totals, 1e4, rtol=1e-5)


def test_hvg_and_pca_shapes(processed):
    assert processed.var["highly_variable"].sum() == 80
    assert processed.obsm["X_pca"].shape == (400, 12)
    assert "X_umap" not in processed.obsm


def test_first_pcs_separate_cell_types(processed):
    # three planted cell types: the nearest type mean in PC space classifies almost every cell
    pcs = processed.obsm["X_pca"][:, :5]
    types = processed.obs["cell_type"].to_numpy()
    means = {t: pcs[types == t].mean(axis=0) for t in np.unique(types)}
    labels = np.array(list(means))
    nearest = labels[np.argmin([[np.linalg.norm(p - means[t]) for t in labels] for p in pcs], axis=1)]
    assert np.mean(nearest == types) > 0.95


def test_covariance_pca_is_the_svd_of_the_centred_data():
    rng = np.random.default_rng(5)
    X = sp.random(700, 40, density=0.3, format="csr", random_state=rng, dtype=np.float64) * 3.0 + 0.0
    X.data = np.log1p(X.data) + 2.0  # a mean far from zero, as log-normalized expression has
    dense = X.toarray()
    centred = dense - dense.mean(axis=0)
    u, sv, vt = np.linalg.svd(centred, full_matrices=False)
    scores, components, variance, ratio = covariance_pca(X, 6, chunk_rows=128)  # several blocks, the last one short
    np.testing.assert_allclose(variance, sv[:6] ** 2 / 699, rtol=1e-10)
    np.testing.assert_allclose(ratio, sv[:6] ** 2 / (sv**2).sum(), rtol=1e-10)
    signs = np.sign(vt[:6][np.arange(6), np.abs(vt[:6]).argmax(axis=1)])  # scikit-learn's: largest loading positive
    np.testing.assert_allclose(components, (vt[:6] * signs[:, None]).T, atol=1e-6)
    np.testing.assert_allclose(scores, u[:, :6] * sv[:6] * signs, atol=2e-5)
    assert components[np.abs(components).argmax(axis=0), np.arange(6)].min() > 0
    # some genes of a wider matrix: the same as on those columns alone, without copying them
    wide = sp.hstack([sp.random(700, 15, density=0.5, format="csr", random_state=rng), X]).tocsr()
    chosen = covariance_pca(wide, 6, genes=np.arange(15, 55), chunk_rows=128)
    for a, b in zip(chosen, (scores, components, variance, ratio)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_covariance_pca_agrees_with_scanpys_arpack_as_preprocess_stores_it(processed):
    import scanpy as sc

    hvg = processed.var["highly_variable"].to_numpy()
    reference = processed.copy()
    sc.pp.pca(reference, n_comps=12, mask_var="highly_variable", svd_solver="arpack", random_state=0)
    cos = np.abs(np.sum(reference.varm["PCs"][hvg] * processed.varm["PCs"][hvg], axis=0))
    assert cos.min() > 1 - 1e-5
    np.testing.assert_allclose(processed.uns["pca"]["variance"], reference.uns["pca"]["variance"], rtol=1e-4)
    np.testing.assert_allclose(processed.uns["pca"]["variance_ratio"], reference.uns["pca"]["variance_ratio"], rtol=1e-4)
    np.testing.assert_allclose(np.abs(processed.obsm["X_pca"]), np.abs(reference.obsm["X_pca"]), atol=1e-3 * np.abs(reference.obsm["X_pca"]).max())
    assert not processed.varm["PCs"][~hvg].any()  # genes outside the selection load nothing


def test_covariance_pca_is_the_same_to_the_last_bit_on_any_thread_count():
    # 300 genes: three column blocks of COVARIANCE_COLUMNS, shared by 1, 2 or 3 workers; a
    # multithreaded BLAS product of this size differs in its last bits between 1 and 2 threads
    rng = np.random.default_rng(9)
    X = sp.random(3000, 300, density=0.3, format="csr", random_state=rng, dtype=np.float32)
    runs = [covariance_pca(X, 10, chunk_rows=1024, n_threads=t) for t in (1, 2, 3)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_same_random_state_same_embedding(raw, processed):
    again = preprocess(raw, random_state=0, target_sum=1e4, n_top_genes=80, n_pcs=12)
    np.testing.assert_array_equal(again.obsm["X_pca"], processed.obsm["X_pca"])


def test_preprocessing_in_place_gives_the_same_file_contents(raw, processed):
    own = raw.copy()
    result = preprocess(own, random_state=0, target_sum=1e4, n_top_genes=80, n_pcs=12, copy=False)
    assert result is own and own.X.dtype == np.float32  # the job's own matrix, replaced
    np.testing.assert_array_equal(result.obsm["X_pca"], processed.obsm["X_pca"])
    assert (result.X != processed.X).nnz == 0 and (result.layers["counts"] != processed.layers["counts"]).nnz == 0
    assert result.var["highly_variable"].equals(processed.var["highly_variable"])


def test_pcs_are_capped_by_data_size(raw):
    tiny = preprocess(raw[:30].copy(), random_state=0, n_top_genes=20, n_pcs=50)
    assert tiny.obsm["X_pca"].shape[1] == 19


def test_qc_table_counts_cells_and_totals(raw):
    table = qc_table(raw)
    assert table["n_cells"].sum() == raw.n_obs
    assert list(table.columns[:2]) == ["cell_type", "age"]
    row = table[(table.cell_type == "type_1") & (table.age == "old")].iloc[0]
    mask = ((raw.obs.cell_type == "type_1") & (raw.obs.age == "old")).to_numpy()
    X = sp.csr_matrix(raw.X)[mask]
    assert row.n_cells == mask.sum()
    assert row.median_total_counts == np.median(np.asarray(X.sum(axis=1)).ravel())
    assert row.median_genes_detected == np.median(np.diff(X.indptr))


def test_atlas_sized_data_runs_neighbours_and_umap_and_finds_the_true_neighbours():
    """12,000 cells (above scanpy's exact-search limit of 8,192, where scanpy 1.11.5 with scipy 1.17
    raised AttributeError on getnnz): the approximate graph is found, its neighbours are the exact
    ones (sklearn brute force) for nearly every cell, and UMAP runs on it."""
    from sklearn.neighbors import NearestNeighbors

    from figureflow.data.preprocess import EXACT_NEIGHBOURS_BELOW

    n = 12_000
    assert n > EXACT_NEIGHBOURS_BELOW
    big = simulate_scrna(seed_sequence(5, "atlas"), n_cells=n, n_genes=120, n_cell_types=6, aging_shift=[0, 1, 2, 3, 4, 5])
    out = preprocess(big, random_state=0, n_top_genes=100, n_pcs=10, umap=True, n_neighbors=15)
    assert out.obsm["X_umap"].shape == (n, 2) and np.isfinite(out.obsm["X_umap"]).all()
    distances = out.obsp["distances"]
    assert sp.issparse(distances) and distances.shape == (n, n)
    distances = distances.tocsr()
    counts = np.diff(distances.indptr)
    assert counts.min() >= 14  # 15 neighbours with the cell itself, which is not stored
    exact = NearestNeighbors(n_neighbors=14).fit(out.obsm["X_pca"]).kneighbors(return_distance=False)
    found = [distances.indices[a:b][np.argsort(distances.data[a:b], kind="stable")[:14]] for a, b in zip(distances.indptr[:-1], distances.indptr[1:])]
    recall = np.mean([len(set(a) & set(b)) / 14 for a, b in zip(found, exact)])
    assert recall > 0.9, recall  # PyNNDescent is approximate: 0.93 here; a wrong graph scores near 0
