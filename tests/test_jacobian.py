import numpy as np
import pytest
import torch

from figureflow.io import InputError
from figureflow.jacobian.maps import builtin_map, stereographic_exact_mean
from figureflow.jacobian.measure import (
    estimate_table,
    jacobians,
    latent_grid,
    monte_carlo,
    randomized_qmc,
    standard_normal,
    volume_elements,
    volume_from_jacobian,
)
from figureflow.jacobian.torch_maps import random_mlp, reference_jacobians, torch_jacobians, torch_map
from figureflow.maps import resolve_map
from figureflow.seeding import seed_sequence

BUILTINS = [
    ("toy", None),
    ("linear", {"matrix": [[1.0, 2.0], [0.0, 1.0], [3.0, 1.0], [1.0, -1.0]]}),
    ("linear", {"matrix": [[1, 0, 2], [0, 1, 1], [1, 1, 0], [2, 0, 1], [0, 3, 1]]}),  # d = 3: the QR path
    ("helix", {"c": 0.5}),
    ("stereographic", None),
]
IDS = ["toy", "linear2", "linear3", "helix", "stereographic"]


def points(latent, n=2000, seed=0):
    return standard_normal(seed_sequence(seed, "test_jacobian"), n, latent.d) * 1.5


@pytest.mark.parametrize("name, params", BUILTINS, ids=IDS)
def test_complex_step_jacobian_matches_the_analytic_one(name, params):
    latent = builtin_map(name, params)
    Z = points(latent)
    exact = jacobians(latent, Z, "analytic")
    step = jacobians(latent, Z, "complex_step")
    rel = np.linalg.norm(step - exact, axis=(1, 2)) / np.linalg.norm(exact, axis=(1, 2))
    assert rel.max() <= 1e-12


@pytest.mark.parametrize("name, params", BUILTINS, ids=IDS)
@pytest.mark.parametrize("method", ["analytic", "complex_step"])
def test_volume_element_matches_its_closed_form(name, params, method):
    latent = builtin_map(name, params)
    Z = points(latent)
    np.testing.assert_allclose(volume_elements(latent, Z, method), latent.volume(Z), rtol=1e-12)


def test_toy_volume_is_the_squared_radius_and_linear_volume_the_gram_determinant():
    toy = builtin_map("toy")
    Z = np.array([[1.0, 2.0], [0.0, 0.0], [-3.0, 0.5]])
    np.testing.assert_allclose(volume_elements(toy, Z), [5.0, 0.0, 9.25], rtol=1e-14, atol=1e-300)
    A = np.array([[1, 0, 2], [0, 1, 1], [1, 1, 0], [2, 0, 1]], dtype=float)
    assert builtin_map("linear", {"matrix": A}).exact_mean == pytest.approx(np.sqrt(np.linalg.det(A.T @ A)), rel=1e-14)


@pytest.mark.parametrize("d, D", [(1, 1), (1, 4), (2, 2), (2, 5), (3, 3), (3, 6), (4, 7)])
def test_volume_from_jacobian_equals_sqrt_det_gram(d, D):
    rng = np.random.default_rng(d * 10 + D)
    for _ in range(20):
        J = rng.normal(size=(D, d))
        got = volume_from_jacobian(J, np.empty((D, d)), np.empty(D))
        assert got == pytest.approx(np.sqrt(np.linalg.det(J.T @ J)), rel=1e-12)


def test_rank_deficient_jacobian_has_zero_volume():
    J = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [0.0, 1.0, 1.0], [1.0, 3.0, 4.0]])  # column 3 = 1 + 2
    assert volume_from_jacobian(J, np.empty((4, 3)), np.empty(4)) < 1e-13


def test_finite_difference_reference_is_forward_differences():
    # the toy map is quadratic, so forward differences with step h are known exactly:
    # d(c r z0^2) -> c r (2 z0 + h), d(c z0 z1) -> c z1 (linear terms are exact)
    from figureflow.jacobian.measure import finite_difference_volume_elements

    toy, h = builtin_map("toy"), 1e-2
    Z = points(toy, 500)
    c, r = 2.0**-0.25, 1 / np.sqrt(2.0)
    J = np.zeros((len(Z), 3, 2))
    J[:, 0, 0] = c * r * (2 * Z[:, 0] + h)
    J[:, 1, 1] = c * r * (2 * Z[:, 1] + h)
    J[:, 2, 0], J[:, 2, 1] = c * Z[:, 1], c * Z[:, 0]
    expected = np.sqrt(np.linalg.det(np.einsum("nij,nik->njk", J, J)))
    got = finite_difference_volume_elements(toy, Z, step=h)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)
    assert np.abs(got - toy.volume(Z)).max() > 1e-3  # and it is not the exact volume


