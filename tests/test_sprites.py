"""Sprites as dSprites defines them, disentanglement_lib's MIG, the Burgess pair, the kept epoch and
the learned-nothing flags: against the published definition, closed forms and planted codes."""

import itertools
import math

import numpy as np
import pytest
import torch

from figureflow.generative.disentanglement import mig, mig_dlib
from figureflow.generative.known_factors import (
    DSPRITES_SIZES,
    draw_sprites,
    dsprites_grid,
    simulate_expression,
    npz_shapes,
    read_dsprites,
    render_sprites,
    simulate,
)
from figureflow.generative.settings import check_config, sprites_shape
from figureflow.generative.vae import (
    VAE,
    ACTIVE_UNIT_KL,
    burgess_convolutions,
    constant_reconstruction,
    keep_rule,
    learned_nothing,
    train_replicate,
    train_vae,
    traversal_base,
    traversal_contrast,
)
from figureflow.io import InputError


# ---------------------------------------------------------------- dSprites' grid


def test_the_grid_has_dsprites_sizes_values_and_published_order():
    classes, values = dsprites_grid()
    assert classes.shape == values.shape == (737_280, 6)
    # posY varies fastest, then posX, orientation, scale, shape: image i is i in mixed radix (1, 3, 6, 40, 32, 32)
    assert classes[:3].tolist() == [[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 2]]
    assert classes[32].tolist() == [0, 0, 0, 0, 1, 0] and classes[32 * 32].tolist() == [0, 0, 0, 1, 0, 0]
    assert classes[32 * 32 * 40].tolist() == [0, 0, 1, 0, 0, 0] and classes[32 * 32 * 40 * 6].tolist() == [0, 1, 0, 0, 0, 0]
    assert classes[-1].tolist() == [0, 2, 5, 39, 31, 31]
    index = ((((classes[:, 1] * 6 + classes[:, 2]) * 40 + classes[:, 3]) * 32 + classes[:, 4]) * 32 + classes[:, 5])
    np.testing.assert_array_equal(index, np.arange(737_280))
    # the published values: colour 1; shape 1, 2, 3; scale 0.5..1 in 6; orientation 0..2 pi in 40 (both ends); x, y 0..1 in 32
    assert np.unique(values[:, 0]).tolist() == [1.0] and np.unique(values[:, 1]).tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(np.unique(values[:, 2]), [0.5, 0.6, 0.7, 0.8, 0.9, 1.0], atol=1e-15)
    orientation = np.unique(values[:, 3])
    assert len(orientation) == 40 and orientation[0] == 0.0 and orientation[-1] == pytest.approx(2 * math.pi, abs=1e-15)
    assert orientation[1] == pytest.approx(2 * math.pi / 39)  # 0.16110732, the step of the published file
    for column in (4, 5):
        np.testing.assert_allclose(np.unique(values[:, column]), np.arange(32) / 31, atol=1e-15)
    # every combination exactly once
    assert len(np.unique(classes, axis=0)) == 737_280 and tuple(classes.max(axis=0) + 1) == DSPRITES_SIZES


def test_a_subsample_is_seeded_without_replacement_and_keeps_the_published_order():
    a, b = draw_sprites(np.random.default_rng(3), 500, 16), draw_sprites(np.random.default_rng(3), 500, 16)
    np.testing.assert_array_equal(a["images"], b["images"])
    classes = a["factor_classes"]
    index = (((classes[:, 0] * 6 + classes[:, 1]) * 40 + classes[:, 2]) * 32 + classes[:, 3]) * 32 + classes[:, 4]
    assert np.all(np.diff(index) > 0)  # distinct rows, ascending
    _, values = dsprites_grid(index)
    np.testing.assert_array_equal(a["factors"], values[:, 1:])


