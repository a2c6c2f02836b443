"""One CNF run end to end: its data, the training, the scores against the truth and a Gaussian mixture, the figures' arrays, and saving.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from figureflow.generative.cnf.field import VectorField
from figureflow.generative.cnf.grids import density_grid, grid_radius, trajectories
from figureflow.generative.cnf.ode import log_density, solver_options
from figureflow.generative.cnf.train import held_out_nll, train_cnf
from figureflow.generative.settings import CNF_DEFAULTS as DEFAULTS

__all__ = ["save_model", "load_model", "training_data", "gaussian_mixture_nll", "train_run"]


def save_model(path, field: VectorField, options: Mapping, standardization: Mapping) -> None:
    """Write the field's weights, the run's options and the data's standardization (``shift``,
    ``scale``) to one ``model.pt`` (atomically)."""
    from figureflow.generative.training import save_torch

    save_torch({"config": field.config, "options": dict(options), "standardization": dict(standardization), "field": field.state_dict()}, path)


def load_model(path) -> tuple[VectorField, dict]:
    """The field (CPU, eval mode) and the saved dict (``options``, ``standardization``) of a ``model.pt``."""
    saved = torch.load(path, map_location="cpu", weights_only=False)
    c = saved["config"]
    field = VectorField(c["dim"], c["hidden"], c["activation"], c["conditioning"], c.get("fourier_features", 0))
    field.load_state_dict(saved["field"])
    return field.eval(), saved


def training_data(spec: Mapping, seed: int, run: str, annotations=None, path=None) -> dict:
    """A run's data, standardized: ``{"x" (n, D), "shift", "scale", "toy", "noise", "names"}``.

    Toys are drawn from ``(seed, "cnf_data", {"run": run})`` (``size`` points, ``noise``); a
    dataset's rows are the first ``n_dims`` columns of ``obsm["X_pca"]`` of ``annotations``, the
    processed h5ad at ``path`` read without its matrices
    (:func:`figureflow.data.ingest.read_h5ad_annotations`: a flow on 4 principal components has no
    use for the gene matrix, its counts or its neighbour graph); ``cell_type`` comes along when
    present. Standardized by one global mean and
    standard deviation (:func:`figureflow.generative.toys.standardize`).

    Raises
    ------
    InputError
        When the h5ad has no ``X_pca`` or fewer than ``n_dims`` components.
    """
    from figureflow.generative.toys import TOYS, standardize, toy_sample
    from figureflow.io import InputError
    from figureflow.seeding import generator

    options = {**DEFAULTS, **spec}
    out = {"toy": None, "noise": float(options["noise"])}
    if options["data"] in TOYS:
        raw = toy_sample(options["data"], int(options["size"]), float(options["noise"]), generator(seed, "cnf_data", {"run": run}))
        out["toy"], out["names"] = options["data"], np.array(["x1", "x2"])
    else:
        adata = annotations
        if "X_pca" not in adata.obsm:
            raise InputError(f"h5ad file '{path}': cnf run {run!r} models obsm['X_pca'], found obsm keys {sorted(adata.obsm)}")
        pca = np.asarray(adata.obsm["X_pca"], dtype=np.float64)
        if pca.shape[1] < int(options["n_dims"]):
            raise InputError(f"h5ad file '{path}': cnf.runs.{run}.n_dims is {options['n_dims']}, but obsm['X_pca'] has {pca.shape[1]} components")
        raw = pca[:, : int(options["n_dims"])]
        out["names"] = np.array([f"PC{i + 1}" for i in range(raw.shape[1])])
        if "cell_type" in adata.obs:
            out["cell_type"] = adata.obs["cell_type"].astype(str).to_numpy(dtype=str)
    out["x"], out["shift"], out["scale"] = standardize(raw)
    return out


def gaussian_mixture_nll(train: np.ndarray, held: np.ndarray, components: int, seed_word: int) -> float:
    """Held-out NLL (nats per point) of a full-covariance Gaussian mixture (scikit-learn, k-means
    initialisation from ``seed_word``) fitted to ``train``: the baseline a flow should beat."""
    from sklearn.mixture import GaussianMixture

    gmm = GaussianMixture(n_components=min(int(components), len(train)), covariance_type="full", random_state=int(seed_word) % 2**32, max_iter=500)
    return -float(gmm.fit(train).score(held))


def train_run(data: Mapping, options: Mapping, seed: int, run: str, figures: Mapping, checkpoint=None, threads: int | None = None, log=None) -> dict:
    """Train one CNF run and score it: :func:`train_cnf`, then :func:`held_out_nll` (exact
    trace, tight tolerance), the true density's NLL on the same held-out rows (toys with a known
    density) and a Gaussian mixture's; what the figures draw.

    Returns ``{"field", "history", "metrics"`` (one row: ``run``, ``data``, ``dims``, ``objective``,
    ``trace``, ``iterations``, ``held_out_nll``, ``nfe``, ``train_seconds``, ``nll_seconds``,
    ``true_nll``, ``gap``, ``gmm_nll``), ``"arrays"`` (``held_out`` data, ``samples``,
    ``trajectory (T, n, D)``, ``times``, for 2-D ``grid_axis``, ``log_density``, else
    ``held_out_log_density``)``}``.
    """
    from figureflow.generative.toys import KNOWN_DENSITY, toy_log_density
    from figureflow.seeding import seed_sequence

    options = {**DEFAULTS, **options}
    x = data["x"]
    field, history, info = train_cnf(x, options, seed, run, checkpoint=checkpoint, threads=threads, progress=True)
    held = x[info["held_rows"]]
    score = held_out_nll(field, held, options)
    row = {"run": run, "data": options["data"], "dims": x.shape[1], "objective": options["objective"], "trace": options["trace"],
           "iterations": int(history["iteration"].iloc[-1]), "held_out_nll": score["nll"], "nfe": score["nfe"],
           "train_seconds": info["seconds"], "nll_seconds": score["seconds"], "true_nll": np.nan, "gap": np.nan}
    if data.get("toy") in KNOWN_DENSITY:
        row["true_nll"] = -float(np.mean(toy_log_density(data["toy"], held, data["noise"], data["shift"], data["scale"])))
        row["gap"] = row["held_out_nll"] - row["true_nll"]
    words = seed_sequence(seed, "cnf_evaluate", {"run": run}).generate_state(2, np.uint64) >> np.uint64(1)
    row["gmm_nll"] = gaussian_mixture_nll(x[info["train_rows"]], held, options["gmm_components"], int(words[0]))
    if log is not None:
        log.info("%s: %d iterations in %.1f s on %s; held-out NLL %.4f (%d evaluations, %.1f s), true %.4f, GMM %.4f",
                 run, row["iterations"], row["train_seconds"], info["device"], row["held_out_nll"], row["nfe"], row["nll_seconds"], row["true_nll"], row["gmm_nll"])
    times = np.asarray(figures["trajectory_times"], dtype=np.float64)
    times = np.unique(np.concatenate([[0.0], times, [1.0]]))
    path = trajectories(field, options, int(figures["samples"]), times, int(words[1]))
    arrays = {"held_out": held, "samples": path[-1], "trajectory": path, "times": times, "names": data["names"]}
    if x.shape[1] == 2:
        began = time.perf_counter()
        axis, grid = arrays["grid_axis"], arrays["log_density"] = density_grid(field, options, float(figures["grid_extent"]), int(figures["grid_size"]))
        if log is not None:
            log.info("%s: density grid %d x %d over [%g, %g]^2 in %.1f s; its mass %.4f; %d points whose inverse path runs off (|z| > %g) drawn as zero",
                     run, len(axis), len(axis), axis[0], axis[-1], time.perf_counter() - began, float(np.exp(grid).sum()) * (axis[1] - axis[0]) ** 2,
                     int(np.isneginf(grid).sum()), grid_radius(float(figures["grid_extent"])))
    else:
        double = copy.deepcopy(field).double().eval()
        with torch.no_grad():
            arrays["held_out_log_density"] = log_density(double, torch.as_tensor(held), solver_options(options, evaluation=True))[0].numpy()
    if "cell_type" in data:
        arrays["held_out_cell_type"] = data["cell_type"][info["held_rows"]]
    return {"field": field, "history": history, "metrics": pd.DataFrame([row]), "arrays": arrays}