@pytest.mark.parametrize("name, params", BUILTINS, ids=IDS)
@pytest.mark.parametrize("estimator", ["mc", "rqmc"])
def test_estimate_is_within_four_standard_errors_of_the_exact_mean(name, params, estimator):
    latent = builtin_map(name, params)
    ss = seed_sequence(11, "test_jacobian", {"map": name})
    est = monte_carlo(latent, 2**16, ss) if estimator == "mc" else randomized_qmc(latent, 2**16, ss)
    assert abs(est.estimate - latent.exact_mean) <= 4 * est.std_error + 1e-12 * latent.exact_mean
    assert est.ci_low <= est.estimate <= est.ci_high


def test_stereographic_exact_mean_matches_a_brute_force_integral():
    # E[4 / (1 + |z|^2)^2] on a fine polar grid: r from 0 to 12, density r exp(-r^2/2)
    r = np.linspace(0, 12, 2_000_001)
    f = 4 / (1 + r**2) ** 2 * r * np.exp(-(r**2) / 2)
    assert stereographic_exact_mean() == pytest.approx(np.trapezoid(f, r), rel=1e-10)


def test_stereographic_exact_mean_equals_scipys_exponential_integral_and_quadrature():
    # the closed form 2 - sqrt(e) E_1(1/2), against scipy's E_1 and an adaptive quadrature of the density
    from scipy.integrate import quad
    from scipy.special import exp1

    assert stereographic_exact_mean() == pytest.approx(2.0 - np.sqrt(np.e) * exp1(0.5), rel=4e-16)
    value, _ = quad(lambda t: 4.0 / (1.0 + t) ** 2 * 0.5 * np.exp(-0.5 * t), 0.0, np.inf, epsabs=1e-15, epsrel=1e-13)
    assert stereographic_exact_mean() == pytest.approx(value, rel=1e-13)


@pytest.mark.parametrize("name", ["toy", "stereographic"])
@pytest.mark.parametrize("estimator", ["mc", "rqmc"])
def test_95_percent_interval_covers_the_exact_mean_at_least_40_of_50_times(name, estimator):
    latent = builtin_map(name)
    hits = 0
    for seed in range(50):
        ss = seed_sequence(seed, "coverage", {"map": name})
        est = monte_carlo(latent, 4096, ss) if estimator == "mc" else randomized_qmc(latent, 4096, ss)
        hits += est.ci_low <= latent.exact_mean <= est.ci_high
    assert hits >= 40


@pytest.mark.parametrize("estimator", [monte_carlo, randomized_qmc])
def test_same_seed_gives_identical_estimates_for_1_and_2_threads(estimator, two_numba_threads):
    latent = builtin_map("stereographic")
    one = estimator(latent, 2**18, seed_sequence(3, "threads"), n_threads=1)
    two = estimator(latent, 2**18, seed_sequence(3, "threads"), n_threads=2)
    assert (one.estimate, one.std_error) == (two.estimate, two.std_error)


def test_sampling_is_identical_for_any_thread_count_large(two_numba_threads):
    a = standard_normal(seed_sequence(1, "s"), 600_000, 3, n_threads=1)
    b = standard_normal(seed_sequence(1, "s"), 600_000, 3, n_threads=2)
    np.testing.assert_array_equal(a, b)


def test_rqmc_needs_scrambles_times_a_power_of_two():
    with pytest.raises(ValueError, match="n_scrambles x 2"):
        randomized_qmc(builtin_map("toy"), 1000, seed_sequence(1, "q"))


def test_estimate_table_has_the_documented_columns():
    table = estimate_table(builtin_map("toy"), ["mc", "rqmc"], [256, 1024], 1, "t")
    assert list(table.columns) == ["map", "quantity", "estimator", "n_samples", "estimate", "std_error", "ci_low", "ci_high", "exact",
                                   "pareto_k", "status", "seconds"]
    assert table["estimator"].tolist() == ["mc"] * 4 + ["rqmc"] * 4 and table["quantity"].tolist() == ["D", "log_D"] * 4
    d, log_d = table[table["quantity"] == "D"], table[table["quantity"] == "log_D"]
    assert (d["exact"] == 2.0).all() and (log_d["exact"] == np.log(2.0) - 0.5772156649015329).all() and (table["status"] == "ok").all()