def test_a_sprite_moves_by_its_position_and_grows_by_its_scale():
    _, values = dsprites_grid(np.array([0, 31, 31 * 32, 32 * 32 * 40 * 5]))  # square at (0, 0), y = 1, x = 1; scale 1
    images = render_sprites(values, 64)
    rows, cols = [np.nonzero(images[k].any(axis=1))[0] for k in range(4)], [np.nonzero(images[k].any(axis=0))[0] for k in range(4)]
    assert rows[0].min() < 10 and cols[0].min() < 10  # top left
    assert rows[1].max() > 54 and cols[1].max() < 20  # y = 1: bottom
    assert cols[2].max() > 54 and rows[2].max() < 20  # x = 1: right
    half = 64 / 6  # a square covers 1.6 x 1.6 of its frame, scaled by scale * half pixels
    assert images[3].sum() == pytest.approx((1.6 * 1.0 * half) ** 2, rel=0.02)
    assert images[0].sum() == pytest.approx((1.6 * 0.5 * half) ** 2, rel=0.12)  # 8.5 pixels a side: the pixel grid shows


def _write_dsprites_like(path, n=300, side=16, **changes):
    sprites = draw_sprites(np.random.default_rng(0), n, side)
    arrays = {"imgs": sprites["images"], "latents_values": np.column_stack([np.ones(n), sprites["factors"]]),
              "latents_classes": np.column_stack([np.zeros(n, int), sprites["factor_classes"]])}
    arrays.update(changes)
    np.savez_compressed(path, **{k: v for k, v in arrays.items() if v is not None})
    return sprites


def test_the_published_file_layout_is_read_whole_or_subsampled(tmp_path):
    path = tmp_path / "dsprites_like.npz"
    sprites = _write_dsprites_like(path)
    assert npz_shapes(path)["imgs"] == ((300, 16, 16), np.dtype(np.uint8))
    whole = read_dsprites(path, np.random.default_rng(1))
    np.testing.assert_array_equal(whole["images"], sprites["images"])
    np.testing.assert_array_equal(whole["factors"], sprites["factors"])
    np.testing.assert_array_equal(whole["factor_classes"], sprites["factor_classes"])
    part = read_dsprites(path, np.random.default_rng(1), n_images=50)
    assert part["images"].shape == (50, 16, 16)
    rows = [int(np.flatnonzero((sprites["factor_classes"] == c).all(axis=1))[0]) for c in part["factor_classes"]]
    assert rows == sorted(rows) and len(set(rows)) == 50
    np.testing.assert_array_equal(part["images"], sprites["images"][rows])
    # a simulation entry pointing at the file gives the training data and the config check its shape
    arrays = simulate({"simulator": "sprites", "npz": str(path), "n_images": 120}, np.random.default_rng(2))
    assert arrays["x"].shape == (120, 256) and int(arrays["canvas"]) == 16 and arrays["factor_classes"].shape == (120, 5)
    assert sprites_shape({"simulator": "sprites", "npz": str(path), "n_images": None}) == (300, 16)


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"latents_classes": None}, r"expected keys imgs, latents_values, latents_classes \(dSprites' layout\), missing latents_classes"),
        ({"latents_values": np.ones((300, 5))}, r"key 'latents_values' must be \(300, 6\) .* found shape \(300, 5\)"),
        ({"imgs": np.ones((300, 16, 8), np.uint8)}, r"key 'imgs' must be \(n, side, side\) square images, found shape \(300, 16, 8\)"),
        ({"imgs": np.full((300, 16, 16), 255, np.uint8)}, r"key 'imgs' must hold 0/1 pixels"),
    ],
)
def test_a_file_that_is_not_dsprites_is_named_with_its_key(tmp_path, changes, message):
    path = tmp_path / "bad.npz"
    _write_dsprites_like(path, **changes)
    with pytest.raises(InputError, match=rf"sprites file '{path}': {message}"):
        read_dsprites(path, np.random.default_rng(0))


