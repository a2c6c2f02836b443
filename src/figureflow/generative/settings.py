"""The settings of the generative models (VAE, CNF) and their checks, without importing torch (the checks run
before any job, in every ``snakemake`` call)."""

from __future__ import annotations

import math

from collections.abc import Mapping

__all__ = [
    "LIKELIHOODS", "OBJECTIVES", "ARCHITECTURES", "DEFAULTS", "check_config", "simulation_dims", "sprites_shape",
    "CNF_OBJECTIVES", "TRACES", "NOISES", "FIXED_STEP_SOLVERS", "ADAPTIVE_SOLVERS", "CNF_DEFAULTS", "check_cnf_config",
]

LIKELIHOODS = ("gaussian", "nb", "bernoulli")
OBJECTIVES = ("vae", "beta", "capacity", "tc")
ARCHITECTURES = ("mlp", "conv", "burgess")

#: every option of a run, with its default (the config schema states the same)
DEFAULTS = {
    "objective": "vae",
    "beta": 4.0,
    "gamma": 100.0,
    "C_max": 25.0,
    "C_steps": 5000,
    "likelihood": "gaussian",
    "architecture": "mlp",
    "latent_dim": 6,
    "hidden": [128, 64],
    "epochs": 30,
    "batch_size": 128,
    "learning_rate": 1e-3,
    "warmup_epochs": 0,
    "patience": 10,
    "held_out_fraction": 0.1,
    "replicates": 3,
    "keep": "auto",
    "runtime": 120,
    "device": "auto",
}


def simulation_dims(spec: Mapping) -> int:
    """The data dimension of a ``vae.simulations`` entry (genes, or canvas pixels)."""
    if spec["simulator"] == "expression":
        return int(spec.get("n_genes", 200))
    return sprites_shape(spec)[1] ** 2


def sprites_shape(spec: Mapping, key: str = "vae.simulations") -> tuple[int, int]:
    """``(images, canvas)`` of a sprites entry: drawn (``n_images`` of the 737,280, ``canvas``),
    or read from ``npz`` (its ``imgs`` header, checked here: before any job).

    Raises
    ------
    InputError
        Naming ``key``'s file and what it lacks (:func:`figureflow.generative.known_factors.read_dsprites`'s layout).
    """
    grid = 737_280
    n = spec.get("n_images", 5000)
    if "npz" not in spec:
        return (grid if n is None else min(int(n), grid)), int(spec.get("canvas", 32))
    from figureflow.generative.known_factors import DSPRITES_FILE_KEYS, DSPRITES_LATENTS, npz_shapes
    from figureflow.io import InputError, describe

    try:
        shapes = npz_shapes(spec["npz"])
    except InputError as error:
        raise InputError(f"config key {key}.npz: {error}") from None
    missing = [k for k in DSPRITES_FILE_KEYS if k not in shapes]
    if missing:
        raise InputError(f"config key {key}.npz: file '{spec['npz']}' lacks the keys {', '.join(missing)} of dSprites' layout "
                         f"(imgs (n, side, side), latents_values and latents_classes (n, {len(DSPRITES_LATENTS)})); found {describe(list(shapes))}")
    imgs = shapes["imgs"][0]
    if len(imgs) != 3 or imgs[1] != imgs[2]:
        raise InputError(f"config key {key}.npz: file '{spec['npz']}' key 'imgs' must be (n, side, side) square images, found shape {imgs}")
    for k in DSPRITES_FILE_KEYS[1:]:
        if shapes[k][0] != (imgs[0], len(DSPRITES_LATENTS)):
            raise InputError(f"config key {key}.npz: file '{spec['npz']}' key '{k}' must be ({imgs[0]}, {len(DSPRITES_LATENTS)}), found shape {shapes[k][0]}")
    return (imgs[0] if n is None else min(int(n), imgs[0])), int(imgs[1])


#: memory of a VAE training job besides its data: Python, torch, the model and its optimizer (MB)
VAE_BASE_MB = 1000


def vae_memory_mb(n: int, dim: int) -> int:
    """What a VAE training job of ``n`` rows x ``dim`` features asks for (SLURM's --mem), in MB:
    :data:`VAE_BASE_MB` plus four float32 copies of the data (the file as read, the dense matrix,
    its tensor and the encoded/decoded passes over it), rounded up to 500 MB."""
    need = VAE_BASE_MB + 4 * 4 * int(n) * int(dim) / 1e6
    return int(math.ceil(need / 500.0) * 500)


