"""What every figureflow trainer needs around its model: device, seeds, split, epochs, checkpoints.

* :func:`resolve_device`: ``auto`` is CUDA when torch sees a GPU, else the CPU.
* :func:`replicate_streams`: from the config seed, per (rule, wildcards, replicate), a numpy
  generator for data splits and two ``torch.Generator`` seeds (weights, training noise), all
  through :mod:`figureflow.seeding`; never torch's global generator.
* :func:`init_weights`: PyTorch's default initialisation of linear and convolution layers
  (uniform on ``+-1/sqrt(fan_in)``), drawn from a given generator.
* :func:`held_out_split`: a seeded split into training and held-out rows.
* :func:`fit`: Adam over shuffled minibatches, a held-out evaluation each epoch, early stopping on
  it, a checkpoint every epoch (model, optimizer, generator state, history) from which an
  interrupted run resumes to the same final weights on CPU, and a tqdm progress bar.

Random draws during training (minibatch order, reparameterisation noise) come from one CPU
``torch.Generator`` whose state is in the checkpoint; noise drawn on the CPU and moved to the
device makes a CUDA run see the same draws as a CPU run.
"""

from __future__ import annotations

import copy
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from figureflow.generative.settings import check_device
from figureflow.io import RunError
from figureflow.seeding import seed_sequence

__all__ = [
    "resolve_device",
    "replicate_streams",
    "init_weights",
    "held_out_split",
    "normal_noise",
    "fit",
    "TrainingDiverged",
    "diverged_bound",
    "save_torch",
]


class TrainingDiverged(RunError):
    """A training whose loss became non-finite, or whose held-out loss rose far above the untrained
    model's (:func:`diverged_bound`): the message names the run, the epoch and the learning rate."""


def diverged_bound(untrained: float) -> float:
    """The held-out loss above which a training counts as diverged: ``L0 + max(|L0|, 1)`` for the
    untrained model's held-out loss ``L0`` (twice as bad as the untrained model, for a positive
    loss). An untrained model is the trivial one (a decoder near zero and a posterior near the
    prior; a field near zero, i.e. the standard normal): no training that learned anything is
    that much worse, and a diverged one is worse by orders of magnitude (1e5 to 1e32 seen)."""
    return float(untrained) + max(abs(float(untrained)), 1.0)


def resolve_device(device: str = "auto", key: str = "device") -> torch.device:
    """``auto`` -> CUDA if available else CPU; ``cpu``; ``cuda`` (or ``cuda:N``), which must exist
    (:func:`figureflow.generative.settings.check_device`, whose error names ``key``)."""
    check_device(device, key)
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def replicate_streams(seed: int, rule: str, wildcards: Mapping, replicate: int) -> dict:
    """``{"numpy": Generator, "weights": int, "training": int, "evaluation": int}`` for one
    replicate of one job (the integers seed torch generators)."""
    children = seed_sequence(seed, rule, wildcards, replicate).spawn(4)
    words = [int(c.generate_state(1, np.uint64)[0] >> np.uint64(1)) for c in children[1:]]
    return {"numpy": np.random.Generator(np.random.PCG64(children[0])), "weights": words[0], "training": words[1], "evaluation": words[2]}