def test_the_config_check_reads_only_the_file_headers_and_names_the_key(tmp_path):
    path = tmp_path / "no_classes.npz"
    _write_dsprites_like(path, latents_classes=None)
    config = {"vae": {"simulations": {"d": {"simulator": "sprites", "npz": str(path)}},
                      "runs": {"r": {"data": "d", "likelihood": "bernoulli", "architecture": "burgess"}}}}
    with pytest.raises(InputError, match=r"config key vae.simulations.d.npz: file .* lacks the keys latents_classes"):
        check_config(config, {})
    with pytest.raises(InputError, match=r"config key vae.simulations.d.npz: .*cannot be read as an .npz"):
        check_config({"vae": {**config["vae"], "simulations": {"d": {"simulator": "sprites", "npz": str(tmp_path / "missing.npz")}}}}, {})
    _write_dsprites_like(path, side=24)
    with pytest.raises(InputError, match=r"vae.runs.r.architecture is 'burgess', which needs sprites on a canvas of 16, 32, 64, ... pixels; 'd' is sprites on 24 pixels"):
        check_config(config, {})


# ---------------------------------------------------------------- disentanglement_lib's MIG


def test_dlib_mig_keeps_factor_classes_where_the_binned_variant_bins_them():
    """40 orientations and 32 positions read off one latent each: the binned variant puts factor
    and latent in the same 20 bins and scores 1; disentanglement_lib's keeps the classes, so a
    latent bin holding 2 classes loses their distinction: I = H(latent bin) exactly."""
    classes = np.array(list(itertools.product(range(40), range(32))))
    latents = np.column_stack([0.3 * classes[:, 1], -classes[:, 0], np.zeros(len(classes))])
    assert mig(latents, classes) == pytest.approx(1.0, abs=1e-12)
    # orientation: 20 bins of width 39/20 hold two orientations each: I = log 20
    # position: bins of width 31/20 hold floor(p / 1.55) -> counts 2 or 1; I = the entropy of those counts
    codes = np.minimum(np.floor(np.arange(32) / 1.55), 19).astype(int)
    p = np.bincount(codes) / 32
    expected = (math.log(20) / math.log(40) + float(-(p * np.log(p)).sum()) / math.log(32)) / 2
    value = mig_dlib(latents, classes, np.random.default_rng(0), n_points=len(classes))
    assert value == pytest.approx(expected, abs=1e-12) and value < 0.95
    # a third latent as informative as the first: the gap for position closes
    twice = np.column_stack([latents, 0.3 * classes[:, 1]])
    assert mig_dlib(twice, classes, np.random.default_rng(0), n_points=len(classes)) == pytest.approx(math.log(20) / math.log(40) / 2, abs=1e-12)


def test_dlib_mig_draws_its_points_from_the_generator_and_at_most_n_points():
    classes = np.array(list(itertools.product(range(3), range(6), range(40))))
    latents = np.column_stack([classes + np.random.default_rng(1).normal(0, 0.3, classes.shape), np.zeros(len(classes))])
    a = mig_dlib(latents, classes, np.random.default_rng(5), n_points=300)
    assert a == mig_dlib(latents, classes, np.random.default_rng(5), n_points=300)
    assert a != mig_dlib(latents, classes, np.random.default_rng(6), n_points=300)
    assert mig_dlib(latents, classes, np.random.default_rng(5), n_points=10_000) == mig_dlib(latents, classes, np.random.default_rng(9), n_points=10_000)


# ---------------------------------------------------------------- the Burgess pair


