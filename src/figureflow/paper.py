"""The paper target: which methods get a journal figure, at what size, from which of their tables.

``snakemake paper`` writes, for each method the config runs, ``results/paper/figure_<method>``
(PDF and 600 dpi PNG), its legend (``.md``) and its source data
(``source_data/figure_<method>.xlsx``), plus ``provenance.json``. Each method's panels are drawn
by ``paper_figure`` in its plotting module (:mod:`figureflow.plotting.jacobian`, ...) from the
tables its rules already wrote; the composition helpers are in :mod:`figureflow.plotting.paper`.
"""

from __future__ import annotations

from collections.abc import Mapping

from figureflow.io import InputError

__all__ = ["PAPER_METHODS", "PAPER_DEFAULTS", "paper_methods", "paper_options", "paper_inputs", "check_config"]

#: every method with a paper figure, in the order figures are numbered
PAPER_METHODS = ("jacobian", "signal_flow", "aging", "vae", "cnf", "sweeps")

#: each method's figure size (mm; 183 is Nature's two columns) and options, filled in by the schema
PAPER_DEFAULTS = {
    "jacobian": {"width_mm": 183.0, "height_mm": 55.0, "map": None},
    "signal_flow": {"width_mm": 183.0, "height_mm": 60.0, "graph": None},
    "aging": {"width_mm": 183.0, "height_mm": 60.0, "dataset": None},
    "vae": {"width_mm": 183.0, "height_mm": 120.0, "run": None},
    "cnf": {"width_mm": 183.0, "height_mm": 50.0, "run": None},
    "sweeps": {"width_mm": 183.0, "height_mm": 55.0, "sweep": None, "grid_sweep": None},
}


def _signal_flow_graphs(config: Mapping) -> list[str]:
    from figureflow.signal_flow import signal_flow_graphs

    return list(signal_flow_graphs(config))


def _vae_simulation_runs(config: Mapping, facts: Mapping) -> list[str]:
    """VAE runs on a simulation (they have known factors and scores)."""
    return [r for r, f in ((facts.get("vae") or {}).get("runs") or {}).items() if f["source"] == "simulation"]


def paper_methods(config: Mapping, facts: Mapping) -> list[str]:
    """The methods the config runs that have a paper figure, in :data:`PAPER_METHODS` order."""
    runs = {
        "jacobian": bool(facts.get("jacobian")),
        "signal_flow": bool(_signal_flow_graphs(config)),
        "aging": bool(facts.get("aging")),
        "vae": bool(_vae_simulation_runs(config, facts)),
        "cnf": bool((facts.get("cnf") or {}).get("runs")),
        "sweeps": bool(facts.get("sweeps")),
    }
    return [m for m in PAPER_METHODS if runs.get(m)]


def paper_options(config: Mapping, facts: Mapping, method: str) -> dict:
    """The method's ``paper`` section (defaults filled) plus what its figure needs from the rest of
    the config (e.g. the Jacobian maps in config order)."""
    options = {**PAPER_DEFAULTS[method], **(config.get("paper") or {}).get(method, {})}
    if method == "jacobian":
        options["maps"] = list(facts["jacobian"])
    elif method == "signal_flow":
        options["graphs"] = _signal_flow_graphs(config)
        options["group_by"] = {g: config["graphs"][g].get("group_by") for g in options["graphs"]}
        options["max_bins"] = int((config.get("plotting") or {}).get("adjacency_bins", 500))
        options["seed"] = int(config["seed"])
    elif method == "aging":
        options["datasets"] = list(facts["aging"])
        options["bootstraps"] = int((config.get("aging") or {}).get("bootstraps", 0))
    elif method == "vae":
        options["runs"] = _vae_simulation_runs(config, facts)
        options["run_data"] = {r: facts["vae"]["runs"][r]["data"] for r in options["runs"]}
    elif method == "cnf":
        options["runs"] = list(facts["cnf"]["runs"])
        from figureflow.generative.settings import CNF_DEFAULTS  # no torch

        options["gmm_components"] = {r: int({**CNF_DEFAULTS, **config["cnf"]["runs"][r]}["gmm_components"]) for r in options["runs"]}
    elif method == "sweeps":
        options["sweeps"] = list(facts["sweeps"])
        options["grids"] = {s: list(facts["sweeps"][s]["grid"]) for s in facts["sweeps"]}
    return options


