"""beta-VAE: likelihoods and KL against closed forms, disentanglement metrics on planted codes,
exact resume, seeded determinism, config errors that name the run and key."""

import itertools
import math
import re

import numpy as np
import pytest
import scipy.stats as st
import torch

from figureflow.generative.disentanglement import baseline_latents, baseline_scores, mig, sap, summarize_scores
from figureflow.generative.known_factors import draw_sprites, simulate_expression
from figureflow.generative.settings import check_config, check_device, check_devices, gpus_requested
from figureflow.generative.training import held_out_split, replicate_streams, resolve_device
from figureflow.generative.vae import (
    bernoulli_log_likelihood,
    capacity,
    gaussian_log_likelihood,
    kl_standard_normal,
    latent_arrays,
    nb_log_likelihood,
    total_correlation,
    train_vae,
    training_data,
    traverse,
)
from figureflow.io import InputError


def factorial(*levels):
    """Every combination of the given factor values: factors independent in the sample itself."""
    return np.array(list(itertools.product(*levels)), dtype=float)


def test_mig_and_sap_are_one_for_the_factors_themselves_permuted_and_rescaled():
    factors = factorial(np.arange(10), np.arange(8), np.arange(5))
    latents = np.column_stack([3 * factors[:, 2] + 1, -2 * factors[:, 0], 0.5 * factors[:, 1], np.zeros(len(factors))])
    assert mig(latents, factors) == pytest.approx(1.0, abs=1e-12)
    assert sap(latents, factors) == pytest.approx(1.0, abs=1e-12)


def test_mig_and_sap_are_zero_when_two_factors_are_mixed_by_45_degrees():
    factors = factorial(np.linspace(-1, 1, 20), np.linspace(-1, 1, 20))
    rotation = np.array([[1, 1], [1, -1]]) / math.sqrt(2)
    latents = factors @ rotation.T
    assert mig(latents, factors) == pytest.approx(0.0, abs=5e-3)  # bin edges on float ties: not exactly 0
    assert sap(latents, factors) == pytest.approx(0.0, abs=1e-12)


def test_sap_scores_a_categorical_factor_by_its_correlation_ratio():
    factors = factorial([0, 1, 2], np.arange(6))
    # z1 reads the category through a non-monotone code: eta^2 = 1, the squared correlation would not be
    z = np.column_stack([np.array([0.0, 2.0, 1.0])[factors[:, 0].astype(int)], factors[:, 1]])
    assert sap(z, factors, categorical=[True, False]) == pytest.approx(1.0, abs=1e-12)
    assert sap(z, factors, categorical=[False, False]) < 1.0


def test_fastica_unmixes_rotated_uniform_factors_and_pca_finds_unequal_axes():
    rng = np.random.default_rng(0)
    factors = rng.uniform(-1, 1, size=(4000, 2))
    rotation = np.array([[1, 1], [1, -1]]) / math.sqrt(2)
    assert sap(factors @ rotation.T, factors) < 0.1  # the mixture itself (0 but for sampling noise)
    assert sap(baseline_latents(factors @ rotation.T, "fastica", 2, seed=0), factors) > 0.95
    stretched = factors * [3.0, 1.0]  # unequal variances: the principal axes are the factors
    assert sap(baseline_latents(stretched @ rotation.T, "pca", 2), factors) > 0.95


@pytest.mark.parametrize("shape", [(1500, 1100), (400, 1100)])
def test_pca_baseline_is_the_exact_principal_subspace_and_the_same_every_call(shape):
    # more than 1,000 columns: scikit-learn's default would pick an unseeded randomized SVD
    rng = np.random.default_rng(3)
    X = (rng.normal(size=(shape[0], 12)) * np.linspace(6.0, 1.5, 12)) @ rng.normal(size=(12, shape[1])) + 0.1 * rng.normal(size=shape)
    first, second = baseline_latents(X, "pca", 5), baseline_latents(X, "pca", 5)
    np.testing.assert_array_equal(first, second)
    centred = X - X.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    exact = u[:, :5] * s[:5]
    signs = np.sign((first * exact).sum(axis=0))
    np.testing.assert_allclose(first * signs, exact, atol=1e-6 * s[0])


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected = torch.distributions.kl_divergence(q, p).sum(dim=1)
    torch.testing.assert_close(kl_standard_normal(mu, logvar), expected)