@pytest.mark.parametrize("canvas, convolutions", [(64, 4), (32, 3), (16, 2)])
def test_the_burgess_pair_has_the_published_layers(canvas, convolutions):
    model = VAE(canvas * canvas, 10, [256], "bernoulli", "burgess")
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    dense = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert burgess_convolutions(canvas) == convolutions == len(convs)
    assert all((c.out_channels, c.kernel_size, c.stride) == (32, (4, 4), (2, 2)) for c in convs)
    assert [(d.in_features, d.out_features) for d in dense] == [(512, 256), (256, 256), (256, 20)]  # 32 x 4 x 4 in, 2 x 10 out
    transposed = [m for m in model.decoder.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(transposed) == convolutions and transposed[-1].out_channels == 1
    x = torch.zeros(3, canvas * canvas)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (3, 10) and model.decode(mu).shape == (3, canvas * canvas)
    with pytest.raises(ValueError, match="canvas of 16, 32, 64"):
        burgess_convolutions(24)


# ---------------------------------------------------------------- the kept epoch


def test_annealed_objectives_keep_the_last_epoch_and_the_others_the_best_objective():
    assert keep_rule({"objective": "capacity"}) == "last"
    assert keep_rule({"objective": "vae", "warmup_epochs": 3}) == "last"
    assert keep_rule({"objective": "beta"}) == keep_rule({"objective": "tc"}) == keep_rule({"objective": "vae"}) == "best"
    assert keep_rule({"objective": "capacity", "keep": "best"}) == "best"


@pytest.fixture(scope="module")
def tiny_sprites():
    sprites = draw_sprites(np.random.default_rng(0), 640, 16)
    return {"x": sprites["images"].reshape(640, 256).astype(np.float32), **{k: v for k, v in sprites.items() if k != "images"}}


def test_the_kept_epoch_is_the_one_whose_weights_are_returned(tiny_sprites):
    base = {"likelihood": "bernoulli", "architecture": "burgess", "latent_dim": 4, "epochs": 4, "batch_size": 64, "learning_rate": 5e-4,
            "patience": None, "device": "cpu"}
    capacity_run = {**base, "objective": "capacity", "gamma": 10, "C_max": 5, "C_steps": 100}
    model, history, info = train_vae(tiny_sprites["x"], capacity_run, 0, "r", 0, progress=False)
    assert info["keep"] == "last" and info["kept_epoch"] == 4
    # the last epoch's weights: continuing from them, the held-out terms are those of the history's last row
    beta_run = {**base, "objective": "beta", "beta": 4, "epochs": 6}
    model, history, info = train_vae(tiny_sprites["x"], beta_run, 0, "r", 0, progress=False)
    best = int(history["held_out_objective"].idxmin()) + 1
    assert info["keep"] == "best" and info["kept_epoch"] == best
    # the objective being optimized (R + 4 KL) is what chose it, not the ELBO
    assert history["held_out_objective"].iloc[best - 1] == history["held_out_objective"].min()
    np.testing.assert_allclose(history["held_out_objective"], history["held_out_reconstruction"] + 4 * history["held_out_kl"], rtol=1e-5)


# ---------------------------------------------------------------- learned nothing


def test_the_best_constant_image_scores_the_pixel_entropy():
    rng = np.random.default_rng(0)
    x = (rng.random((4000, 5)) < [0.1, 0.5, 0.9, 0.0, 1.0]).astype(float)
    p = np.clip(x[:3000].mean(axis=0), 1e-6, 1 - 1e-6)
    held = x[3000:]
    expected = -(held * np.log(p) + (1 - held) * np.log(1 - p)).sum(axis=1).mean()
    assert constant_reconstruction(x[:3000], held, "bernoulli") == pytest.approx(expected, rel=1e-12)
    g = rng.normal([1.0, -2.0], [0.5, 3.0], size=(5000, 2))
    mean, sd = g[:4000].mean(axis=0), g[:4000].std(axis=0)
    gauss = -(-0.5 * np.log(2 * np.pi) - np.log(sd) - 0.5 * ((g[4000:] - mean) / sd) ** 2).sum(axis=1).mean()
    assert constant_reconstruction(g[:4000], g[4000:], "gaussian") == pytest.approx(gauss, rel=1e-12)


def test_traversals_start_from_the_held_out_code_nearest_the_median():
    # codes on a ring: the median (the centre) is where no image lies; the base is a real held-out code
    angle = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    z = np.column_stack([np.cos(angle), np.sin(angle), np.zeros(40)])
    held = np.arange(0, 40, 3)
    base = traversal_base(z, held)
    assert base in held
    distances = np.linalg.norm(z[held] - np.median(z, axis=0), axis=1)
    assert np.linalg.norm(z[base] - np.median(z, axis=0)) == distances.min()
    z[7] = np.median(z, axis=0)  # a training row at the median itself is not taken: the base is held out
    assert traversal_base(z, held) in held and np.linalg.norm(z[base]) == pytest.approx(1.0)


def test_no_active_unit_or_a_constant_reconstruction_is_learned_nothing():
    assert learned_nothing(3, 30.0, 148.0) == ""
    assert learned_nothing(0, 30.0, 148.0) == f"no active latent unit (held-out KL above {ACTIVE_UNIT_KL} nats)"
    assert learned_nothing(6, 148.4, 148.0) == "held-out reconstruction 148.4 is no better than the best constant image's 148"
    assert "; " in learned_nothing(0, 150.0, 148.0)
    grey = np.full((2, 3, 16), 0.4)
    objects = grey.copy()
    objects[..., 0] = 1.0
    objects[..., 1] = 0.0
    assert traversal_contrast(grey) == 0.0 and traversal_contrast(objects) == 1.0


def test_a_collapsed_replicate_is_flagged_in_its_metrics_and_log(tiny_sprites, caplog):
    """beta 500 pushes every posterior onto the prior: no active unit, the pixel means as reconstruction."""
    import logging

    options = {"objective": "beta", "beta": 500, "likelihood": "bernoulli", "architecture": "burgess", "latent_dim": 4, "epochs": 3,
               "batch_size": 64, "learning_rate": 1e-3, "device": "cpu"}
    out = train_replicate(tiny_sprites, options, 0, "collapsed", 0, log=logging.getLogger("t"))
    row = out["metrics"].iloc[0]
    assert row["active_units"] == 0 and bool(row["learned_nothing"]) and row["why"].startswith("no active latent unit")
    assert (out["latent"]["kl_per_dim"] <= ACTIVE_UNIT_KL).all()
    assert "collapsed replicate 0 learned nothing: no active latent unit" in caplog.text
    assert {"mig_dlib", "mig_binned", "sap", "traversal_contrast", "keep", "kept_epoch"} <= set(out["metrics"])
    # counts driven by 2 factors: a plain VAE with 3 latents uses 2 of them and beats the best
    # constant (each cell's library times the pooled gene proportions)
    counts = simulate_expression(np.random.default_rng(3), n_cells=1000, n_genes=30, n_factors=2)
    options = {"objective": "vae", "likelihood": "nb", "hidden": [32], "latent_dim": 3, "epochs": 15, "batch_size": 64, "learning_rate": 1e-2,
               "patience": None, "device": "cpu"}
    learned = train_replicate({"x": counts["counts"], "factors": counts["factors"]}, options, 0, "learned", 0)
    row = learned["metrics"].iloc[0]
    assert row["active_units"] == int((learned["latent"]["kl_per_dim"] > ACTIVE_UNIT_KL).sum()) == 2
    assert not row["learned_nothing"] and row["held_out_reconstruction"] < row["constant_reconstruction"] - 5


def test_a_baseline_that_fails_is_reported_not_raised():
    from figureflow.generative.disentanglement import baseline_scores

    sprites = draw_sprites(np.random.default_rng(0), 300, 16)
    data = {"x": sprites["images"].reshape(300, 256), **{k: v for k, v in sprites.items() if k != "images"}}
    table = baseline_scores(data, ["pca", "fastica"], 1, [1], n_components=4)
    pca, fastica = table.iloc[0], table.iloc[1]
    assert np.isfinite(pca[["mig_dlib", "mig_binned", "sap"]].astype(float)).all() and pca["note"] == ""
    # FastICA's unmixing of 300 sparse 16 x 16 images ends in a zero-variance source: NaN and the reason
    assert np.isnan(fastica[["mig_dlib", "mig_binned", "sap"]].astype(float)).all() and fastica["note"].startswith("fastica failed: ")
