"""The VAE's settings and their check, without importing torch (the check runs before any job,
in every ``snakemake`` call)."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["LIKELIHOODS", "OBJECTIVES", "ARCHITECTURES", "DEFAULTS", "check_config", "simulation_dims"]

LIKELIHOODS = ("gaussian", "nb", "bernoulli")
OBJECTIVES = ("vae", "beta", "capacity", "tc")
ARCHITECTURES = ("mlp", "conv")

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
    "device": "auto",
}


def simulation_dims(spec: Mapping) -> int:
    """The data dimension of a ``vae.simulations`` entry (genes, or canvas pixels)."""
    if spec["simulator"] == "expression":
        return int(spec.get("n_genes", 200))
    return int(spec.get("canvas", 32)) ** 2


def check_config(config: Mapping, data_facts: Mapping) -> dict:
    """The ``vae`` section, before any job: every run's data exists and suits its likelihood.

    * ``data`` names a simulation in ``vae.simulations`` or a dataset in ``datasets``;
    * ``nb`` needs counts: the expression simulator, or a dataset with raw counts (simulated or
      ingested raw; a ``processed`` dataset only with ``layers["counts"]``);
    * ``bernoulli`` and ``conv`` need binary square images: sprites (``conv``: canvas a multiple of 8);
    * sprites need ``bernoulli``;
    * ``device: cuda`` where torch sees no GPU is an error.

    ``data_facts`` is what :func:`figureflow.data.checks.check_config` learnt about datasets.
    Returns ``{"runs": {run: {"data", "source": "simulation" | "dataset", "factors": bool}},
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
            if architecture == "conv" and (simulator != "sprites" or simulations[data].get("canvas", 32) % 8):
                raise InputError(f"config key {key}.architecture is 'conv', which needs sprites with a canvas that is a multiple of 8; {data!r} is {simulator}")
            runs[run] = {"data": data, "source": "simulation", "factors": True}
        elif data in datasets:
            facts = datasets[data]
            if likelihood == "bernoulli" or architecture == "conv":
                raise InputError(f"config key {key}: likelihood 'bernoulli' and architecture 'conv' are for sprites; dataset {data!r} holds expression")
            if likelihood == "nb" and facts.get("processed") and "counts" not in facts.get("layers", []):
                raise InputError(
                    f"config key {key}.likelihood is 'nb', which needs counts, but dataset {data!r} is processed and its h5ad has no "
                    f"layers['counts'] (layers: {describe(facts.get('layers', []))}); use likelihood 'gaussian' on its stored X"
                )
            runs[run] = {"data": data, "source": "dataset", "factors": False}
        else:
            raise InputError(
                f"config key {key}.data is {data!r}; expected a simulation ({describe(list(simulations))}) "
                f"or a dataset ({describe(list(datasets))})"
            )
        device = spec.get("device", "auto")
        if device != "auto":
            from figureflow.generative.training import resolve_device

            resolve_device(device, f"{key}.device")
    return {"runs": runs, "simulations": list(simulations)}