# ---------------------------------------------------------------- torch


def test_torch_func_jacobian_equals_the_autograd_reference_in_float32():
    fn = random_mlp(3, 5, 16, seed=4, dtype=torch.float32)
    Z = torch.randn(300, 3, generator=torch.Generator().manual_seed(0))
    fast, reference = torch_jacobians(fn, Z), reference_jacobians(fn, Z)
    assert fast.dtype == torch.float32 and fast.shape == (300, 5, 3)
    assert (fast - reference).abs().amax(dim=(1, 2)).max().item() <= 1e-6


def test_torch_volume_elements_equal_sqrt_det_of_the_reference_jacobian():
    fn = random_mlp(2, 4, 8, seed=1)
    latent = torch_map("mlp", fn, 2, 4)
    Z = points(latent, 200)
    J = reference_jacobians(fn, torch.as_tensor(Z)).numpy()
    expected = np.sqrt(np.linalg.det(np.einsum("nij,nik->njk", J, J)))
    np.testing.assert_allclose(volume_elements(latent, Z), expected, rtol=1e-10)


def test_torch_linear_map_has_the_linear_volume():
    A = torch.tensor([[1.0, 2.0], [0.0, 1.0], [3.0, 1.0]], dtype=torch.float64)
    latent = torch_map("lin", lambda z: A @ z, 2, 3)
    est = monte_carlo(latent, 1024, seed_sequence(1, "t"))
    assert est.estimate == pytest.approx(np.sqrt(np.linalg.det((A.T @ A).numpy())), rel=1e-12)


@pytest.mark.parametrize("estimator", ["mc", "rqmc", "grid"])
def test_estimators_refuse_to_write_a_non_finite_estimate(user_maps, estimator):
    # the same map without the check before any job: the estimator itself must stop
    latent = resolve_map("m", {"map": "user_maps:nan_below_zero", "latent_dim": 2, "data_dim": 3})
    message = r"map 'm': the volume element D\(z\) is (nan|inf) at the latent point z = \[-[0-9.e-]+, -?[0-9.e-]+\] \(\d+ of \d+ points of"
    with pytest.raises(InputError, match=message):
        if estimator == "mc":
            monte_carlo(latent, 256, seed_sequence(1, "t"))
        elif estimator == "rqmc":
            randomized_qmc(latent, 256, seed_sequence(1, "t"))
        else:
            latent_grid(latent, 11, 2.0)


def test_ndtri_matches_scipy_over_the_whole_range():
    from scipy.special import ndtri as scipy_ndtri

    from figureflow.jacobian.normal import ndtri_array

    rng = np.random.default_rng(0)
    p = np.concatenate([rng.random(200_000), 10.0 ** -rng.uniform(0, 300, 20_000), 1 - 10.0 ** -rng.uniform(1, 15, 20_000), [0.5]])
    reference = scipy_ndtri(p)
    np.testing.assert_allclose(ndtri_array(p), reference, rtol=5e-15, atol=1e-300)
    assert ndtri_array(np.array([0.5]))[0] == 0.0


# ---------------------------------------------------------------- the normal sampler


def test_ziggurat_layers_have_equal_areas():
    from scipy import stats

    from figureflow.jacobian.normal import _ZIG_V, ZIG_F, ZIG_X

    widths, heights = ZIG_X[1:256], ZIG_F[2:257] - ZIG_F[1:256]
    np.testing.assert_allclose(widths * heights, _ZIG_V, rtol=1e-8)  # layers 1 .. 255
    tail = np.sqrt(2 * np.pi) * stats.norm.sf(ZIG_X[1])
    assert ZIG_X[1] * ZIG_F[1] + tail == pytest.approx(_ZIG_V, rel=1e-10)  # the base strip and its tail


def test_sampler_draws_standard_normals():
    from scipy import stats

    z = standard_normal(seed_sequence(5, "sampler"), 500_000, 2).ravel()
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / np.sqrt(z.size) and abs(z.var() - 1) < 4 * np.sqrt(2 / z.size)
    for a in (1.0, 2.0, 3.0, 3.6541528853610088, 4.0):  # tail masses, the ziggurat's own tail included
        lo, hi = stats.binom.interval(0.999, z.size, 2 * stats.norm.sf(a))
        assert lo <= np.sum(np.abs(z) > a) <= hi, a


