import numpy as np
import pytest
import scipy.sparse as sp

from figureflow.data.scrna import default_aging_shift, simulate_scrna
from figureflow.seeding import seed_sequence


def small(seed=1, **kw):
    params = dict(n_cells=500, n_genes=120, n_cell_types=3, aging_shift=[0.0, 1.0, 2.0])
    params.update(kw)
    return simulate_scrna(seed_sequence(seed, "simulate_scrna", {"dataset": "t"}), **params)


def test_output_has_integer_sparse_counts_and_annotations():
    a = small()
    assert a.shape == (500, 120)
    assert sp.issparse(a.X) and a.X.dtype == np.int32 and a.X.data.min() >= 0
    assert list(a.obs.columns) == ["cell_type", "age", "donor"]
    assert list(a.obs["age"].cat.categories) == ["young", "old"]
    assert set(a.obs["cell_type"]) == {"type_0", "type_1", "type_2"}
    # donors are nested in age groups
    for donor, ages in a.obs.groupby("donor", observed=True)["age"]:
        assert ages.nunique() == 1 and donor.startswith(ages.iloc[0])


def test_same_seed_identical_other_seed_different():
    a, b, c = small(1), small(1), small(2)
    assert (a.X != b.X).nnz == 0 and a.obs.equals(b.obs)
    assert (a.X != c.X).nnz > 0


def test_thread_count_does_not_change_counts():
    # more cells than one chunk (4096) so that the threads really split the work
    a = small(n_cells=9000, n_genes=30, n_threads=1)
    b = small(n_cells=9000, n_genes=30, n_threads=2)
    assert (a.X != b.X).nnz == 0


def test_planted_shift_is_exact_in_log_mean_space():
    a = small()
    truth = a.uns["truth"]
    diff = truth["log_mean_old"] - truth["log_mean_young"]
    np.testing.assert_allclose(np.linalg.norm(diff, axis=1), [0.0, 1.0, 2.0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(truth["aging_direction"], axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(diff, truth["aging_shift"][:, None] * truth["aging_direction"], atol=1e-12)
    assert (np.count_nonzero(truth["aging_direction"], axis=1) == 50).all()
    np.testing.assert_array_equal(truth["cell_types"], ["type_0", "type_1", "type_2"])


def test_counts_have_negative_binomial_mean_and_variance():
    # one cell type, no library-size or donor spread: each gene is NB(mu_g, r) across cells
    r = 4.0
    a = small(n_cells=6000, n_genes=200, n_cell_types=1, aging_shift=[0.0], dispersion=r, library_size_sd=0.0, donor_sd=0.0, library_size=2000)
    log_mean = a.uns["truth"]["log_mean_young"][0]
    mu = 2000 * np.exp(log_mean) / np.exp(log_mean).sum()
    X = a.X.toarray().astype(float)
    mean, var = X.mean(axis=0), X.var(axis=0, ddof=1)
    model_var = mu + mu**2 / r
    z = (mean - mu) / np.sqrt(model_var / X.shape[0])
    # z-scores of 200 independent genes: standard normal
    assert np.mean(np.abs(z) < 3) >= 0.98
    assert abs(z.mean()) < 4 / np.sqrt(z.size)
    # variance: pooled ratio to the NB variance is 1 (well-expressed genes, where it is precise)
    expressed = mu > 1
    ratio = var[expressed].sum() / model_var[expressed].sum()
    assert abs(ratio - 1) < 0.05


def test_empirical_aging_shift_recovers_the_planted_one():
    a = small(n_cells=8000, n_genes=150, library_size=50_000, library_size_sd=0.0, donor_sd=0.0, dispersion=20.0)
    truth = a.uns["truth"]
    X = a.X.toarray().astype(float)
    for t, planted in enumerate(truth["aging_shift"]):
        in_type = (a.obs["cell_type"] == f"type_{t}").to_numpy()
        old = X[in_type & (a.obs["age"] == "old").to_numpy()].mean(axis=0)
        young = X[in_type & (a.obs["age"] == "young").to_numpy()].mean(axis=0)
        u = truth["aging_direction"][t]
        support = u != 0
        estimate = (np.log(old[support]) - np.log(young[support])) @ u[support]
        assert abs(estimate - planted) < 0.1, (t, estimate, planted)


def test_default_aging_shift_is_zero_for_even_types():
    np.testing.assert_allclose(default_aging_shift(5), [0.0, 0.75, 0.0, 1.5, 0.0])
    np.testing.assert_allclose(default_aging_shift(1), [0.0])
    a = small(aging_shift=None, n_cell_types=4)
    np.testing.assert_allclose(a.uns["truth"]["aging_shift"], default_aging_shift(4))


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"aging_shift": [1.0]}, "one per cell type"),
        ({"aging_shift": [0.0, -1.0, 1.0]}, "non-negative"),
        ({"dispersion": 0.0}, "dispersion"),
        ({"old_fraction": 1.0}, "old_fraction"),
        ({"n_cells": 0}, "n_cells"),
    ],
)
def test_bad_parameters_are_refused(kw, message):
    with pytest.raises(ValueError, match=message):
        small(**kw)
