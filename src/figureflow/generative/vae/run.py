"""One VAE replicate end to end: its data, the training, what it learned (active units, the constant baseline), the encodings and traversals its figures draw, gathering and saving.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from figureflow.generative.settings import DEFAULTS
from figureflow.generative.training import fit, held_out_split, replicate_streams, resolve_device, save_torch
from figureflow.generative.vae.likelihoods import bernoulli_log_likelihood, gaussian_log_likelihood, nb_log_likelihood
from figureflow.generative.vae.models import VAE, build_vae
from figureflow.generative.vae.objectives import held_out_terms, objective_terms

__all__ = [
    "keep_rule",
    "train_vae",
    "encode",
    "decode_mean",
    "traverse",
    "decoder_function",
    "training_data",
    "kl_per_dimension",
    "ACTIVE_UNIT_KL",
    "constant_reconstruction",
    "traversal_base",
    "traversal_contrast",
    "learned_nothing",
    "train_replicate",
    "latent_arrays",
    "gather_replicates",
    "save_model",
    "load_model",
]


def keep_rule(options: Mapping) -> str:
    """Which epoch a run keeps: ``options["keep"]``, or for ``auto``, ``last`` when the objective
    changes during training (capacity annealing, KL warm-up: a later epoch's objective is not
    comparable with an earlier one's, and the best held-out value falls before C has grown) and
    ``best`` (the epoch with the lowest held-out value of the objective being optimized) otherwise."""
    keep = options.get("keep", "auto")
    if keep != "auto":
        return keep
    return "last" if options["objective"] == "capacity" or int(options.get("warmup_epochs", 0)) > 0 else "best"


def _tensors(x: np.ndarray, device: torch.device, likelihood: str) -> list[torch.Tensor]:
    X = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)
    library = X.sum(dim=1) if likelihood == "nb" else torch.zeros(X.shape[0], device=device)
    return [X, library]


def train_vae(
    x: np.ndarray,
    options: Mapping,
    seed: int,
    run: str,
    replicate: int,
    checkpoint=None,
    threads: int | None = None,
    progress: bool = True,
) -> tuple[VAE, pd.DataFrame, dict]:
    """Train one replicate of a VAE run on ``x (n, D)`` (counts for ``nb``, 0/1 for ``bernoulli``).

    Streams come from ``(seed, "vae_train", {"run": run}, replicate)``; ``options`` are a run's
    settings over :data:`DEFAULTS`. Returns the model at the epoch :func:`keep_rule` keeps (on the
    CPU), the history (``epoch``, ``train_loss``, ``held_out_loss`` (the negative ELBO),
    ``held_out_objective``, ``reconstruction``, ``kl``, and ``C`` or ``tc``; held-out parts
    prefixed ``held_out_``) and ``{"train_rows", "held_rows", "device", "seconds",
    "held_out_elbo", "held_out_reconstruction", "kept_epoch", "keep"}`` (ELBO and reconstruction
    per held-out sample, one seeded posterior draw).
    """
    options = {**DEFAULTS, **options}
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    device = resolve_device(options["device"], f"vae.runs.{run}.device")
    streams = replicate_streams(seed, "vae_train", {"run": run}, replicate)
    train_rows, held_rows = held_out_split(x.shape[0], float(options["held_out_fraction"]), streams["numpy"])
    data = _tensors(x, device, options["likelihood"])
    library = float(np.median(data[1][torch.as_tensor(train_rows, device=device)].cpu().numpy())) if options["likelihood"] == "nb" else 1.0
    model = build_vae(x.shape[1], options, streams["weights"], library).to(device)
    generator = torch.Generator().manual_seed(streams["training"])

    def step_loss(model, batch, state):
        return objective_terms(model, batch[0], batch[1], options, state)

    def evaluate(model, batch, state):
        terms = held_out_terms(model, batch[0], batch[1], options, state)
        return {"held_out_loss": terms["loss"], "held_out_objective": terms["objective"], "held_out_reconstruction": terms["reconstruction"],
                "held_out_kl": terms["kl"]}

    identity = repr(sorted({**options, "seed": seed, "run": run, "replicate": replicate, "n": x.shape[0], "D": x.shape[1]}.items()))
    model, history = fit(
        model, data, train_rows, held_rows, step_loss, evaluate,
        epochs=int(options["epochs"]), batch_size=int(options["batch_size"]), learning_rate=float(options["learning_rate"]),
        generator=generator, patience=options["patience"], checkpoint=checkpoint, identity=identity,
        progress=progress, label=f"VAE run {run}, replicate {replicate}", keep=keep_rule(options), criterion="held_out_objective",
    )
    model = model.cpu().eval()
    with torch.no_grad():
        held = _tensors(x[held_rows], torch.device("cpu"), options["likelihood"])
        state = {"generator": torch.Generator().manual_seed(streams["evaluation"]), "epoch": len(history), "step": int(history["iteration"].iloc[-1]),
                 "n_train": len(train_rows)}
        terms = held_out_terms(model, held[0], held[1], options, state)
    kept = len(history) if keep_rule(options) == "last" else int(history["held_out_objective"].idxmin()) + 1
    return model, history, {"train_rows": train_rows, "held_rows": held_rows, "device": str(device), "seconds": history.attrs["seconds"],
                            "held_out_elbo": -float(terms["loss"]), "held_out_reconstruction": float(terms["reconstruction"]),
                            "kept_epoch": kept, "keep": keep_rule(options)}


@torch.no_grad()
def encode(model: VAE, x: np.ndarray, batch_size: int = 4096) -> np.ndarray:
    """Posterior means ``(n, latent_dim)`` of ``x (n, D)``."""
    X = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32))
    return torch.cat([model.encode(X[i : i + batch_size])[0] for i in range(0, len(X), batch_size)]).numpy().astype(np.float64)


@torch.no_grad()
def decode_mean(model: VAE, z: np.ndarray) -> np.ndarray:
    """The likelihood's mean at latent points ``z (..., latent_dim)``: ``(..., D)`` (NB at the median library)."""
    return model.mean(model.decode(torch.as_tensor(np.asarray(z, dtype=np.float32)))).numpy().astype(np.float64)


def traverse(model: VAE, base: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Latent traversals: ``out[j, s]`` decodes ``base`` with dimension ``j`` set to ``values[s]``;
    shape ``(latent_dim, len(values), D)``."""
    base, values = np.asarray(base, dtype=np.float64), np.asarray(values, dtype=np.float64)
    d = base.shape[0]
    Z = np.repeat(np.repeat(base[None, None, :], d, axis=0), len(values), axis=1)
    for j in range(d):
        Z[j, :, j] = values
    return decode_mean(model, Z)


def decoder_function(model: VAE):
    """The decoder's mean as a float64 torch function of one latent point, ``(d,) -> (D,)``
    (a Jacobian map: ``figureflow.jacobian.torch_maps.torch_map``)."""
    import copy

    double = copy.deepcopy(model).double().eval()
    for p in double.parameters():
        p.requires_grad_(False)

    def fn(z):
        return double.mean(double.decode(z[None, :]))[0]

    return fn


def training_data(path, likelihood: str) -> dict:
    """A run's data: ``x (n, D)`` float32 and what is known about its rows.

    From a simulation's ``.npz``: ``factors``, ``factor_names``, ``categorical`` and, for sprites,
    ``canvas``. From a processed ``.h5ad``: ``layers["counts"]`` for ``nb``, else ``X`` as stored;
    ``obs`` and ``var_names`` come along (``factors`` is None).
    """
    from pathlib import Path

    if Path(path).suffix == ".npz":
        with np.load(path, allow_pickle=False) as f:
            out = {k: f[k] for k in f.files}
        out["x"] = out.pop("x").astype(np.float32)
        return out
    import anndata as ad
    import scipy.sparse as sp

    from figureflow.io import InputError, describe

    adata = ad.read_h5ad(path)
    if likelihood == "nb" and "counts" not in adata.layers:
        raise InputError(f"h5ad file '{path}': likelihood 'nb' needs layers['counts'], found layers {describe(list(adata.layers))}")
    matrix = adata.layers["counts"] if likelihood == "nb" else adata.X
    x = matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)
    return {"x": x.astype(np.float32), "factors": None, "obs": adata.obs, "var_names": np.asarray(adata.var_names)}


def kl_per_dimension(model: VAE, x: np.ndarray) -> np.ndarray:
    """Mean over rows of each latent dimension's KL to the prior (nats); ~0 for a collapsed dimension."""
    with torch.no_grad():
        mu, logvar = model.encode(torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32)))
        return (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar)).mean(dim=0).numpy().astype(np.float64)