def test_sampler_is_the_same_for_any_thread_count_and_prefix_stable(two_numba_threads):
    from figureflow.jacobian.normal import SAMPLE_CHUNK

    a = standard_normal(seed_sequence(1, "s"), 3 * SAMPLE_CHUNK + 17, 3, n_threads=1)
    b = standard_normal(seed_sequence(1, "s"), 3 * SAMPLE_CHUNK + 17, 3, n_threads=2)
    np.testing.assert_array_equal(a, b)
    c = standard_normal(seed_sequence(1, "s"), SAMPLE_CHUNK, 3)
    np.testing.assert_array_equal(a[:SAMPLE_CHUNK], c)  # chunk streams do not depend on n
    assert not np.array_equal(a, standard_normal(seed_sequence(2, "s"), 3 * SAMPLE_CHUNK + 17, 3))


# ---------------------------------------------------------------- what the figures draw


def test_figure_grids_hold_the_closed_form_volume_and_the_toy_image():
    from figureflow.jacobian.measure import figure_grids

    arrays = figure_grids(builtin_map("toy"), 9, 2.0, image_grid_size=5, image_curve_size=50)
    axis = np.linspace(-2.0, 2.0, 9)
    np.testing.assert_array_equal(arrays["axis"], axis)
    z1, z2 = np.meshgrid(axis, axis)  # rows: z2
    np.testing.assert_allclose(arrays["volume"], z1**2 + z2**2, rtol=1e-13, atol=1e-15)
    assert int(arrays["latent_dim"]) == 2
    u1, u2 = np.meshgrid(arrays["image_axis"], arrays["image_axis"])
    c = 2.0**-0.25
    expected = np.stack([c * u1**2 / np.sqrt(2), c * u2**2 / np.sqrt(2), c * u1 * u2], axis=-1)
    np.testing.assert_allclose(arrays["image_points"], expected, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(arrays["image_volume"], u1**2 + u2**2, rtol=1e-13, atol=1e-15)


def test_figure_grids_of_a_curve_and_of_a_map_into_4d():
    from figureflow.jacobian.measure import figure_grids

    helix = figure_grids(builtin_map("helix", {"c": 0.5}), 7, 3.0, image_grid_size=5, image_curve_size=11)
    assert helix["volume"].shape == (7,) and helix["image_points"].shape == (11, 3)  # a curve: image_curve_size
    np.testing.assert_allclose(helix["volume"], np.sqrt(1.25), rtol=1e-14)
    t = np.linspace(-3.0, 3.0, 11)
    np.testing.assert_allclose(helix["image_points"], np.stack([np.cos(t), np.sin(t), 0.5 * t], axis=-1), rtol=1e-14, atol=1e-15)
    # a map into 4-D has no image to draw
    linear = figure_grids(builtin_map("linear", {"matrix": [[1, 0], [0, 1], [1, 1], [2, 0]]}), 5, 1.0)
    assert set(linear) == {"latent_dim", "axis", "volume"}


def test_rqmc_sample_sizes_are_checked_against_the_scrambles():
    from figureflow.jacobian.measure import check_sample_sizes

    check_sample_sizes(["mc", "rqmc"], [256, 1024], 16)  # 16 x 2^4, 16 x 2^6
    check_sample_sizes(["mc"], [1000], 16)  # plain Monte Carlo takes any size
    with pytest.raises(InputError, match=r"config key jacobian.sample_sizes: for rqmc each size must be scrambles \(16\) x a power of 2, found 1000, 48"):
        check_sample_sizes(["rqmc"], [256, 1000, 48], 16)


def test_torch_volumes_never_hold_more_than_one_block_and_a_row_depends_only_on_its_block(monkeypatch):
    """The issue's 5 -> 300 decoder at 2^20 samples held 12.6 GB of Jacobians at once: now no call of
    torch.func sees more than block_rows(d, D) rows, the blocks are a function of the map's shape
    (BLOCK_BYTES / (40 d D) rows, a power of 2), and computing the blocks one call at a time gives
    the same bits as the whole sample."""
    import figureflow.jacobian.torch_maps as tm

    fn = random_mlp(5, 300, 32, seed=2)
    rows = tm.block_rows(5, 300)
    assert rows == 2 ** int(np.log2(tm.BLOCK_BYTES // (40 * 5 * 300))) and tm.block_rows(2, 3) == 4096 and tm.block_rows(50, 20000) == 1
    Z = np.random.default_rng(0).standard_normal((2 * rows + 37, 5))
    seen = []
    inner = tm.torch_jacobians

    def spy(f, batch, chunk=65536):
        seen.append(batch.shape[0])
        return inner(f, batch, chunk)

    monkeypatch.setattr(tm, "torch_jacobians", spy)
    whole = tm.torch_volume_elements(fn, Z)
    assert seen == [rows, rows, 37]
    parts = np.concatenate([tm.torch_volume_elements(fn, Z[i : i + rows]) for i in range(0, len(Z), rows)])
    np.testing.assert_array_equal(whole, parts)
    J = reference_jacobians(fn, torch.as_tensor(Z[:3]))
    np.testing.assert_allclose(whole[:3], np.sqrt(np.linalg.det(np.einsum("nji,njk->nik", J.numpy(), J.numpy()))), rtol=1e-10)


def test_a_jacobian_job_asks_for_memory_that_grows_only_by_d_plus_one_numbers_a_sample():
    from figureflow.jacobian.measure import jacobian_memory_mb
    from figureflow.jacobian.torch_maps import BLOCK_BYTES

    assert jacobian_memory_mb(2**20, 5) == 1500  # 1000 + 4 x 2^20 x 6 x 8 B + 2 blocks = 1335 MB, rounded up
    assert jacobian_memory_mb(2**20, 5) == int(np.ceil((1000 + (4 * 2**20 * 6 * 8 + 2 * BLOCK_BYTES) / 1e6) / 500) * 500)
    assert jacobian_memory_mb(2**24, 5) == 4500  # 1000 + 3221 + 134 MB


# ---------------------------------------------------------------- Monte Carlo in one pass, kernels kept on disk


@pytest.mark.parametrize("name, params", [BUILTINS[0], BUILTINS[2], BUILTINS[3]], ids=["toy", "linear3", "helix"])
def test_monte_carlo_in_blocks_is_the_mean_and_variance_of_the_whole_sample(name, params):
    import math

    from figureflow.jacobian.measure import SAMPLE_CHUNK, _streamed_moments

    latent = builtin_map(name, params)
    n = 2 * SAMPLE_CHUNK + 1234  # three chunks, the last one short
    ss = seed_sequence(4, "streamed")
    values = volume_elements(latent, standard_normal(ss, n, latent.d))  # the same points, held
    logs = np.log(values)
    # one block: the bits of the whole sample held, for D and for log D
    whole = _streamed_moments(latent, n, ss, "analytic", 1, "test")
    assert whole[:4] == (np.sum(values) / n, np.var(values, ddof=1), np.sum(logs) / n, np.var(logs, ddof=1))
    # blocks of one chunk each: the same up to rounding, and the same for any thread count
    mean, variance, log_mean, log_variance, tails = _streamed_moments(latent, n, ss, "analytic", 1, "test", block_chunks=1)
    assert mean == math.fsum([np.sum(values[i : i + SAMPLE_CHUNK]) for i in range(0, n, SAMPLE_CHUNK)]) / n
    assert abs(mean - math.fsum(values) / n) <= 4 * np.spacing(abs(mean)) + 1e-300
    assert variance == pytest.approx(np.var(values, ddof=1), rel=1e-12, abs=1e-28)
    assert log_mean == pytest.approx(np.mean(logs), rel=1e-14) and log_variance == pytest.approx(np.var(logs, ddof=1), rel=1e-12, abs=1e-28)
    two = _streamed_moments(latent, n, ss, "analytic", 2, "test", block_chunks=1)
    assert (mean, variance, log_mean, log_variance) == two[:4]
    # the tails kept over blocks are the whole sample's, whatever the blocks and threads
    assert tails.d.khat() == whole[4].d.khat() == two[4].d.khat()
    assert np.array_equal(np.sort(tails.d.upper), np.sort(values)[-len(tails.d.upper):])


def test_streamed_monte_carlo_names_the_first_point_where_d_is_not_finite(user_maps):
    from figureflow.jacobian.measure import _streamed_moments

    latent = resolve_map("m", {"map": "user_maps:nan_below_zero", "latent_dim": 2, "data_dim": 3})
    n = 70_000  # two chunks
    ss = seed_sequence(2, "bad")
    Z = standard_normal(ss, n, 2)
    bad = Z[:, 0] < 0
    first = ", ".join(f"{v:.6g}" for v in Z[np.flatnonzero(bad)[0]])
    with pytest.raises(InputError, match=rf"z = \[{first}\] \({bad.sum()} of {n} points of the test\)"):
        _streamed_moments(latent, n, ss, "complex_step", 2, "the test", block_chunks=1)


def _run_cached(tmp_path, code):
    import os
    import subprocess
    import sys

    env = dict(os.environ, FIGUREFLOW_KERNEL_CACHE=str(tmp_path / "cache"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_a_second_process_loads_the_map_kernels_numba_compiled_in_the_first(tmp_path):
    code = (
        "from figureflow.jacobian.maps import builtin_map\n"
        "from figureflow.jacobian.kernel_cache import map_kernels\n"
        "from figureflow.jacobian.measure import monte_carlo\n"
        "from figureflow.seeding import seed_sequence\n"
        "toy = builtin_map('toy')\n"
        "est = monte_carlo(toy, 5000, seed_sequence(1, 'cache'))\n"
        "m = map_kernels(toy, 'analytic').volumes\n"
        "print(repr(est.estimate), sum(m.stats.cache_hits.values()), sum(m.stats.cache_misses.values()))\n"
    )
    first = _run_cached(tmp_path, code)
    second = _run_cached(tmp_path, code)
    assert first[1:] == ["0", "1"]  # compiled, and written to the cache
    assert second[1:] == ["1", "0"]  # loaded
    assert first[0] == second[0]
    assert len(list((tmp_path / "cache").glob("figureflow_map_kernels_*_analytic.py"))) == 1


def test_editing_a_maps_file_gives_its_kernels_a_new_key_and_a_closure_is_never_cached(tmp_path, monkeypatch):
    from figureflow.jacobian.maps import load_user_map
    from figureflow.jacobian.kernel_cache import kernel_cache_dir, kernel_key, map_kernels

    monkeypatch.setenv("FIGUREFLOW_KERNEL_CACHE", str(tmp_path / "cache"))
    monkeypatch.syspath_prepend(str(tmp_path))
    source = "def sheet(z, p, out):\n    out[0] = z[0]\n    out[1] = z[1]\n    out[2] = z[0] * z[1]\n"
    keys = []
    for i, text in enumerate([source, source + "\n# edited\n"]):
        (tmp_path / f"sheet_maps{i}.py").write_text(text)
        latent = load_user_map(f"sheet_maps{i}:sheet", 2, 3)
        keys.append(kernel_key(latent, "complex_step", "template")[0])
    assert None not in keys and keys[0] != keys[1]
    assert kernel_cache_dir() == tmp_path / "cache"

    def make(scale):
        from numba import njit

        @njit
        def scaled(z, p, out):  # the same source for every scale: only the closure differs
            out[0] = scale * z[0]
            out[1] = z[1]
            out[2] = z[0] * z[1]

        return scaled

    two, three = (builtin_map("toy"), builtin_map("toy"))
    two.f, three.f, two.jac, three.jac = make(2.0), make(3.0), None, None
    key, why = kernel_key(two, "complex_step", "template")
    assert key is None and why.endswith("make.<locals>.scaled' is a closure: the values it captured are in no file")
    z = np.array([[1.0, 0.5]])
    assert map_kernels(two, "complex_step").jacobians(z, two.params)[0, 0, 0] == 2.0
    assert map_kernels(three, "complex_step").jacobians(z, three.params)[0, 0, 0] == 3.0
    written = [p.name for p in (tmp_path / "cache").glob("*.py")]
    assert not [name for name in written if "complex_step" in name], written  # the closures' kernels: in memory only


def test_without_a_writable_cache_directory_kernels_compile_in_memory(tmp_path, monkeypatch):
    from figureflow.jacobian.kernel_cache import kernel_cache_dir, map_kernels

    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.setenv("FIGUREFLOW_KERNEL_CACHE", str(blocker / "cache"))  # below a file: cannot be made
    assert kernel_cache_dir() is None
    toy = builtin_map("toy")
    module = map_kernels(toy, "analytic")
    assert module.CACHE is False and getattr(module, "__file__", None) is None
    np.testing.assert_allclose(module.volumes(np.array([[1.0, 2.0]]), toy.params), [5.0], rtol=1e-15)
