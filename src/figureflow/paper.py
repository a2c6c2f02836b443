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

__all__ = ["PAPER_METHODS", "PAPER_DEFAULTS", "paper_methods", "paper_options", "check_config"]

#: every method with a paper figure, in the order figures are numbered
PAPER_METHODS = ("jacobian", "signal_flow", "sweeps")

#: each method's figure size (mm; 183 is Nature's two columns) and options, filled in by the schema
PAPER_DEFAULTS = {
    "jacobian": {"width_mm": 183.0, "height_mm": 55.0, "map": None},
    "signal_flow": {"width_mm": 183.0, "height_mm": 60.0, "graph": None},
    "sweeps": {"width_mm": 183.0, "height_mm": 55.0, "sweep": None, "grid_sweep": None},
}


def _signal_flow_graphs(config: Mapping) -> list[str]:
    from figureflow.signal_flow import signal_flow_graphs

    return list(signal_flow_graphs(config))


def paper_methods(config: Mapping, facts: Mapping) -> list[str]:
    """The methods the config runs that have a paper figure, in :data:`PAPER_METHODS` order."""
    runs = {
        "jacobian": bool(facts.get("jacobian")),
        "signal_flow": bool(_signal_flow_graphs(config)),
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
    elif method == "sweeps":
        options["sweeps"] = list(facts["sweeps"])
        options["grids"] = {s: list(facts["sweeps"][s]["grid"]) for s in facts["sweeps"]}
    return options


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