#: a latent dimension is active when its held-out KL to the prior exceeds this (nats; Burda et al.
#: 2016 use the posterior means' variance at 0.01, the same order)
ACTIVE_UNIT_KL = 0.01


@torch.no_grad()
def constant_reconstruction(x_train: np.ndarray, x_held: np.ndarray, likelihood: str) -> float:
    """The held-out reconstruction loss (``-log p(x)`` per row) of the best constant model: the
    likelihood with the decoder's output fixed to what fits the training rows best. Bernoulli:
    the pixel means (clipped to [1e-6, 1 - 1e-6]); Gaussian: each feature's mean and standard
    deviation; NB: the pooled gene proportions times each row's library, with each gene's
    moment estimate of the inverse dispersion (``mean^2 / (variance - mean)``, at most 1e6). A
    model whose reconstruction is no better than this learned nothing about the rows."""
    xt = torch.as_tensor(np.asarray(x_train, dtype=np.float64))
    xh = torch.as_tensor(np.asarray(x_held, dtype=np.float64))
    if likelihood == "bernoulli":
        p = xt.mean(dim=0).clamp(1e-6, 1 - 1e-6)
        return float(-bernoulli_log_likelihood(xh, torch.logit(p).expand_as(xh)).mean())
    if likelihood == "gaussian":
        log_scale = torch.log(xt.std(dim=0, unbiased=False).clamp_min(1e-6))
        return float(-gaussian_log_likelihood(xh, xt.mean(dim=0).expand_as(xh), log_scale).mean())
    proportions = xt.sum(dim=0) / xt.sum()
    fitted = xt.sum(dim=1, keepdim=True) * proportions
    excess = ((xt - fitted) ** 2 - fitted).mean(dim=0)
    theta = torch.where(excess > 0, fitted.pow(2).mean(dim=0) / excess.clamp_min(1e-12), torch.full_like(excess, 1e6)).clamp(1e-3, 1e6)
    return float(-nb_log_likelihood(xh, xh.sum(dim=1, keepdim=True) * proportions, theta).mean())