def test_likelihoods_match_scipy():
    x = torch.tensor([[0.0, 3.0, 17.0], [5.0, 0.0, 1.0]], dtype=torch.float64)
    mean = torch.tensor([[0.5, 4.0, 12.0], [2.0, 0.1, 30.0]], dtype=torch.float64)
    theta = torch.tensor([2.0, 0.5, 10.0], dtype=torch.float64)
    expected = st.nbinom(n=theta.numpy(), p=(theta / (theta + mean)).numpy()).logpmf(x.numpy()).sum(axis=1)
    np.testing.assert_allclose(nb_log_likelihood(x, mean, theta, eps=0.0).numpy(), expected, rtol=1e-12)
    log_scale = torch.tensor([0.0, -1.0, 0.5], dtype=torch.float64)
    expected = st.norm(mean.numpy(), np.exp(log_scale.numpy())).logpdf(x.numpy()).sum(axis=1)
    np.testing.assert_allclose(gaussian_log_likelihood(x, mean, log_scale).numpy(), expected, rtol=1e-12)
    binary, logits = torch.tensor([[1.0, 0.0, 1.0]], dtype=torch.float64), torch.tensor([[0.3, -2.0, 4.0]], dtype=torch.float64)
    p = 1 / (1 + np.exp(-logits.numpy()))
    expected = st.bernoulli(p).logpmf(binary.numpy()).sum(axis=1)
    np.testing.assert_allclose(bernoulli_log_likelihood(binary, logits).numpy(), expected, rtol=1e-12)


def test_total_correlation_matches_a_loop_over_the_minibatch():
    g = torch.Generator().manual_seed(1)
    z, mu, logvar = torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64), torch.randn(6, 3, generator=g, dtype=torch.float64)
    N, M = 100, 6
    total = 0.0
    for i in range(M):
        logq = [st.norm(mu[k].numpy(), np.exp(0.5 * logvar[k].numpy())).logpdf(z[i].numpy()) for k in range(M)]
        joint = np.logaddexp.reduce([q.sum() for q in logq]) - math.log(N * M)
        marginal = sum(np.logaddexp.reduce([q[j] for q in logq]) - math.log(N * M) for j in range(3))
        total += joint - marginal
    assert total_correlation(z, mu, logvar, N).item() == pytest.approx(total / M, rel=1e-10)


def test_capacity_rises_linearly_then_holds():
    assert [capacity(s, 10.0, 100) for s in (0, 50, 100, 500)] == [0.0, 5.0, 10.0, 10.0]


def test_sprite_areas_follow_the_shapes_at_scale_one():
    rng = np.random.default_rng(0)
    sprites = draw_sprites(rng, 600, canvas=64)
    half = 64 / 6
    area = sprites["images"].sum(axis=(1, 2))
    shape, scale = sprites["factors"][:, 0], sprites["factors"][:, 1]
    for code, unit_area in ((1, 1.6**2), (2, math.pi * 0.5)):  # dSprites' codes: 1 a square of side 1.6, 2 an ellipse with axes 1 and 0.5
        mask = (shape == code) & (scale == 1.0)
        assert mask.sum() >= 10
        assert area[mask].mean() == pytest.approx(unit_area * half**2, rel=0.05)


def test_expression_simulator_has_the_planned_library_sizes():
    sim = simulate_expression(np.random.default_rng(0), n_cells=4000, n_genes=50, mean_counts=1000.0, library_sd=0.3)
    observed = sim["counts"].sum(axis=1)
    expected = 1000.0 * math.exp(0.3**2 / 2)  # E[l] of the log-normal library
    assert observed.mean() == pytest.approx(expected, rel=0.03)
    assert sim["factors"].min() >= -1 and sim["factors"].max() <= 1 and sim["factors"].shape == (4000, 4)


@pytest.fixture(scope="module")
def small_counts():
    return simulate_expression(np.random.default_rng(3), n_cells=400, n_genes=30, n_factors=2)


OPTIONS = {"likelihood": "nb", "latent_dim": 3, "hidden": [16], "epochs": 4, "batch_size": 64, "patience": None, "device": "cpu"}


