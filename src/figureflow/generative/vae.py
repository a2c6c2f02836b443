"""Variational autoencoders with disentangling objectives (torch).

Model: an encoder ``q(z | x) = N(mu(x), diag exp(logvar(x)))``, a prior ``p(z) = N(0, I)`` and a
decoder ``p(x | z)``, one of the :data:`LIKELIHOODS`:

* ``gaussian``: ``N(x; m(z), exp(2 s))`` per feature, ``s`` a learned log scale per feature;
* ``nb``: negative binomial on counts with mean ``l * softmax(m(z))`` for the cell's observed
  library size ``l`` and a learned inverse dispersion per gene (as scVI does); the encoder reads
  ``log1p`` counts;
* ``bernoulli``: ``x`` in {0, 1} with logits ``m(z)`` (binary images).

Encoder and decoder are MLPs (``hidden`` sizes, SiLU), or for square images (``architecture:
conv``) three stride-2 4x4 convolutions (32, 32, 64 channels) and their transposes.

Objectives, per sample, with ``R = -E_q log p(x | z)`` (one reparameterised draw) and ``KL =
KL(q(z | x) || p(z))`` in closed form (:func:`kl_standard_normal`):

=============  ====================================================================================
``vae``        ``R + w KL``                                           (Kingma and Welling 2014)
``beta``       ``R + w beta KL``                                      (Higgins et al. 2017)
``capacity``   ``R + gamma |KL - C|``, ``C`` raised linearly from 0 to ``C_max`` nats over
               ``C_steps`` minibatches                                (Burgess et al. 2018)
``tc``         ``R + w KL + (beta - 1) TC``, the total correlation ``KL(q(z) || prod_j q(z_j))``
               estimated by minibatch-weighted sampling              (Chen et al. 2018)
=============  ====================================================================================

``w`` is the KL warm-up factor, ``min(1, epoch / warmup_epochs)`` (1 without warm-up). Whatever
the objective, the held-out loss is the negative ELBO ``R + KL`` (the ``vae`` objective), so that
early stopping and the reported ELBO compare across objectives.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch
from torch import nn

from figureflow.generative.settings import ARCHITECTURES, DEFAULTS, LIKELIHOODS, OBJECTIVES
from figureflow.generative.training import fit, held_out_split, init_weights, normal_noise, replicate_streams, resolve_device

__all__ = [
    "LIKELIHOODS",
    "OBJECTIVES",
    "ARCHITECTURES",
    "DEFAULTS",
    "kl_standard_normal",
    "gaussian_log_likelihood",
    "nb_log_likelihood",
    "bernoulli_log_likelihood",
    "total_correlation",
    "capacity",
    "VAE",
    "build_vae",
    "objective_terms",
    "train_vae",
    "encode",
    "decode_mean",
    "traverse",
    "decoder_function",
    "save_model",
    "load_model",
    "training_data",
    "kl_per_dimension",
    "train_run",
    "latent_arrays",
]

LOG_2PI = math.log(2 * math.pi)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(mu, diag exp(logvar)) || N(0, I))`` per row: ``1/2 sum_j (mu^2 + e^logvar - 1 - logvar)``."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=-1)


def gaussian_log_likelihood(x: torch.Tensor, mean: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """``sum_i log N(x_i; mean_i, exp(log_scale_i)^2)`` per row."""
    return (-0.5 * LOG_2PI - log_scale - 0.5 * ((x - mean) * torch.exp(-log_scale)).pow(2)).sum(dim=-1)


def nb_log_likelihood(x: torch.Tensor, mean: torch.Tensor, theta: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """``sum_i log NB(x_i; mean_i, theta_i)`` per row, the negative binomial with mean ``mean`` and
    variance ``mean + mean^2 / theta`` (``scipy.stats.nbinom(n=theta, p=theta / (theta + mean))``)."""
    log_total = torch.log(theta + mean + eps)
    return (
        torch.lgamma(x + theta) - torch.lgamma(theta) - torch.lgamma(x + 1.0)
        + theta * (torch.log(theta + eps) - log_total) + x * (torch.log(mean + eps) - log_total)
    ).sum(dim=-1)


def bernoulli_log_likelihood(x: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """``sum_i x_i log p_i + (1 - x_i) log(1 - p_i)`` per row, ``p = sigmoid(logits)``."""
    return -nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="none").sum(dim=-1)


def _log_normal(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))


def total_correlation(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor, n_data: int) -> torch.Tensor:
    """Minibatch-weighted-sampling estimate of ``TC = E_q(z) [log q(z) - sum_j log q(z_j)]``.

    With a minibatch of ``M`` rows from ``N = n_data``, ``log q(z_i) ~ logsumexp_k log q(z_i |
    x_k) - log(N M)`` and likewise per dimension (Chen et al. 2018, eq. S4); the mean over the
    minibatch of the difference.
    """
    M = z.shape[0]
    pair = _log_normal(z[:, None, :], mu[None, :, :], logvar[None, :, :])  # (M, M, d): z_i under q(.|x_k)
    log_norm = math.log(n_data * M)
    joint = torch.logsumexp(pair.sum(dim=2), dim=1) - log_norm
    marginals = (torch.logsumexp(pair, dim=1) - log_norm).sum(dim=1)
    return (joint - marginals).mean()


def capacity(step: int, C_max: float, C_steps: int) -> float:
    """The capacity target after ``step`` minibatches: ``C_max * min(1, step / C_steps)`` nats."""
    return float(C_max) * min(1.0, step / max(1, int(C_steps)))


def _mlp(sizes, last_activation=False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class _ConvEncoder(nn.Module):
    def __init__(self, canvas: int, hidden: int, out: int):
        super().__init__()
        self.canvas = canvas
        self.net = nn.Sequential(
            nn.Conv2d(1, 32, 4, 2, 1), nn.SiLU(), nn.Conv2d(32, 32, 4, 2, 1), nn.SiLU(), nn.Conv2d(32, 64, 4, 2, 1), nn.SiLU(),
            nn.Flatten(), nn.Linear(64 * (canvas // 8) ** 2, hidden), nn.SiLU(), nn.Linear(hidden, out),
        )

    def forward(self, x):
        return self.net(x.reshape(-1, 1, self.canvas, self.canvas))


class _ConvDecoder(nn.Module):
    def __init__(self, canvas: int, hidden: int, latent: int):
        super().__init__()
        self.canvas = canvas
        self.net = nn.Sequential(
            nn.Linear(latent, hidden), nn.SiLU(), nn.Linear(hidden, 64 * (canvas // 8) ** 2), nn.SiLU(),
            nn.Unflatten(-1, (64, canvas // 8, canvas // 8)),
            nn.ConvTranspose2d(64, 32, 4, 2, 1), nn.SiLU(), nn.ConvTranspose2d(32, 32, 4, 2, 1), nn.SiLU(), nn.ConvTranspose2d(32, 1, 4, 2, 1),
        )

    def forward(self, z):
        out = self.net(z.reshape(-1, z.shape[-1]))
        return out.reshape(*z.shape[:-1], self.canvas * self.canvas)


class VAE(nn.Module):
    """Encoder, decoder and likelihood parameters; see the module docstring.

    ``forward``-free: :meth:`encode` gives ``(mu, logvar)``, :meth:`decode` the decoder's output
    (means, softmax logits or Bernoulli logits) for latent points ``z (..., latent_dim)``.
    """

    def __init__(self, data_dim: int, latent_dim: int, hidden, likelihood: str, architecture: str = "mlp", library: float = 1.0):
        super().__init__()
        self.config = {"data_dim": int(data_dim), "latent_dim": int(latent_dim), "hidden": [int(h) for h in hidden],
                       "likelihood": likelihood, "architecture": architecture, "library": float(library)}
        if architecture == "conv":
            canvas = int(round(math.sqrt(data_dim)))
            self.encoder = _ConvEncoder(canvas, self.config["hidden"][0], 2 * latent_dim)
            self.decoder = _ConvDecoder(canvas, self.config["hidden"][0], latent_dim)
        else:
            self.encoder = _mlp([data_dim, *hidden, 2 * latent_dim])
            self.decoder = _mlp([latent_dim, *reversed(list(hidden)), data_dim])
        # per-feature log scale (gaussian) or log inverse dispersion (nb)
        self.feature_parameter = nn.Parameter(torch.zeros(data_dim)) if likelihood in ("gaussian", "nb") else None

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.log1p(x) if self.config["likelihood"] == "nb" else x)
        mu, logvar = h.chunk(2, dim=-1)
        return mu, logvar.clamp(-12.0, 8.0)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def log_likelihood(self, x: torch.Tensor, out: torch.Tensor, library: torch.Tensor | None) -> torch.Tensor:
        kind = self.config["likelihood"]
        if kind == "gaussian":
            return gaussian_log_likelihood(x, out, self.feature_parameter)
        if kind == "nb":
            mean = library[:, None] * torch.softmax(out, dim=-1)
            return nb_log_likelihood(x, mean, torch.exp(self.feature_parameter))
        return bernoulli_log_likelihood(x, out)

    def mean(self, out: torch.Tensor, library: float | torch.Tensor | None = None) -> torch.Tensor:
        """The likelihood's mean given decoder output: ``out``, ``library * softmax(out)`` or ``sigmoid(out)``."""
        kind = self.config["likelihood"]
        if kind == "nb":
            return (self.config["library"] if library is None else library) * torch.softmax(out, dim=-1)
        if kind == "bernoulli":
            return torch.sigmoid(out)
        return out


