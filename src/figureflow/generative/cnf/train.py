"""Training a CNF and scoring it: the learning-rate schedule, the training loop and the held-out NLL.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Mapping

import numpy as np
import torch

from figureflow.generative.cnf.field import VectorField, build_field
from figureflow.generative.cnf.objectives import objective_terms
from figureflow.generative.cnf.ode import EvaluationBudgetExceeded, ODESolveError, log_density, solver_options
from figureflow.generative.settings import CNF_DEFAULTS as DEFAULTS
from figureflow.generative.settings import cnf_training_budget
from figureflow.generative.training import fit, held_out_split, replicate_streams, resolve_device

__all__ = ["train_cnf", "held_out_nll"]


def _schedule(options: Mapping):
    """Learning-rate factor by step, relative to ``learning_rate``: during a maximum-likelihood
    run's flow-matching warm start, ``warm_start_learning_rate / learning_rate``; with
    ``lr_schedule: cosine``, times a cosine decay to 0 over each phase (warm start, then the rest)."""
    total = int(options["iterations"])
    warm = int(options["warm_start"]) if options["objective"] == "maximum_likelihood" else 0
    base = float(options["learning_rate"])
    warm_factor = float(options["warm_start_learning_rate"] or base) / base
    if options["lr_schedule"] == "constant" and warm_factor == 1.0:
        return None
    cosine = options["lr_schedule"] == "cosine"

    def factor(step: int) -> float:
        start, length, scale = (0, warm, warm_factor) if step < warm else (warm, total - warm, 1.0)
        return scale * (0.5 * (1 + math.cos(math.pi * min(1.0, (step - start) / max(1, length)))) if cosine else 1.0)

    return factor


def train_cnf(x: np.ndarray, options: Mapping, seed: int, run: str, checkpoint=None, threads: int | None = None, progress: bool = True, on_epoch=None,
              checkpoint_seconds: float = 10.0):
    """Train the CNF of run ``run`` on ``x (n, D)`` (standardized).

    Streams come from ``(seed, "cnf_train", {"run": run})``. ``iterations`` minibatches of
    ``batch_size`` rows (epochs of the training rows, the last one cut at ``iterations``); every
    ``evaluate_every`` iterations the held-out NLL under the training solver (exact trace) is
    recorded, and the model with the lowest is kept. A ``checkpoint`` file is written after an
    epoch every ``checkpoint_seconds`` (and after the last) and resumed from
    (:func:`figureflow.generative.training.fit`); ``on_epoch(epoch, row, field)``
    is called after each epoch (a benchmark's monitor, a test's interruption).

    Returns the field (CPU, eval mode), the history (``epoch``, ``iteration``, ``train_loss``,
    ``held_out_loss``, ``flow_matching`` or ``nll``/``nfe`` means) and ``{"train_rows",
    "held_rows", "device", "seconds"}``.
    """
    options = {**DEFAULTS, **options}
    if threads is not None:
        torch.set_num_threads(max(1, int(threads)))
    device = resolve_device(options["device"], f"cnf.runs.{run}.device")
    streams = replicate_streams(seed, "cnf_train", {"run": run}, 0)
    train_rows, held_rows = held_out_split(x.shape[0], float(options["held_out_fraction"]), streams["numpy"])
    X = torch.as_tensor(np.ascontiguousarray(x, dtype=np.float32), device=device)
    field = build_field(x.shape[1], options, streams["weights"]).to(device)
    generator = torch.Generator().manual_seed(streams["training"])
    batch_size = min(int(options["batch_size"]), len(train_rows))
    steps_per_epoch = math.ceil(len(train_rows) / batch_size)
    iterations = int(options["iterations"])
    epochs = math.ceil(iterations / steps_per_epoch)
    every = max(1, round(int(options["evaluate_every"]) / steps_per_epoch))
    held_solver = {**solver_options({**options, "adjoint": False}), "max_evaluations": None}  # no graph kept
    budget = cnf_training_budget(options, x.shape[1])
    bounded = {**options, "max_evaluations": budget["max_evaluations"]}

    def step_loss(model, batch, state):
        if state["step"] >= iterations:  # the last epoch stops at the iteration budget
            return None
        try:
            return objective_terms(model, batch[0], bounded, state)
        except EvaluationBudgetExceeded as exceeded:
            raise ODESolveError(
                f"CNF run {run}, iteration {state['step'] + 1}: the training solve ({options['solver']}, rtol {options['rtol']:g}, "
                f"atol {options['atol']:g}) stopped after {exceeded.evaluations} field evaluations, the most that fit in "
                f"memory_mb {budget['mem_mb']} at {budget['evaluation_mb']:.1f} MB each (max_evaluations); the flow has become too stiff "
                f"to follow: lower learning_rate (now {options['learning_rate']:g}), or loosen rtol/atol, or use trace: hutchinson or "
                f"adjoint: true, or raise memory_mb"
            ) from None

    def evaluate(model, batch, state):
        logp, nfe = log_density(model, batch[0], held_solver)
        return {"held_out_loss": -logp.mean(), "held_out_nfe": float(nfe)}

    identity = repr(sorted({**options, "seed": seed, "run": run, "n": x.shape[0], "D": x.shape[1]}.items()))
    field, history = fit(
        field, [X], train_rows, held_rows, step_loss, evaluate,
        epochs=epochs, batch_size=batch_size, learning_rate=float(options["learning_rate"]), generator=generator,
        patience=None, checkpoint=checkpoint, identity=identity, progress=progress, label=f"CNF run {run}",
        evaluate_every=every, schedule=_schedule(options), checkpoint_seconds=checkpoint_seconds, on_epoch=None if on_epoch is None else lambda epoch, row: on_epoch(epoch, row, field),
    )
    return field.cpu().eval(), history, {"train_rows": train_rows, "held_rows": held_rows, "device": str(device), "seconds": history.attrs["seconds"]}


def held_out_nll(field: VectorField, x: np.ndarray, options: Mapping, batch_size: int = 4096) -> dict:
    """The score of a trained field on rows ``x (n, D)``: ``{"nll"`` (minus the mean log-density,
    nats, exact trace, the tight evaluation solve of :func:`solver_options`), ``"nfe"`` (field
    evaluations per solve, the largest over batches), ``"seconds"}``; float64 throughout."""
    double = copy.deepcopy(field).double().eval()
    solver = solver_options(options, evaluation=True)
    began, total, nfe = time.perf_counter(), 0.0, 0
    X = torch.as_tensor(np.asarray(x, dtype=np.float64))
    with torch.no_grad():
        for i in range(0, len(X), batch_size):
            logp, n = log_density(double, X[i : i + batch_size], solver)
            total += float(logp.sum())
            nfe = max(nfe, n)
    return {"nll": -total / len(X), "nfe": nfe, "seconds": time.perf_counter() - began}