def test_resume_from_a_checkpoint_equals_uninterrupted_training(tmp_path, small_counts):
    x = small_counts["counts"]
    whole, history, _ = train_vae(x, {**OPTIONS, "objective": "tc", "beta": 3}, 7, "r", 0, progress=False)

    class Interrupt(Exception):
        pass

    def stop_after_two(epoch, row):
        if epoch == 2:
            raise Interrupt

    import figureflow.generative.vae.run as vae  # the module whose train_vae calls fit

    original = vae.fit

    def interrupted_fit(*args, **kwargs):
        return original(*args, **kwargs, on_epoch=stop_after_two, checkpoint_seconds=0)

    vae.fit = interrupted_fit
    try:
        with pytest.raises(Interrupt):
            train_vae(x, {**OPTIONS, "objective": "tc", "beta": 3}, 7, "r", 0, checkpoint=tmp_path / "c.pt", progress=False)
    finally:
        vae.fit = original
    assert torch.load(tmp_path / "c.pt", weights_only=False)["epoch"] == 2  # resumed after the second epoch
    resumed, resumed_history, _ = train_vae(x, {**OPTIONS, "objective": "tc", "beta": 3}, 7, "r", 0, checkpoint=tmp_path / "c.pt", progress=False)
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items()):
        assert torch.equal(a, b), name
    assert history.equals(resumed_history)