def traversal_base(z: np.ndarray, held_rows: np.ndarray) -> int:
    """The row whose posterior mean the traversals start from: the held-out row nearest (in
    Euclidean distance) the median latent. A real image's code, not the median itself: where a
    factor is spread around a ring or over clusters, the median of each dimension can fall where
    no image lies, and the decoder draws an empty canvas there."""
    held = np.asarray(held_rows)
    distance = ((z[held] - np.median(z, axis=0)) ** 2).sum(axis=1)
    return int(held[np.argmin(distance)])


def traversal_contrast(traversal: np.ndarray) -> float:
    """The median over decoded images (``traversal (d, steps, pixels)``) of the difference
    between an image's brightest and darkest pixel: near 1 when the traversal draws objects, near
    0 for uniform grey squares."""
    traversal = np.asarray(traversal)
    return float(np.median(traversal.max(axis=-1) - traversal.min(axis=-1)))


def learned_nothing(active_units: int, reconstruction: float, constant: float) -> str:
    """Why a replicate learned nothing (``""`` when it learned something): no active unit, or a
    held-out reconstruction no better than the best constant's."""
    reasons = []
    if active_units == 0:
        reasons.append(f"no active latent unit (held-out KL above {ACTIVE_UNIT_KL} nats)")
    if not reconstruction < constant:
        reasons.append(f"held-out reconstruction {reconstruction:.4g} is no better than the best constant image's {constant:.4g}")
    return "; ".join(reasons)