@torch.no_grad()
def init_weights(module: torch.nn.Module, generator: torch.Generator) -> torch.nn.Module:
    """Re-draw every linear/convolution weight and bias uniformly on ``+-1/sqrt(fan_in)``
    (PyTorch's default bound) from ``generator``; returns ``module``."""
    for layer in module.modules():
        if isinstance(layer, (torch.nn.Linear, torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            w = layer.weight
            fan_in = w.shape[1] * math.prod(w.shape[2:])
            bound = 1.0 / math.sqrt(fan_in)
            w.copy_(torch.rand(w.shape, generator=generator, dtype=w.dtype) * 2 * bound - bound)
            if layer.bias is not None:
                layer.bias.copy_(torch.rand(layer.bias.shape, generator=generator, dtype=w.dtype) * 2 * bound - bound)
    return module


def held_out_split(n: int, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Sorted training and held-out row indices; at least one row in each."""
    n_held = min(max(1, int(round(fraction * n))), n - 1)
    order = rng.permutation(n)
    return np.sort(order[n_held:]), np.sort(order[:n_held])


def normal_noise(shape, generator: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """Standard normal noise drawn on the CPU from ``generator``, moved to ``like``'s device and dtype."""
    return torch.randn(shape, generator=generator, dtype=like.dtype).to(like.device)


def _progress(total: int, initial: int, enabled: bool, label: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=label, unit="epoch", file=sys.stderr, disable=not enabled, ascii=True, mininterval=1.0)


def fit(
    model: torch.nn.Module,
    data: Sequence[torch.Tensor],
    train_rows: np.ndarray,
    held_rows: np.ndarray,
    step_loss: Callable,
    evaluate: Callable,
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    generator: torch.Generator,
    patience: int | None = None,
    checkpoint: str | os.PathLike | None = None,
    identity: str = "",
    progress: bool = True,
    label: str = "training",
    on_epoch: Callable | None = None,
    evaluate_every: int = 1,
    schedule: Callable[[int], float] | None = None,
    checkpoint_seconds: float = 10.0,
    keep: str = "best",
    criterion: str = "held_out_loss",
) -> tuple[torch.nn.Module, pd.DataFrame]:
    """Train ``model`` with Adam; return it (at the epoch ``keep`` chooses) and the per-epoch history.

    Parameters
    ----------
    data
        Tensors with rows as samples, on the model's device; a minibatch is the same rows of each.
    train_rows, held_rows
        Row indices of the training and held-out sets.
    step_loss
        ``step_loss(model, batch, state) -> dict`` with a differentiable ``"loss"`` (minibatch
        mean) and any other floats to average into the history; ``state`` has ``epoch``,
        ``step`` (minibatches so far), ``steps_per_epoch``, ``n_train`` and ``generator``.
    evaluate
        ``evaluate(model, batch, state) -> dict`` of floats on held-out rows (no gradient),
        including ``"held_out_loss"``, the early-stopping criterion (lower is better).
        ``step_loss`` may return ``None`` to end training at that minibatch (an iteration budget).
    patience
        Stop after this many epochs without a lower held-out loss; ``None`` runs every epoch.
    checkpoint
        File written (atomically) after the last epoch and after any epoch that ends at least
        ``checkpoint_seconds`` after the previous write (0: every epoch; a CNF's epochs of ten
        minibatches would otherwise spend 5% of their time writing). If it exists and was written by a run with
        the same ``identity`` (a string of everything that defines the run), training resumes
        after its last epoch, with the optimizer and generator state it saved, so the result equals
        an uninterrupted run's on CPU. A checkpoint of another identity is ignored.
    on_epoch
        ``on_epoch(epoch, row)`` after each epoch (and its checkpoint, if one was written), e.g.
        to stop a test mid-run.
    evaluate_every
        Evaluate (and consider for the best model) every this many epochs and after the last one;
        other epochs' rows have no held-out values. Patience still counts epochs.
    schedule
        ``schedule(step) -> factor``: the learning rate of minibatch ``step`` is
        ``learning_rate * factor`` (``None``: constant).
    keep
        ``best``: the model of the evaluated epoch with the lowest ``criterion`` (a key of
        ``evaluate``'s dict; patience counts epochs without a lower one); ``last``: the model after
        the last epoch (for an objective that changes while training; patience is not used).

    Before the first step, the untrained model's held-out loss is evaluated (with a copy of
    ``generator``, so training draws the same numbers as without it); every later evaluation must
    stay at or below :func:`diverged_bound` of it.

    Raises
    ------
    TrainingDiverged
        When a training loss becomes NaN or infinite, or a held-out loss is non-finite or above
        :func:`diverged_bound`, naming ``label``, the epoch, the iteration and the learning rate.
        The checkpoint is removed first, so nothing of the diverged run is left.
    """
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history: list[dict] = []
    best = {"loss": math.inf, "epoch": -1, "state": copy.deepcopy(model.state_dict())}
    start, step, seconds, untrained = 0, 0, 0.0, None
    path = Path(checkpoint) if checkpoint else None
    if path is not None and path.exists():
        saved = torch.load(path, map_location=next(model.parameters()).device, weights_only=False)
        if saved.get("identity") == identity:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            generator.set_state(saved["generator"])
            history, best, start, step = saved["history"], saved["best"], saved["epoch"], saved["step"]
            seconds = float(saved.get("seconds", 0.0))
            untrained = saved.get("untrained")
    steps_per_epoch = max(1, math.ceil(len(train_rows) / batch_size))
    train_index = torch.as_tensor(train_rows)
    held_index = torch.as_tensor(held_rows, device=data[0].device)
    if start == 0:
        model.eval()
        with torch.no_grad():
            copy_of_generator = torch.Generator()
            copy_of_generator.set_state(generator.get_state())
            reference = evaluate(model, [t[held_index] for t in data], {"epoch": -1, "step": 0, "n_train": len(train_rows), "generator": copy_of_generator})
        untrained = float(reference["held_out_loss"])
        if not math.isfinite(untrained):
            raise TrainingDiverged(f"{label}: the untrained model's held-out loss is {untrained}, before any step: the data hold NaN or infinite values")
    elif untrained is None:  # a checkpoint written before the bound existed: only non-finite losses stop it
        untrained = math.inf

    def discard():
        if path is not None:
            path.unlink(missing_ok=True)

    def diverged(what: str, epoch: int, b: int | None = None):
        discard()
        at = f"epoch {epoch + 1}" + (f", minibatch {b + 1}" if b is not None else "") + f" (iteration {step})"
        return TrainingDiverged(
            f"{label}: training diverged at {at}: {what}, against {untrained:.6g} for the untrained model; nothing was "
            f"written; lower learning_rate (now {learning_rate:g})"
        )

    bar = _progress(epochs, start, progress, label)
    saved_at = time.perf_counter()
    bound = diverged_bound(untrained)
    shown = history[-1]["held_out_loss"] if history else math.nan  # the latest held-out value, for the progress bar
    if keep not in ("best", "last"):
        raise ValueError(f"keep is 'best' or 'last', found {keep!r}")
    if keep == "last":
        patience = None
    stopped = patience is not None and len(history) - 1 - best["epoch"] >= patience
    for epoch in range(start, epochs):
        if stopped:
            break
        began = time.perf_counter()
        model.train()
        order = train_index[torch.randperm(len(train_index), generator=generator)].to(data[0].device)
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        seen = 0
        for b in range(steps_per_epoch):
            rows = order[b * batch_size : (b + 1) * batch_size]
            state = {"epoch": epoch, "step": step, "steps_per_epoch": steps_per_epoch, "n_train": len(train_rows), "generator": generator}
            if schedule is not None:
                for group in optimizer.param_groups:
                    group["lr"] = learning_rate * schedule(step)
            try:
                terms = step_loss(model, [t[rows] for t in data], state)
            except RunError:  # e.g. a solve past its budget: the run cannot go on with these settings
                discard()
                raise
            if terms is None:
                stopped = True
                break
            loss = terms["loss"]
            if not torch.isfinite(loss):
                raise diverged(f"the training loss became {loss.item()}", epoch, b)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            seen += len(rows)
            for name, value in terms.items():  # a term may be absent from some minibatches (a phase change)
                sums[name] = sums.get(name, 0.0) + float(value.detach() if torch.is_tensor(value) else value) * len(rows)
                counts[name] = counts.get(name, 0) + len(rows)
        if seen == 0:
            break
        model.eval()
        last = epoch == epochs - 1 or stopped
        held = {"held_out_loss": math.nan}
        if last or (epoch + 1) % evaluate_every == 0:
            with torch.no_grad():
                try:
                    held = evaluate(model, [t[held_index] for t in data], {"epoch": epoch, "step": step, "n_train": len(train_rows), "generator": generator})
                except RunError:
                    discard()
                    raise
        row = {"epoch": epoch + 1, "iteration": step, "train_loss": sums.pop("loss") / seen}
        row.update({"held_out_loss": float(held.pop("held_out_loss"))})
        if (last or (epoch + 1) % evaluate_every == 0) and not row["held_out_loss"] <= bound:
            raise diverged(f"the held-out loss is {row['held_out_loss']:.6g}, above the bound {bound:.6g}", epoch)
        row.update({name: value / counts[name] for name, value in sums.items()})
        row.update({name: float(value) for name, value in held.items()})
        seconds += time.perf_counter() - began  # logged, not in the history, which must not vary by run
        history.append(row)
        if keep == "best" and row.get(criterion, math.nan) < best["loss"]:
            best = {"loss": row[criterion], "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
        stopped = stopped or (patience is not None and epoch - best["epoch"] >= patience)
        if path is not None and (epoch == epochs - 1 or stopped or time.perf_counter() - saved_at >= checkpoint_seconds):
            saved_at = time.perf_counter()
            saved = {
                "identity": identity, "epoch": epoch + 1, "step": step, "model": model.state_dict(),
                "optimizer": optimizer.state_dict(), "generator": generator.get_state(), "history": history, "best": best,
                "seconds": seconds, "untrained": untrained,
            }
            save_torch(saved, path)
        if not math.isnan(row["held_out_loss"]):
            shown = row["held_out_loss"]
        bar.set_postfix(train=f"{row['train_loss']:.4g}", held_out=f"{shown:.4g}", refresh=False)
        bar.update(1)
        if on_epoch is not None:
            on_epoch(epoch + 1, row)
    bar.close()
    if keep == "best":
        model.load_state_dict(best["state"])
    table = pd.DataFrame(history)
    table.attrs["seconds"] = seconds  # training time, the calls before a resume included (up to their last checkpoint)
    return model, table


def save_torch(obj, path) -> None:
    """``torch.save`` to ``path`` atomically, through an open file: torch names the records of its
    zip archive after the file it is given, so saving to the temporary path by name put a random
    name in every model (equal weights, different bytes); through a file object the records are
    ``archive/...`` and equal models give equal files."""
    from figureflow.io import atomic_output

    with atomic_output(path) as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)