def check_config(config: Mapping, data_facts: Mapping, devices_here: bool = True) -> dict:
    """The ``vae`` section, before any job: every run's data exists and suits its likelihood.

    * ``data`` names a simulation in ``vae.simulations`` or a dataset in ``datasets``;
    * ``nb`` needs counts: the expression simulator, or a dataset with raw counts (simulated or
      ingested raw; a ``processed`` dataset only with ``layers["counts"]``);
    * ``bernoulli`` and ``conv`` need binary square images: sprites (``conv``: canvas a multiple of 8);
    * sprites need ``bernoulli``;
    * ``device`` is ``auto``, ``cpu`` or ``cuda[:N]``; ``cuda`` where torch sees no GPU is an
      error, unless ``devices_here`` is false (jobs run elsewhere, e.g. on SLURM GPU nodes).

    ``data_facts`` is what :func:`figureflow.data.checks.check_config` learnt about datasets.
    Returns ``{"runs": {run: {"data", "source": "simulation" | "dataset", "factors": bool, "mem_mb"}},
    "simulations": [names]}``.

    Raises
    ------
    InputError
        Naming the run and key, what was expected and what was found.
    """
    from figureflow.io import InputError, describe

    section = config.get("vae", {})
    simulations = section.get("simulations", {})
    datasets = data_facts.get("datasets", {})
    runs = {}
    for run, spec in section.get("runs", {}).items():
        key = f"vae.runs.{run}"
        data = spec["data"]
        if data in simulations and data in datasets:
            raise InputError(f"config key {key}.data is {data!r}, which names both a simulation (vae.simulations) and a dataset; rename one")
        likelihood, architecture = spec.get("likelihood", DEFAULTS["likelihood"]), spec.get("architecture", DEFAULTS["architecture"])
        if data in simulations:
            simulator = simulations[data]["simulator"]
            wanted = {"expression": ("nb", "gaussian"), "sprites": ("bernoulli",)}[simulator]
            if likelihood not in wanted:
                raise InputError(f"config key {key}.likelihood is {likelihood!r}, but simulation {data!r} ({simulator}) needs {' or '.join(wanted)}")
            if simulator == "sprites":
                rows, canvas = sprites_shape(simulations[data], f"vae.simulations.{data}")
            else:
                rows, canvas = simulations[data].get("n_cells", 3000), None
            if architecture == "conv" and (canvas is None or canvas % 8):
                raise InputError(f"config key {key}.architecture is 'conv', which needs sprites with a canvas that is a multiple of 8; {data!r} is {simulator}"
                                 + (f" on {canvas} pixels" if canvas else ""))
            if architecture == "burgess" and (canvas is None or canvas < 16 or canvas & (canvas - 1)):
                raise InputError(f"config key {key}.architecture is 'burgess', which needs sprites on a canvas of 16, 32, 64, ... pixels; {data!r} is {simulator}"
                                 + (f" on {canvas} pixels" if canvas else ""))
            runs[run] = {"data": data, "source": "simulation", "factors": True, "mem_mb": vae_memory_mb(rows, simulation_dims(simulations[data]))}
        elif data in datasets:
            facts = datasets[data]
            if likelihood == "bernoulli" or architecture in ("conv", "burgess"):
                raise InputError(f"config key {key}: likelihood 'bernoulli' and architectures 'conv' and 'burgess' are for sprites; dataset {data!r} holds expression")
            if likelihood == "nb" and facts.get("processed") and "counts" not in facts.get("layers", []):
                raise InputError(
                    f"config key {key}.likelihood is 'nb', which needs counts, but dataset {data!r} is processed and its h5ad has no "
                    f"layers['counts'] (layers: {describe(facts.get('layers', []))}); use likelihood 'gaussian' on its stored X"
                )
            shape = facts.get("shape")
            runs[run] = {"data": data, "source": "dataset", "factors": False, "mem_mb": vae_memory_mb(*shape) if shape else 4000}
        else:
            raise InputError(
                f"config key {key}.data is {data!r}; expected a simulation ({describe(list(simulations))}) "
                f"or a dataset ({describe(list(datasets))})"
            )
        check_device(spec.get("device", "auto"), f"{key}.device", here=devices_here)
    return {"runs": runs, "simulations": list(simulations)}


def check_device(device, key: str = "device", here: bool = True) -> None:
    """``device`` is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, and with ``here`` a ``cuda`` device
    is one torch sees on this machine (torch is imported only then: planning a run stays light).

    Raises
    ------
    InputError
        Naming ``key``, what was expected and what was found.
    """
    import re

    from figureflow.io import InputError

    if not isinstance(device, str) or re.fullmatch(r"auto|cpu|cuda(:[0-9]+)?", device) is None:
        raise InputError(f"config key {key}: expected 'auto', 'cpu' or 'cuda[:N]', found {device!r}")
    if here and device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise InputError(f"config key {key} is {device!r}, but torch sees no CUDA device here; use 'auto' or 'cpu'")