def test_same_seed_same_weights_and_another_seed_or_replicate_differs(small_counts):
    x = small_counts["counts"]
    a, history_a, info = train_vae(x, OPTIONS, 7, "r", 0, progress=False)
    b, history_b, _ = train_vae(x, OPTIONS, 7, "r", 0, progress=False)
    c, _, _ = train_vae(x, OPTIONS, 7, "r", 1, progress=False)
    d, _, _ = train_vae(x, OPTIONS, 8, "r", 0, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
    assert history_a.equals(history_b)
    first = next(iter(a.state_dict().values()))
    assert not torch.equal(first, next(iter(c.state_dict().values()))) and not torch.equal(first, next(iter(d.state_dict().values())))
    assert history_a["held_out_loss"].iloc[-1] < history_a["held_out_loss"].iloc[0]  # it learns
    assert len(info["held_rows"]) == 40 and not set(info["held_rows"]) & set(info["train_rows"])


def test_a_nan_loss_is_reported_with_its_epoch(small_counts):
    from figureflow.generative.training import TrainingDiverged

    x = small_counts["counts"].astype(float)
    x[held_out_split(len(x), 0.1, replicate_streams(7, "vae_train", {"run": "r"}, 0)["numpy"])[0][0], 0] = np.nan  # a training row
    with pytest.raises(TrainingDiverged, match=r"VAE run r, replicate 0: training diverged at epoch 1, minibatch \d \(iteration \d\): the training loss became nan.*lower learning_rate \(now 0.001\)"):
        train_vae(x, {**OPTIONS, "likelihood": "gaussian"}, 7, "r", 0, progress=False)


def _standardized_log(counts):
    x = np.log1p(counts.astype(float))
    return (x - x.mean(axis=0)) / x.std(axis=0)


@pytest.mark.parametrize("likelihood", ["gaussian", "nb", "bernoulli"])
def test_an_exploding_training_stops_naming_run_epoch_and_learning_rate_and_leaves_no_checkpoint(tmp_path, small_counts, likelihood):
    """A finite but absurd held-out loss (the issue's -3.4e19 ELBO) is a divergence, for every likelihood;
    the same run at the default learning rate trains and stays below the bound."""
    from figureflow.generative.training import TrainingDiverged, diverged_bound

    counts = small_counts["counts"]
    x = {"gaussian": _standardized_log(counts), "nb": counts, "bernoulli": (counts > np.median(counts)).astype(float)}[likelihood]
    options = {**OPTIONS, "likelihood": likelihood, "hidden": [64], "epochs": 6}
    checkpoint = tmp_path / "replicate_0.pt"
    with pytest.raises(TrainingDiverged, match=r"VAE run r, replicate 0: training diverged at epoch \d+ \(iteration \d+\): the held-out loss is .* above the bound .*lower learning_rate \(now 10\)") as caught:
        train_vae(x, {**options, "learning_rate": 10.0}, 7, "r", 0, checkpoint=checkpoint, progress=False)
    assert not checkpoint.exists()
    untrained = float(re.search(r"against ([-0-9.e+]+) for the untrained model", str(caught.value))[1])
    _, history, _ = train_vae(x, options, 7, "r", 0, checkpoint=checkpoint, progress=False)
    assert history["held_out_loss"].max() <= diverged_bound(untrained) and history["held_out_loss"].iloc[-1] < untrained
    assert checkpoint.exists()


def test_the_divergence_bound_is_the_untrained_loss_plus_its_size():
    from figureflow.generative.training import diverged_bound

    assert diverged_bound(144.6) == pytest.approx(289.2) and diverged_bound(-3.0) == 0.0 and diverged_bound(0.25) == 1.25


def test_traversal_moves_only_the_swept_dimension(small_counts):
    model, _, _ = train_vae(small_counts["counts"], {**OPTIONS, "epochs": 1}, 7, "r", 0, progress=False)
    out = traverse(model, np.zeros(3), np.array([-2.0, 0.0, 2.0]))
    assert out.shape == (3, 3, 30)
    np.testing.assert_allclose(out[0, 1], out[1, 1], rtol=1e-6)  # every dimension at 0 decodes the base
    assert not np.allclose(out[0, 0], out[0, 2])


def test_held_out_split_is_disjoint_and_seeded():
    train, held = held_out_split(50, 0.2, np.random.default_rng(0))
    assert len(held) == 10 and sorted(np.concatenate([train, held])) == list(range(50))


def test_summaries_give_mean_and_sd_per_method():
    import pandas as pd

    scores = pd.DataFrame({"data": ["s"] * 4, "method": ["a", "a", "a", "pca"], "replicate": [0, 1, 2, 0], "mig_dlib": [0.3, 0.1, 0.2, 0.04],
                           "mig_binned": [0.1, 0.2, 0.3, 0.05], "sap": [0.5, 0.5, 0.5, 0.1], "active_units": [3, 4, 5, np.nan]})
    summary = summarize_scores(scores)
    assert summary["method"].tolist() == ["a", "pca"]
    assert summary["mig_binned_mean"].tolist() == pytest.approx([0.2, 0.05]) and summary["mig_binned_sd"].iloc[0] == pytest.approx(0.1)
    assert summary[["mig_dlib_min", "mig_dlib_max"]].iloc[0].tolist() == [0.1, 0.3] and summary["active_units_mean"].iloc[0] == 4
    assert np.isnan(summary["mig_binned_sd"].iloc[1])


DATA = {"datasets": {"atlas": {"processed": True, "layers": []}, "sim_atlas": {"processed": False}}}
SIMS = {"expr": {"simulator": "expression"}, "sprites": {"simulator": "sprites", "canvas": 32}}


@pytest.mark.parametrize(
    "run, message",
    [
        ({"data": "nowhere"}, r"vae.runs.bad.data is 'nowhere'; expected a simulation \('expr', 'sprites'\) or a dataset"),
        ({"data": "atlas", "likelihood": "nb"}, r"vae.runs.bad.likelihood is 'nb', which needs counts, but dataset 'atlas' is processed"),
        ({"data": "sprites", "likelihood": "nb"}, r"vae.runs.bad.likelihood is 'nb', but simulation 'sprites' \(sprites\) needs bernoulli"),
        ({"data": "expr", "likelihood": "bernoulli"}, r"simulation 'expr' \(expression\) needs nb or gaussian"),
        ({"data": "expr", "likelihood": "nb", "architecture": "conv"}, r"vae.runs.bad.architecture is 'conv'"),
    ],
)
def test_a_bad_run_is_named_with_its_key(run, message):
    with pytest.raises(InputError, match=message):
        check_config({"vae": {"simulations": SIMS, "runs": {"bad": run}}}, DATA)


def test_good_runs_are_described_with_the_memory_their_data_need():
    data = {"datasets": {**DATA["datasets"], "big_atlas": {"processed": False, "shape": [300_000, 2000]}}}
    runs = {"a": {"data": "sim_atlas", "likelihood": "nb"}, "b": {"data": "sprites", "likelihood": "bernoulli"}, "c": {"data": "big_atlas", "likelihood": "nb"}}
    facts = check_config({"vae": {"simulations": SIMS, "runs": runs}}, data)
    # 1000 MB and four float32 copies of the data, rounded up to 500 MB; a dataset of unknown shape asks for 4000
    sprites = SIMS["sprites"].get("n_images", 5000) * SIMS["sprites"].get("canvas", 32) ** 2
    assert facts["runs"] == {
        "a": {"data": "sim_atlas", "source": "dataset", "factors": False, "mem_mb": 4000},
        "b": {"data": "sprites", "source": "simulation", "factors": True, "mem_mb": int(math.ceil((1000 + 16 * sprites / 1e6) / 500) * 500)},
        "c": {"data": "big_atlas", "source": "dataset", "factors": False, "mem_mb": 11000},  # 1000 + 16 B x 6e8 = 10,600 MB
    }


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_a_gpu_is_a_clear_error():
    assert resolve_device("auto").type == "cpu"
    with pytest.raises(InputError, match="device is 'cuda', but torch sees no CUDA device"):
        resolve_device("cuda")


def test_a_device_planned_for_other_machines_is_checked_by_its_spelling_only():
    check_device("cuda", "vae.runs.a.device", here=False)
    check_device("cuda:1", here=False)
    with pytest.raises(InputError, match=r"config key vae.runs.a.device: expected 'auto', 'cpu' or 'cuda\[:N\]', found 'gpu'"):
        check_device("gpu", "vae.runs.a.device", here=False)
    with pytest.raises(InputError, match="found 'cuda:x'"):
        resolve_device("cuda:x")
    runs = {"vae": {"simulations": SIMS, "runs": {"a": {"data": "sprites", "likelihood": "bernoulli", "device": "cuda"}}}}
    assert check_config(runs, DATA, devices_here=False)["runs"]["a"]["source"] == "simulation"
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="vae.runs.a.device is 'cuda', but torch sees no CUDA device"):
            check_config(runs, DATA, devices_here=True)
        with pytest.raises(InputError, match="vae.runs.a.device is 'cuda'"):
            check_devices(runs)
    check_devices({"cnf": {"runs": {"m": {"device": "cpu"}}}, "vae": {"runs": {"b": {}}}})
    assert [gpus_requested(d) for d in ("cuda", "cuda:1", "auto", "cpu")] == [1, 1, 0, 0]


