"""Aging magnitudes: exact OT against references and closed forms, unbiased sampling, planted shifts."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from figureflow.aging import (
    MAGNITUDE_COLUMNS,
    TRAJECTORY_COLUMNS,
    aging_bootstraps,
    aging_datasets,
    aging_trajectories,
    aging_vectors,
    cell_type_magnitude,
    cell_type_wildcards,
    check_config,
    dataset_magnitudes,
    draw_samples,
    emd_distance_pot,
    embedding_by_age,
    exact_ot_distance,
    gather_magnitudes,
    ot_distance,
    planted_cosines,
    planted_shifts,
    sample_size,
    strongest_cell_type,
    summarize_bootstraps,
    transport_plan,
)
from figureflow.io import InputError
from figureflow.seeding import seed_sequence


def pair(n=200, d=5, shift=0.5, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + shift


@pytest.mark.parametrize("n, d", [(50, 2), (300, 30), (500, 10)])
def test_exact_distance_equals_pots_network_simplex(n, d):
    X, Y = pair(n, d, 0.3, seed=n)
    assert exact_ot_distance(X, Y) == pytest.approx(emd_distance_pot(X, Y), rel=1e-9)


def test_exact_distance_is_the_best_of_all_assignments():
    X, Y = pair(6, 3, 1.0, seed=3)
    cost = np.linalg.norm(X[:, None] - Y[None], axis=-1)
    best = min(cost[np.arange(6), list(p)].mean() for p in itertools.permutations(range(6)))
    assert exact_ot_distance(X, Y) == pytest.approx(best, rel=1e-12)


def test_one_dimensional_distance_matches_sorted_samples():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=400), rng.exponential(size=400)
    # in 1-D the optimal plan matches order statistics: W1 = mean |x_(i) - y_(i)|
    assert exact_ot_distance(x[:, None], y[:, None]) == pytest.approx(np.abs(np.sort(x) - np.sort(y)).mean(), rel=1e-12)


def test_pot_solver_retries_with_a_higher_limit_and_never_returns_early():
    X, Y = pair(60, 3, 0.5, seed=2)
    exact = exact_ot_distance(X, Y)
    assert emd_distance_pot(X, Y, max_iter=10, max_tries=4) == pytest.approx(exact, rel=1e-9)  # 10 -> 10^4 iterations
    with pytest.raises(RuntimeError, match="stopped before optimality"):
        emd_distance_pot(X, Y, max_iter=10, max_tries=1)


def test_approximate_metrics_keep_their_known_order_to_the_exact_distance():
    X, Y = pair(150, 4, 0.8, seed=4)
    exact = exact_ot_distance(X, Y)
    # a Sinkhorn plan is feasible, so its transport cost is at least the optimum
    assert ot_distance(X, Y, "sinkhorn") >= exact * (1 - 1e-9)
    # projections are 1-Lipschitz: every projected W1 is at most W1, so their mean is too
    assert ot_distance(X, Y, "sliced", np.random.default_rng(0)) <= exact
    cross, xx, yy = (np.linalg.norm(A[:, None] - B[None], axis=-1).mean() for A, B in ((X, Y), (X, X), (Y, Y)))
    assert ot_distance(X, Y, "energy") == pytest.approx(2 * cross - xx - yy, rel=1e-12)
    with pytest.raises(ValueError, match="unknown metric 'l2'"):
        ot_distance(X, Y, "l2")


def test_sample_sizes_follow_each_sampling_rule():
    assert sample_size(2000, 1500, 500, "disjoint") == 500
    assert sample_size(2000, 601, 500, "disjoint") == 300  # two disjoint samples of the smaller group
    assert sample_size(2000, 1500, 500, "reference") == 500
    assert sample_size(2000, 400, 500, "reference") == 320  # 0.8 x the smaller group, as published


def test_disjoint_samples_share_no_cell_and_reference_samples_overlap():
    rng = np.random.default_rng(5)
    s = draw_samples(300, 250, 120, rng, "disjoint")
    assert all(len(x) == 120 for x in (s.young_a, s.young_b, s.old_a, s.old_b))
    assert not set(s.young_a) & set(s.young_b) and not set(s.old_a) & set(s.old_b)
    r = draw_samples(300, 250, 200, rng, "reference")
    assert len(set(r.old_a) & set(r.old_b)) > 0  # 200 of 250 twice: they must share cells
    with pytest.raises(ValueError, match="two disjoint samples of 130 cells need 260 cells per group, found 300 young and 250 old"):
        draw_samples(300, 250, 130, rng, "disjoint")


def test_bootstraps_are_the_same_for_any_thread_count_and_prefix_stable():
    young, old = pair(300, 5, 0.5, seed=6)
    stream = seed_sequence(3, "aging_magnitudes", {"dataset": "d", "cell_type": "T"})
    one = aging_bootstraps(young, old, stream, 12, 100, n_threads=1)
    two = aging_bootstraps(young, old, stream, 12, 100, n_threads=2)
    assert one.equals(two)
    shorter = aging_bootstraps(young, old, stream, 5, 100, n_threads=2)
    assert shorter.equals(one.iloc[:5])  # bootstrap b depends on b only
    np.testing.assert_array_equal(one["magnitude"], one["old_young"] / np.maximum(one["null_young"], one["null_old"]))
    assert list(one.columns) == ["bootstrap", "n_per_sample", "old_young", "null_young", "null_old", "magnitude"]


def test_too_few_cells_for_a_sample_is_an_error_not_a_number():
    with pytest.raises(ValueError, match="too few cells for one sample: 1 young and 40 old"):
        aging_bootstraps(np.zeros((1, 3)), np.zeros((40, 3)), seed_sequence(0, "t"), 3, 10)


@pytest.fixture(scope="module")
def planted():
    """Eight cell types in a 5-D embedding; old cells shifted by a planted amount (two types by 0)."""
    shifts = np.array([0.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0])
    rng = np.random.default_rng(11)
    types = []
    for k, shift in enumerate(shifts):
        direction = rng.normal(size=5)
        direction /= np.linalg.norm(direction)
        young = rng.normal(size=(600, 5)) * (1 + 0.1 * k)
        old = rng.normal(size=(500, 5)) * (1 + 0.1 * k) + shift * direction
        types.append((young, old))
    return shifts, types


def magnitudes(planted, sampling):
    shifts, types = planted
    out = []
    for k, (young, old) in enumerate(types):
        stream = seed_sequence(7, "aging_magnitudes", {"dataset": "sim", "cell_type": f"T{k}"})
        out.append(summarize_bootstraps(aging_bootstraps(young, old, stream, 20, 200, sampling=sampling, n_threads=2)))
    return out


def test_magnitudes_follow_the_planted_shifts_and_unchanged_types_score_one(planted):
    shifts, _ = planted
    result = magnitudes(planted, "disjoint")
    m = np.array([r["magnitude"] for r in result])
    assert spearmanr(m, shifts).statistic >= 0.9
    assert np.all(m[shifts == 0] <= 1.1) and np.all(m[shifts == 0] >= 0.9)
    assert all(r["ci_low"] <= r["magnitude"] <= r["ci_high"] for r in result)


def test_reference_sampling_inflates_unchanged_types_above_one(planted):
    shifts, _ = planted
    m = np.array([r["magnitude"] for r in magnitudes(planted, "reference")])
    # overlapping null samples share cells that match at zero cost: the null shrinks
    assert np.all(m[shifts == 0] > 1.2)


# ---------------------------------------------------------------- one cell type of a dataset


@pytest.fixture
def atlas():
    import anndata as ad

    rng = np.random.default_rng(2)
    cell_type = np.repeat(["B", "T", "rare"], [300, 400, 30])
    age = np.where(rng.random(cell_type.size) < 0.5, "young", "old")
    age[cell_type == "rare"] = ["old"] * 25 + ["young"] * 5
    X = rng.normal(size=(cell_type.size, 8))
    X[(cell_type == "T") & (age == "old"), 0] += 3.0
    obs = pd.DataFrame({"cell_type": cell_type, "age": pd.Categorical(age, categories=["young", "old"])})
    obs.index = obs.index.astype(str)
    return ad.AnnData(obs=obs, obsm={"X_pca": X})


def test_embedding_by_age_takes_the_cell_types_young_and_old_rows(atlas):
    young, old = embedding_by_age(atlas, "a", "T", n_dims=5)
    chosen = atlas.obs["cell_type"] == "T"
    assert young.shape == (int((chosen & (atlas.obs["age"] == "young")).sum()), 5)
    np.testing.assert_array_equal(old, atlas.obsm["X_pca"][(chosen & (atlas.obs["age"] == "old")).to_numpy(), :5])


def test_a_changed_type_scores_above_an_unchanged_one_and_a_rare_type_gets_a_status(atlas):
    rows = {}
    for cell_type in ("B", "T", "rare"):
        young, old = embedding_by_age(atlas, "a", cell_type)
        stream = seed_sequence(1, "t", {"cell_type": cell_type})
        rows[cell_type], boot = cell_type_magnitude(young, old, cell_type, stream, min_cells=20, n_bootstraps=10, n_per_sample=100)
    assert rows["B"]["status"] == "ok" and 0.9 <= rows["B"]["magnitude"] <= 1.1
    assert rows["T"]["magnitude"] > 1.4  # old T cells moved by 3 sd along one of 8 axes
    assert rows["rare"]["status"] == "skipped: 5 young cells, fewer than min_cells (20)"
    assert np.isnan(rows["rare"]["magnitude"]) and (rows["rare"]["n_young"], rows["rare"]["n_old"]) == (5, 25)
    assert list(rows["B"]) == MAGNITUDE_COLUMNS


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda a: a.obsm.pop("X_pca"), r"dataset 'a' has no obsm\['X_pca'\] \(aging.embedding\); its obsm keys are \[\]"),
        (lambda a: a.obsm["X_pca"].__setitem__((7, 2), np.nan), r"obsm\['X_pca'\] has NaN or infinite values in 1 cell\(s\), e.g. row 7"),
        (lambda a: a.obs.__setitem__("age", "young"), r"dataset 'a' has no old cells at all \(obs 'age'\)"),
        (lambda a: a.obs.drop(columns="age", inplace=True), r"dataset 'a' has no obs column 'age'"),
    ],
)
def test_bad_datasets_are_named_with_the_key_to_fix(atlas, change, message):
    change(atlas)
    with pytest.raises(InputError, match=message):
        embedding_by_age(atlas, "a", "T")


# ---------------------------------------------------------------- planted truth through the data layer


@pytest.fixture(scope="module")
def simulated_atlas():
    """Eight simulated cell types with planted shifts (two of them 0), preprocessed with scanpy (10 PCs)."""
    from figureflow.data.preprocess import preprocess
    from figureflow.data.scrna import simulate_scrna

    shifts = [0.0, 0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0]
    adata = simulate_scrna(seed_sequence(1, "sim"), n_cells=8000, n_genes=2000, n_cell_types=8, aging_shift=shifts)
    return np.array(shifts), preprocess(adata, n_top_genes=1000, n_pcs=10, umap=False, random_state=0)


def test_magnitudes_on_simulated_counts_rank_the_planted_shifts(simulated_atlas):
    shifts, adata = simulated_atlas
    table, bootstraps = dataset_magnitudes(adata, "sim", 1, {"bootstraps": 20, "n_per_sample": 300}, n_threads=2)
    assert (table["status"] == "ok").all() and len(bootstraps) == 8 * 20
    m = table["magnitude"].to_numpy()
    assert spearmanr(m, shifts).statistic >= 0.9
    assert np.all(m[shifts == 0] <= 1.1)
    reference, _ = dataset_magnitudes(adata, "sim", 1, {"bootstraps": 20, "n_per_sample": 300, "sampling": "reference"}, n_threads=2)
    # the published overlapping draws: unchanged types score far above 1
    assert np.all(reference["magnitude"].to_numpy()[shifts == 0] > 1.5)


def test_one_call_over_all_cell_types_equals_one_call_per_cell_type(simulated_atlas):
    _, adata = simulated_atlas
    options = {"bootstraps": 5, "n_per_sample": 60, "n_dims": 5}
    together, boot_together = dataset_magnitudes(adata, "sim", 3, options)
    apart = [dataset_magnitudes(adata, "sim", 3, options, cell_types=[t], n_threads=2) for t in together["cell_type"]]
    assert together.equals(pd.concat([a for a, _ in apart], ignore_index=True))
    assert boot_together.equals(pd.concat([b for _, b in apart], ignore_index=True))


def test_planted_shifts_and_the_strongest_type_are_read_back(simulated_atlas):
    shifts, adata = simulated_atlas
    planted = planted_shifts(adata)
    assert planted == {f"type_{t}": s for t, s in enumerate(shifts)}
    rows = pd.DataFrame({c: [np.nan] * 3 for c in MAGNITUDE_COLUMNS})
    rows["cell_type"], rows["magnitude"], rows["status"] = ["type_0", "type_5", "type_7"], [1.0, 3.0, np.nan], ["ok", "ok", "skipped: few"]
    table = gather_magnitudes([rows.iloc[[i]] for i in range(3)], planted)
    assert table["planted_shift"].tolist() == [0.0, 8.0, 12.0]
    assert strongest_cell_type(table) == "type_5"  # type_7 has no magnitude


def test_transport_plan_is_bootstrap_zeros_optimal_matching():
    young, old = pair(120, 3, 1.0, seed=9)
    stream = seed_sequence(2, "t")
    plan = transport_plan(young, old, stream, n_per_sample=40)
    assert plan["young"].shape == plan["old"].shape == (40, 3) and sorted(plan["match"]) == list(range(40))
    mean_cost = np.linalg.norm(plan["old"] - plan["young"][plan["match"]], axis=1).mean()
    first = aging_bootstraps(young, old, stream, 1, 40)
    assert mean_cost == pytest.approx(first["old_young"].iloc[0], rel=1e-12)
    # the 2-D view: the pooled sample's own principal axes, centred, variance in decreasing order
    flat = np.vstack([plan["young_2d"], plan["old_2d"]])
    np.testing.assert_allclose(flat.mean(axis=0), 0, atol=1e-12)
    pooled = np.vstack([plan["young"], plan["old"]])
    top = np.linalg.eigvalsh(np.cov(pooled.T))[::-1][:2]
    np.testing.assert_allclose(np.var(flat, axis=0, ddof=1), top, rtol=1e-10)


def test_cell_type_wildcards_are_file_safe_and_unique():
    assert cell_type_wildcards(["CD4+ T cell", "CD4/ T cell", "CD8- T", " B ", "?"]) == {
        "CD4_T_cell": "CD4+ T cell", "CD4_T_cell_2": "CD4/ T cell", "CD8-_T": "CD8- T", "B": " B ", "cell_type": "?",
    }


def test_aging_datasets_default_to_those_that_know_their_ages_and_bad_names_are_refused():
    config = {"datasets": {"sim": {"simulate": {}}, "atlas": {"h5ad": "a.h5ad", "young": ["3m"], "old": ["24m"]}, "plain": {"h5ad": "p.h5ad"}}}
    facts = {"datasets": {"sim": {"cell_types": ["type_0"], "ages": True}, "atlas": {"cell_types": ["B cell"], "ages": True}, "plain": {"cell_types": ["x"], "ages": False}}}
    assert aging_datasets(config) == ["sim", "atlas"]
    assert check_config(config, facts) == {"sim": {"type_0": "type_0"}, "atlas": {"B_cell": "B cell"}}
    with pytest.raises(InputError, match=r"aging.datasets names 'plain', whose young and old cells are unknown; set datasets.plain.young"):
        check_config(dict(config, aging={"datasets": ["plain"]}), facts)
    with pytest.raises(InputError, match=r"aging.datasets names 'nope', which is not in datasets; datasets are 'sim', 'atlas', 'plain'"):
        check_config(dict(config, aging={"datasets": ["nope"]}), facts)
    # what preprocessing will make is known before any job: its embeddings and their dimensions
    with pytest.raises(InputError, match=r"aging.embedding is 'X_tsne', which preprocessing does not make for dataset 'sim'; it makes 'X_pca', 'X_umap'"):
        check_config(dict(config, aging={"embedding": "X_tsne"}), facts)
    with pytest.raises(InputError, match=r"aging.n_dims is 40, but obsm\['X_pca'\] of dataset 'sim' will have 30 dimensions \(preprocess.n_pcs\)"):
        check_config(dict(config, aging={"n_dims": 40}), facts)
    with pytest.raises(InputError, match=r"aging.embedding is 'X_umap', which preprocessing does not make"):
        check_config(dict(config, aging={"embedding": "X_umap"}, preprocess={"umap": False}), facts)
    assert check_config(dict(config, aging={"n_dims": 10}, preprocess={"n_pcs": 10}), facts)["sim"] == {"type_0": "type_0"}


# ---------------------------------------------------------------- trajectories


@pytest.fixture(scope="module")
def shared_atlas():
    """Six aging cell types: 0 and 1 share a direction, 2, 3 and 4 share another, 5 has its own
    (no donor effects, which would add a change common to all types)."""
    from figureflow.data.preprocess import preprocess
    from figureflow.data.scrna import simulate_scrna

    adata = simulate_scrna(
        seed_sequence(1, "sim"), n_cells=4000, n_genes=1000, n_cell_types=6, aging_shift=[6, 6, 8, 8, 8, 10],
        shared_aging=[[0, 1], [2, 3, 4]], donor_sd=0.0,
    )
    return preprocess(adata, n_top_genes=500, n_pcs=10, umap=False, random_state=0)


def test_cell_types_with_a_shared_aging_direction_have_aligned_trajectories(shared_atlas):
    table = aging_trajectories(shared_atlas, "sim", 1, n_programs=20, bootstraps=30)
    planted = planted_cosines(shared_atlas, table)
    shared = planted > 0.99
    assert shared.sum() == 4  # (0, 1), (2, 3), (2, 4), (3, 4)
    assert (table["cosine"][shared] > 0.8).all()
    unrelated = table["cosine"][~shared].abs()
    assert unrelated.max() < 0.4 and unrelated.mean() < 0.15
    assert (table["ci_low"] <= table["ci_high"]).all()
    assert list(table.columns) == TRAJECTORY_COLUMNS


def test_trajectories_do_not_depend_on_the_thread_count(shared_atlas):
    from threadpoolctl import threadpool_limits

    small = shared_atlas[:1500].copy()
    tables = []
    for threads in (1, 2):  # the job's pools; a 2-thread BLAS product differs from a 1-thread one in its last bits
        with threadpool_limits(threads):
            tables.append(aging_trajectories(small, "sim", 1, n_programs=8, bootstraps=3))
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)


def test_trajectories_need_non_negative_expression(shared_atlas):
    scaled = shared_atlas.copy()
    X = scaled.X.toarray() if hasattr(scaled.X, "toarray") else np.asarray(scaled.X)
    scaled.X = (X - X.mean(axis=0)) / (X.std(axis=0) + 1e-9)  # what sc.pp.scale leaves
    with pytest.raises(InputError, match=r"dataset 'sim': aging trajectories need non-negative normalized expression in X"):
        aging_trajectories(scaled, "sim", 1, bootstraps=2)


def test_a_type_without_old_cells_has_no_trajectory():
    usage = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 1.0], [0.0, 5.0]])
    vectors = aging_vectors(usage, np.array(["A", "A", "B", "B"]), np.array(["young", "old", "young", "young"]), ["A", "B"])
    np.testing.assert_array_equal(vectors[0], [2.0, 0.0])
    assert np.isnan(vectors[1]).all()


def test_aging_jobs_ask_for_the_interpreter_and_twice_the_annotations_they_read():
    from figureflow.aging import cell_type_job_mb

    assert cell_type_job_mb(0) == 500
    assert cell_type_job_mb(300_000) == 500 + 2 * 300_000 * 500 / 1e6 == 800  # an atlas: 0.8 GB per job, not the whole matrix
    assert cell_type_job_mb(1000, n_dims=10) == 501  # 360 bytes of annotations per cell


def test_trajectories_of_a_file_without_x_say_so(shared_atlas, tmp_path):
    """A processed file written without X reads (read_h5ad_parts) with X None: a sentence, not a traceback."""
    import anndata as ad

    from figureflow.data.ingest import read_h5ad_parts

    path = tmp_path / "no_x.h5ad"
    ad.AnnData(obs=shared_atlas.obs.copy()).write_h5ad(path)
    adata = read_h5ad_parts(path, ("obs", "var", "X", "uns"))
    assert adata.X is None
    with pytest.raises(InputError, match=r"^dataset 'sim': aging trajectories need normalized expression in X \(for NMF\), but the file has no X$"):
        aging_trajectories(adata, "sim", 1, bootstraps=2)