def gpus_requested(device) -> int:
    """GPUs a training job asks a scheduler for: 1 for ``cuda`` or ``cuda:N``, 0 for ``auto``
    and ``cpu`` (such runs train on the job's CPUs)."""
    return int(str(device).startswith("cuda"))


def check_devices(config: Mapping) -> None:
    """Every VAE and CNF run's ``device`` is present on this machine: ``cuda`` needs a GPU that
    torch sees. Run where the jobs run (a local run, before its first job); a run planned for a
    cluster checks the spelling only (:func:`check_config` with ``devices_here=False``) and each
    training job checks its own device on its node.

    Raises
    ------
    InputError
        Naming the run's ``device`` key.
    """
    for section in ("vae", "cnf"):
        for run, spec in ((config.get(section) or {}).get("runs") or {}).items():
            check_device(spec.get("device", "auto"), f"{section}.runs.{run}.device")


# --- continuous normalizing flows -------------------------------------------------------------

CNF_OBJECTIVES = ("maximum_likelihood", "flow_matching")
TRACES = ("exact", "hutchinson")
NOISES = ("rademacher", "gaussian")
FIXED_STEP_SOLVERS = ("euler", "midpoint", "rk4")
ADAPTIVE_SOLVERS = ("dopri5", "dopri8", "bosh3", "adaptive_heun", "fehlberg2")

#: every option of a CNF run, with its default (the config schema states the same)
CNF_DEFAULTS = {
    "size": 10000,
    "noise": 0.05,
    "n_dims": 5,
    "objective": "maximum_likelihood",
    "warm_start": 0,
    "warm_start_learning_rate": None,
    "sigma_min": 0.0,
    "trace": "exact",
    "hutchinson_noise": "rademacher",
    "kinetic_energy": 0.0,
    "jacobian_norm": 0.0,
    "hidden": [64, 64, 64],
    "activation": "tanh",
    "conditioning": "concatsquash",
    "fourier_features": 0,
    "fourier_scale": 1.0,
    "solver": "dopri5",
    "rtol": 1e-5,
    "atol": 1e-5,
    "step_size": 0.125,
    "adjoint": False,
    "max_steps": 10000,
    "memory_mb": 4000,
    "max_evaluations": None,
    "nll_solver": "dopri5",
    "nll_rtol": 1e-6,
    "nll_atol": 1e-6,
    "iterations": 1000,
    "batch_size": 512,
    "learning_rate": 1e-3,
    "lr_schedule": "constant",
    "evaluate_every": 100,
    "held_out_fraction": 0.1,
    "gmm_components": 32,
    "device": "auto",
}


#: memory of a CNF training job besides its solves: Python, torch, data, model and optimizer (MB)
CNF_BASE_MB = 1000


#: a dataset run reads obs and every obsm embedding (read_h5ad_annotations), never the matrices:
#: per cell, up to this many float64 embedding columns (50 principal components, UMAP and more)
#: and about 100 bytes of obs, held twice (as read and as the standardized training array)
CNF_EMBEDDING_COLUMNS = 64


def cnf_data_mb(n_cells: int) -> int:
    """MB a dataset run's data take: ``2 n (8 CNF_EMBEDDING_COLUMNS + 100)`` bytes (0 for a toy)."""
    return int(math.ceil(2 * int(n_cells) * (8 * CNF_EMBEDDING_COLUMNS + 100) / 1e6))


def cnf_evaluation_mb(options: Mapping, dim: int) -> float:
    """MB that one field evaluation of a training solve keeps for the backward pass.

    Maximum likelihood without the adjoint keeps, per evaluation, about ``8 + 2 K`` float32 values
    per minibatch row and hidden unit: activations, slopes and ``K`` tangents with their
    products (``K = D`` for the exact trace, 1 for Hutchinson's), measured at 8.9 MB for 512 rows,
    three layers of 128 and ``D = 2`` (11 values), 15.2 MB at ``D = 6`` (19) and 7.3 MB with
    Hutchinson (9); RNODE penalties add a quarter. Flow matching and the adjoint keep none (0).
    """
    options = {**CNF_DEFAULTS, **options}
    if options["objective"] != "maximum_likelihood" or options["adjoint"]:
        return 0.0
    tangents = int(dim) if options["trace"] == "exact" else 1
    values = (8 + 2 * tangents) * (1.25 if float(options["kinetic_energy"]) or float(options["jacobian_norm"]) else 1.0)
    return 4.0 * int(options["batch_size"]) * sum(int(h) for h in options["hidden"]) * values / 1e6