def train_replicate(
    data: Mapping,
    options: Mapping,
    seed: int,
    run: str,
    replicate: int,
    checkpoint=None,
    threads: int | None = None,
    volume=None,
    traversal_steps: int = 7,
    traversal_extent: float = 2.5,
    log=None,
) -> dict:
    """One seed replicate of a VAE run (:func:`train_vae`), scored.

    ``data`` is :func:`training_data`'s dict. ``volume(model) -> float`` gives the decoder volume
    (the workflow passes the Jacobian sampler's). Returns ``{"model", "history"`` (a
    ``replicate`` column first), ``"metrics"`` (one row: ``replicate``, ``epochs``, ``keep``,
    ``kept_epoch``, ``held_out_elbo``, ``held_out_reconstruction``, ``constant_reconstruction``,
    ``active_units``, ``learned_nothing`` and ``why`` (the reason, or empty), then ``mig_dlib``, ``mig_binned`` and ``sap`` when
    factors are known, ``decoder_volume``, and ``traversal_contrast`` for images
    (:func:`traversal_contrast`)), ``"latent"`` (``z``, ``kl_per_dim`` on held-out rows,
    ``traversal (d, steps, D)`` around the code of row ``traversal_row`` (:func:`traversal_base`),
    ``traversal_values``)``}``.

    A replicate that learned nothing (:func:`learned_nothing`) is logged as a warning and says why
    in its ``learned_nothing`` and ``why`` columns.
    """
    from figureflow.generative.disentanglement import disentanglement_scores

    options = {**DEFAULTS, **options}
    x, factors = data["x"], data.get("factors")
    model, history, info = train_vae(x, options, seed, run, replicate, checkpoint=checkpoint, threads=threads)
    z = encode(model, x)
    kl = kl_per_dimension(model, x[info["held_rows"]])
    active = int((kl > ACTIVE_UNIT_KL).sum())
    constant = constant_reconstruction(x[info["train_rows"]], x[info["held_rows"]], options["likelihood"])
    why = learned_nothing(active, info["held_out_reconstruction"], constant)
    row = {"replicate": replicate, "epochs": len(history), "keep": info["keep"], "kept_epoch": info["kept_epoch"],
           "held_out_elbo": info["held_out_elbo"], "held_out_reconstruction": info["held_out_reconstruction"],
           "constant_reconstruction": constant, "active_units": active, "learned_nothing": bool(why), "why": why}
    if factors is not None:
        rng = replicate_streams(seed, "vae_scores", {"run": run}, replicate)["numpy"]
        row.update(disentanglement_scores(z, data, rng))
    if volume is not None:
        row["decoder_volume"] = float(volume(model))
    if log is not None:
        log.info("%s replicate %d on %s: %d epochs in %.1f s (kept epoch %d, %s), %s", run, replicate, info["device"], len(history), info["seconds"],
                 info["kept_epoch"], info["keep"], ", ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, (float, int)) and k not in ("replicate", "epochs", "kept_epoch")))
        if why:
            log.warning("%s replicate %d learned nothing: %s", run, replicate, why)
    history.insert(0, "replicate", replicate)
    values = np.linspace(-traversal_extent, traversal_extent, traversal_steps)
    base = traversal_base(z, info["held_rows"])
    latent = {"z": z, "kl_per_dim": kl, "traversal": traverse(model, z[base], values), "traversal_values": values, "traversal_row": np.array(base)}
    if options["likelihood"] == "bernoulli":
        row["traversal_contrast"] = traversal_contrast(latent["traversal"])
    return {"model": model, "history": history, "metrics": pd.DataFrame([row]), "latent": latent}


def latent_arrays(latent: Mapping, data: Mapping) -> dict:
    """What the run's figures draw (``latent.npz``): :func:`train_run`'s ``latent`` plus, from
    :func:`training_data`, the factors (simulations) or ``cell_type``/``age`` and gene names
    (datasets), all as plain (non-object) arrays."""
    arrays = dict(latent)
    for key in ("factors", "factor_classes", "factor_names", "categorical", "canvas"):
        if data.get(key) is not None:
            arrays[key] = data[key]
    if "obs" in data:
        for column in ("cell_type", "age"):
            if column in data["obs"]:
                arrays[column] = data["obs"][column].astype(str).to_numpy(dtype=str)
        arrays["var_names"] = np.asarray(data["var_names"], dtype=str)
    return arrays


def gather_replicates(inputs: Mapping, model_path, history_path, metrics_path, latent_path) -> pd.DataFrame:
    """Join a run's replicates (each :func:`train_replicate`'s files, written by its own job) into
    the run's files: one ``model.pt`` holding every replicate, the histories and metrics stacked
    in replicate order, and replicate 0's latents. ``inputs`` has lists ``model``, ``history``,
    ``metrics``, ``latent`` in replicate order. Returns the metrics."""
    import shutil

    from figureflow.io import atomic_output, read_table, write_table

    saved = [torch.load(p, map_location="cpu", weights_only=False) for p in inputs["model"]]
    save_torch({"config": saved[0]["config"], "options": saved[0]["options"], "replicates": [s["replicates"][0] for s in saved]}, model_path)
    write_table(pd.concat([read_table(p) for p in inputs["history"]], ignore_index=True), history_path)
    metrics = pd.concat([read_table(p) for p in inputs["metrics"]], ignore_index=True)
    write_table(metrics, metrics_path)
    with atomic_output(latent_path) as tmp:
        shutil.copyfile(inputs["latent"][0], tmp)
    return metrics


def save_model(path, models: list[VAE], options: Mapping) -> None:
    """Write replicates' weights and the run's options to one ``model.pt`` (atomically)."""
    save_torch({"config": models[0].config, "options": dict(options), "replicates": [m.state_dict() for m in models]}, path)


def load_model(path, replicate: int = 0) -> VAE:
    """Replicate ``replicate`` of a ``model.pt`` written by :func:`save_model`, on the CPU."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    c = saved["config"]
    model = VAE(c["data_dim"], c["latent_dim"], c["hidden"], c["likelihood"], c["architecture"], c["library"])
    model.load_state_dict(saved["replicates"][replicate])
    return model.eval()