def test_the_conv_pair_trains_on_sprites_and_warm_up_scales_the_kl_term():
    sprites = draw_sprites(np.random.default_rng(0), 64, canvas=16)
    x = sprites["images"].reshape(64, 256)
    options = {"likelihood": "bernoulli", "architecture": "conv", "hidden": [32], "latent_dim": 2, "epochs": 2, "batch_size": 32, "patience": None, "device": "cpu"}
    model, history, _ = train_vae(x, options, 1, "conv", 0, progress=False)
    assert traverse(model, np.zeros(2), np.array([-1.0, 1.0])).shape == (2, 2, 256)
    assert np.isfinite(history["held_out_loss"]).all()
    # with warm-up over 4 epochs, epoch 1's objective weighs the KL by 1/4: loss = reconstruction + kl / 4
    _, warm, _ = train_vae(x, {**options, "architecture": "mlp", "hidden": [16], "epochs": 1, "warmup_epochs": 4}, 1, "warm", 0, progress=False)
    assert warm["train_loss"].iloc[0] == pytest.approx(warm["reconstruction"].iloc[0] + warm["kl"].iloc[0] / 4, rel=1e-5)


def test_baseline_scores_run_pca_once_and_fastica_per_seed():
    factors = factorial(np.linspace(-1, 1, 12), np.linspace(-1, 1, 12))
    data = {"x": factors * [3.0, 1.0], "factors": factors, "factor_classes": np.round((factors + 1) * 5.5).astype(int)}
    table = baseline_scores(data, ["pca", "fastica"], 2, [0, 1], n_components=2)
    assert table[["method", "replicate"]].values.tolist() == [["pca", 0], ["fastica", 0], ["fastica", 1]]
    assert table.loc[0, "sap"] == pytest.approx(1.0, abs=1e-9)  # unequal axes: PCA reads the factors off
    assert table.loc[0, "mig_dlib"] > 0.5 and np.isnan(baseline_scores({**data, "factor_classes": None}, ["pca"], 1, [0])["mig_dlib"]).all()


def test_latent_arrays_carry_labels_as_plain_text_and_factors_when_known():
    import pandas as pd

    obs = pd.DataFrame({"cell_type": pd.Categorical(["T", "B"]), "age": ["3m", "24m"]})
    arrays = latent_arrays({"z": np.zeros((2, 2))}, {"obs": obs, "var_names": pd.Index(["g1", "g2"]), "factors": None})
    assert arrays["cell_type"].dtype.kind == "U" and arrays["cell_type"].tolist() == ["T", "B"]
    assert arrays["var_names"].tolist() == ["g1", "g2"] and "factors" not in arrays
    simulated = latent_arrays({"z": np.zeros((2, 2))}, {"factors": np.ones((2, 1)), "factor_names": np.array(["f"])})
    assert simulated["factors"].shape == (2, 1) and "cell_type" not in simulated


def test_training_data_without_counts_names_the_file_and_layer(tmp_path):
    import anndata as ad

    ad.AnnData(np.ones((3, 2), dtype=np.float32)).write_h5ad(tmp_path / "a.h5ad")
    assert training_data(tmp_path / "a.h5ad", "gaussian")["x"].shape == (3, 2)
    with pytest.raises(InputError, match=r"a.h5ad': likelihood 'nb' needs layers\['counts'\]"):
        training_data(tmp_path / "a.h5ad", "nb")