def cnf_training_budget(options: Mapping, dim: int) -> dict:
    """``{"max_evaluations", "mem_mb", "evaluation_mb"}`` of a CNF run of data dimension ``dim``.

    ``max_evaluations`` (field evaluations a training solve may take before it stops with
    :class:`~figureflow.generative.cnf.ODESolveError`) is the run's own value, or what fits in
    ``memory_mb``: ``(memory_mb - CNF_BASE_MB) / cnf_evaluation_mb``. ``mem_mb``, what the job asks
    of SLURM, is ``memory_mb``, or more where an explicit ``max_evaluations`` needs more. A run that
    keeps nothing per evaluation (flow matching, adjoint) has no evaluation bound and asks for
    ``memory_mb``.
    """
    options = {**CNF_DEFAULTS, **options}
    per = cnf_evaluation_mb(options, dim)
    memory = int(options["memory_mb"])
    if options["max_evaluations"] is not None:
        bound = int(options["max_evaluations"])
        memory = max(memory, int(math.ceil(CNF_BASE_MB + bound * per)))
    elif per > 0:
        bound = max(0, int((memory - CNF_BASE_MB) / per))
    else:
        bound = None
    return {"max_evaluations": bound, "mem_mb": memory, "evaluation_mb": per}


def check_cnf_config(config: Mapping, data_facts: Mapping, devices_here: bool = True) -> dict:
    """The ``cnf`` section, before any job.

    * ``data`` is a toy (``moons``, ``circles``, ``gaussians8``, ``pinwheel``) or a dataset in
      ``datasets`` whose PCA has at least ``n_dims`` components (a processed h5ad: ``obsm['X_pca']``);
    * ``step_size`` divides the unit interval into whole steps for a fixed-step solver;
    * ``warm_start`` is below ``iterations``;
    * ``device`` as in :func:`check_config` (``devices_here``).

    Returns ``{"runs": {run: {"data", "source": "toy" | "dataset", "dims": D, "mem_mb"}}}`` (``mem_mb``
    from :func:`cnf_training_budget`, plus :func:`cnf_data_mb` of the dataset's cells).

    Raises
    ------
    InputError
        Naming the run and key, what was expected and what was found.
    """
    from figureflow.generative.toys import TOYS
    from figureflow.io import InputError, describe

    datasets = data_facts.get("datasets", {})
    runs = {}
    for run, spec in config.get("cnf", {}).get("runs", {}).items():
        key = f"cnf.runs.{run}"
        options = {**CNF_DEFAULTS, **spec}
        data = spec["data"]
        if data in TOYS:
            if data in datasets:
                raise InputError(f"config key {key}.data is {data!r}, which names both a toy and a dataset; rename the dataset")
            runs[run] = {"data": data, "source": "toy", "dims": 2}
        elif data in datasets:
            facts = datasets[data]
            if facts.get("processed") and "X_pca" not in facts.get("obsm", []):
                raise InputError(f"config key {key}.data is {data!r}, whose h5ad has no obsm['X_pca'] (obsm: {describe(facts.get('obsm', []))}); a CNF models PCA coordinates")
            runs[run] = {"data": data, "source": "dataset", "dims": int(options["n_dims"])}
        else:
            raise InputError(f"config key {key}.data is {data!r}; expected a toy ({describe(list(TOYS))}) or a dataset ({describe(list(datasets))})")
        for solver_key in ("solver", "nll_solver"):
            if options[solver_key] in FIXED_STEP_SOLVERS:
                steps = 1.0 / float(options["step_size"])
                if abs(steps - round(steps)) > 1e-9:
                    raise InputError(f"config key {key}.step_size is {options['step_size']}; a fixed-step solver needs 1/step_size to be a whole number of steps")
        budget = cnf_training_budget(options, runs[run]["dims"])
        if budget["max_evaluations"] is not None:
            fixed = options["solver"] in FIXED_STEP_SOLVERS
            needs = round(1.0 / float(options["step_size"])) * {"euler": 1, "midpoint": 2, "rk4": 4}.get(options["solver"], 6) if fixed else 6 * 2
            if budget["max_evaluations"] < needs:
                source = ("max_evaluations" if options["max_evaluations"] is not None
                          else f"what memory_mb {options['memory_mb']} holds at {budget['evaluation_mb']:.1f} MB per evaluation")
                raise InputError(
                    f"config key {key}: a training solve may take {budget['max_evaluations']} field evaluations ({source}), "
                    f"but {options['solver']} needs at least {needs}; raise memory_mb, lower batch_size or hidden, or use trace: hutchinson or adjoint: true"
                )
        cells = datasets[data]["shape"][0] if runs[run]["source"] == "dataset" and "shape" in datasets[data] else 0
        runs[run]["mem_mb"] = budget["mem_mb"] + cnf_data_mb(cells)
        if options["objective"] == "maximum_likelihood" and int(options["warm_start"]) >= int(options["iterations"]):
            raise InputError(f"config key {key}.warm_start is {options['warm_start']}, not below iterations ({options['iterations']}): no maximum-likelihood step would run")
        check_device(options["device"], f"{key}.device", here=devices_here)
    return {"runs": runs}