def paper_inputs(method: str, options: Mapping) -> dict:
    """The files a method's paper figure is drawn from, named as its ``paper_figure`` reads them
    (paths relative to the working directory; lists in the order of the options' names)."""
    if method == "jacobian":
        return {"estimates": [f"results/jacobian/{m}/estimates.tsv" for m in options["maps"]],
                "grids": [f"results/jacobian/{m}/grid.npz" for m in options["maps"]]}
    if method == "signal_flow":
        return {"nodes": [f"results/signal_flow/{g}/nodes.tsv" for g in options["graphs"]],
                "summaries": [f"results/signal_flow/{g}/summary.tsv" for g in options["graphs"]],
                "adjacency": [f"results/graphs/{g}.npz" for g in options["graphs"]]}
    if method == "aging":
        return {"magnitudes": [f"results/aging/{d}/magnitudes.tsv" for d in options["datasets"]],
                "plans": [f"results/aging/{d}/transport_plan.npz" for d in options["datasets"]],
                "trajectories": [f"results/aging/{d}/trajectories.tsv" for d in options["datasets"]]}
    if method == "vae":
        return {"scores": "results/vae/scores.tsv", "latents": [f"results/vae/{r}/latent.npz" for r in options["runs"]],
                "metrics": [f"results/vae/{r}/metrics.tsv" for r in options["runs"]]}
    if method == "cnf":
        return {"metrics": [f"results/cnf/{r}/metrics.tsv" for r in options["runs"]],
                "arrays": [f"results/cnf/{r}/figure_data.npz" for r in options["runs"]]}
    if method == "sweeps":
        return {"replicates": [f"results/sweeps/{s}/replicates.tsv" for s in options["sweeps"]],
                "summaries": [f"results/sweeps/{s}/summary.tsv" for s in options["sweeps"]]}
    raise ValueError(f"paper figure {method!r}: expected one of {', '.join(PAPER_METHODS)}")


def check_config(config: Mapping, facts: Mapping) -> dict:
    """Check the ``paper`` section against what the config runs; return ``{method: options}``.

    Raises
    ------
    InputError
        A panel names something the config does not make (``paper.jacobian.map``).
    """
    section = config.get("paper") or {}
    for method in section:
        if method not in PAPER_METHODS:
            raise InputError(f"config key paper.{method}: no method of that name has a paper figure; expected one of {', '.join(PAPER_METHODS)}")
    chosen = (section.get("jacobian") or {}).get("map")
    if chosen is not None and chosen not in facts.get("jacobian", {}):
        raise InputError(f"config key paper.jacobian.map is {chosen!r}, which is not a map of jacobian.maps "
                         f"({', '.join(facts.get('jacobian', {})) or 'none'}); name one of them or remove the key")
    graph = (section.get("signal_flow") or {}).get("graph")
    if graph is not None and graph not in _signal_flow_graphs(config):
        raise InputError(f"config key paper.signal_flow.graph is {graph!r}, which is not a graph that signal flow runs on "
                         f"({', '.join(_signal_flow_graphs(config)) or 'none'}); name one of them or remove the key")
    dataset = (section.get("aging") or {}).get("dataset")
    if dataset is not None and dataset not in facts.get("aging", {}):
        raise InputError(f"config key paper.aging.dataset is {dataset!r}, which is not a dataset the aging analysis runs on "
                         f"({', '.join(facts.get('aging', {})) or 'none'}); name one of them or remove the key")
    run = (section.get("vae") or {}).get("run")
    if run is not None and run not in _vae_simulation_runs(config, facts):
        raise InputError(f"config key paper.vae.run is {run!r}, which is not a VAE run on a simulation "
                         f"({', '.join(_vae_simulation_runs(config, facts)) or 'none'}); name one of them or remove the key")
    run = (section.get("cnf") or {}).get("run")
    if run is not None and run not in (facts.get("cnf") or {}).get("runs", {}):
        raise InputError(f"config key paper.cnf.run is {run!r}, which is not a run of cnf.runs "
                         f"({', '.join((facts.get('cnf') or {}).get('runs', {})) or 'none'}); name one of them or remove the key")
    sweeps = section.get("sweeps") or {}
    for key in ("sweep", "grid_sweep"):
        name = sweeps.get(key)
        if name is not None and name not in facts.get("sweeps", {}):
            raise InputError(f"config key paper.sweeps.{key} is {name!r}, which is not a sweep of the config "
                             f"({', '.join(facts.get('sweeps', {})) or 'none'}); name one of them or remove the key")
        if key == "grid_sweep" and name is not None and len(facts["sweeps"][name]["grid"]) != 2:
            raise InputError(f"config key paper.sweeps.grid_sweep is {name!r}, whose grid has {len(facts['sweeps'][name]['grid'])} "
                             "parameter(s); the heatmap needs a sweep over exactly 2")
    return {m: paper_options(config, facts, m) for m in paper_methods(config, facts)}