def build_vae(data_dim: int, options: Mapping, weight_seed: int, library: float = 1.0) -> VAE:
    """A :class:`VAE` for ``options`` (a run's settings) with weights drawn from ``weight_seed``."""
    model = VAE(data_dim, options["latent_dim"], options["hidden"], options["likelihood"], options["architecture"], library)
    return init_weights(model, torch.Generator().manual_seed(int(weight_seed)))


def objective_terms(model: VAE, x: torch.Tensor, library: torch.Tensor | None, options: Mapping, state: Mapping, train: bool = True) -> dict:
    """The minibatch mean of the objective and its parts: ``loss``, ``reconstruction``, ``kl``,
    and ``C`` (capacity) or ``tc`` (total correlation) for those objectives."""
    mu, logvar = model.encode(x)
    z = mu + torch.exp(0.5 * logvar) * normal_noise(mu.shape, state["generator"], mu)
    reconstruction = -model.log_likelihood(x, model.decode(z), library)
    kl = kl_standard_normal(mu, logvar)
    terms = {"reconstruction": reconstruction.mean(), "kl": kl.mean()}
    if not train:
        terms["loss"] = terms["reconstruction"] + terms["kl"]
        return terms
    warmup = int(options.get("warmup_epochs", 0))
    w = min(1.0, (state["epoch"] + 1) / warmup) if warmup > 0 else 1.0
    objective = options["objective"]
    if objective == "vae":
        loss = terms["reconstruction"] + w * terms["kl"]
    elif objective == "beta":
        loss = terms["reconstruction"] + w * float(options["beta"]) * terms["kl"]
    elif objective == "capacity":
        C = capacity(state["step"], options["C_max"], options["C_steps"])
        loss = terms["reconstruction"] + float(options["gamma"]) * (terms["kl"] - C).abs()
        terms["C"] = torch.tensor(C)
    elif objective == "tc":
        tc = total_correlation(z, mu, logvar, state["n_train"])
        loss = terms["reconstruction"] + w * terms["kl"] + (float(options["beta"]) - 1.0) * tc
        terms["tc"] = tc
    else:
        raise ValueError(f"objective {objective!r}: expected one of {', '.join(OBJECTIVES)}")
    terms["loss"] = loss
    return {k: (v if k == "loss" else v.detach()) for k, v in terms.items()}


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
    settings over :data:`DEFAULTS`. Returns the model at its best held-out epoch (on the CPU), the
    history (``epoch``, ``train_loss``, ``held_out_loss``, ``reconstruction``, ``kl``, and ``C``
    or ``tc``; held-out parts prefixed ``held_out_``) and ``{"train_rows", "held_rows", "device",
    "seconds", "held_out_elbo"}`` (the ELBO per held-out sample, one seeded posterior draw).
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
        terms = objective_terms(model, batch[0], batch[1], options, state, train=False)
        return {"held_out_loss": terms["loss"], "held_out_reconstruction": terms["reconstruction"], "held_out_kl": terms["kl"]}

    identity = repr(sorted({**options, "seed": seed, "run": run, "replicate": replicate, "n": x.shape[0], "D": x.shape[1]}.items()))
    model, history = fit(
        model, data, train_rows, held_rows, step_loss, evaluate,
        epochs=int(options["epochs"]), batch_size=int(options["batch_size"]), learning_rate=float(options["learning_rate"]),
        generator=generator, patience=options["patience"], checkpoint=checkpoint, identity=identity,
        progress=progress, label=f"VAE run {run}, replicate {replicate}",
    )
    model = model.cpu().eval()
    with torch.no_grad():
        held = _tensors(x[held_rows], torch.device("cpu"), options["likelihood"])
        state = {"generator": torch.Generator().manual_seed(streams["evaluation"])}
        elbo = -float(objective_terms(model, held[0], held[1], options, state, train=False)["loss"])
    return model, history, {"train_rows": train_rows, "held_rows": held_rows, "device": str(device), "seconds": history.attrs["seconds"], "held_out_elbo": elbo}


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


def train_run(
    data: Mapping,
    options: Mapping,
    seed: int,
    run: str,
    checkpoint_dir=None,
    threads: int | None = None,
    volume=None,
    traversal_steps: int = 7,
    traversal_extent: float = 2.5,
    log=None,
) -> dict:
    """Every seed replicate of one run (:func:`train_vae`), scored.

    ``data`` is :func:`training_data`'s dict. ``volume(model, replicate) -> float`` gives a
    replicate's decoder volume (the workflow passes the Jacobian sampler's). Returns
    ``{"models", "history"`` (a ``replicate`` column first), ``"metrics"`` (a row per replicate:
    ``replicate``, ``epochs``, ``best_epoch``, ``held_out_elbo``, ``mig`` and ``sap`` when factors
    are known, ``decoder_volume``), ``"latent"`` (replicate 0: ``z``, ``kl_per_dim``,
    ``traversal (d, steps, D)`` around the median latent, ``traversal_values``)``}``.
    """
    import shutil
    from pathlib import Path

    from figureflow.generative.disentanglement import mig, sap
    from figureflow.io import RunError

    options = {**DEFAULTS, **options}
    x, factors = data["x"], data.get("factors")
    models, histories, rows = [], [], []
    for r in range(int(options["replicates"])):
        checkpoint = Path(checkpoint_dir) / f"replicate_{r}.pt" if checkpoint_dir else None
        try:
            model, history, info = train_vae(x, options, seed, run, r, checkpoint=checkpoint, threads=threads)
        except RunError:  # a diverged replicate: the run writes nothing, its other replicates' checkpoints included
            if checkpoint_dir:
                shutil.rmtree(checkpoint_dir, ignore_errors=True)
            raise
        z = encode(model, x)
        row = {"replicate": r, "epochs": len(history), "best_epoch": int(history["held_out_loss"].idxmin()) + 1, "held_out_elbo": info["held_out_elbo"]}
        if factors is not None:
            row["mig"] = mig(z, factors)
            row["sap"] = sap(z, factors, data.get("categorical"))
        if volume is not None:
            row["decoder_volume"] = float(volume(model, r))
        if log is not None:
            log.info("%s replicate %d on %s: %d epochs in %.1f s, %s", run, r, info["device"], len(history), info["seconds"],
                     ", ".join(f"{k} {v:.4g}" for k, v in row.items() if isinstance(v, float)))
        history.insert(0, "replicate", r)
        models.append(model)
        histories.append(history)
        rows.append(row)
        if r == 0:
            values = np.linspace(-traversal_extent, traversal_extent, traversal_steps)
            latent = {"z": z, "kl_per_dim": kl_per_dimension(model, x), "traversal": traverse(model, np.median(z, axis=0), values), "traversal_values": values}
    return {"models": models, "history": pd.concat(histories, ignore_index=True), "metrics": pd.DataFrame(rows), "latent": latent}


def latent_arrays(latent: Mapping, data: Mapping) -> dict:
    """What the run's figures draw (``latent.npz``): :func:`train_run`'s ``latent`` plus, from
    :func:`training_data`, the factors (simulations) or ``cell_type``/``age`` and gene names
    (datasets), all as plain (non-object) arrays."""
    arrays = dict(latent)
    for key in ("factors", "factor_names", "categorical", "canvas"):
        if data.get(key) is not None:
            arrays[key] = data[key]
    if "obs" in data:
        for column in ("cell_type", "age"):
            if column in data["obs"]:
                arrays[column] = data["obs"][column].astype(str).to_numpy(dtype=str)
        arrays["var_names"] = np.asarray(data["var_names"], dtype=str)
    return arrays


def save_model(path, models: list[VAE], options: Mapping) -> None:
    """Write replicates' weights and the run's options to one ``model.pt`` (atomically)."""
    from figureflow.io import atomic_output

    with atomic_output(path) as tmp:
        torch.save({"config": models[0].config, "options": dict(options), "replicates": [m.state_dict() for m in models]}, tmp)


def load_model(path, replicate: int = 0) -> VAE:
    """Replicate ``replicate`` of a ``model.pt`` written by :func:`save_model`, on the CPU."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    c = saved["config"]
    model = VAE(c["data_dim"], c["latent_dim"], c["hidden"], c["likelihood"], c["architecture"], c["library"])
    model.load_state_dict(saved["replicates"][replicate])
    return model.eval()

