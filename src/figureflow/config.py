"""The config contract: schema validation with messages that name the key, and input checks.

The workflow calls :func:`validate_config` and then :func:`check_inputs` while it parses the
config, so that a wrong key or a bad input file stops the run before any job starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

from figureflow.data.ingest import check_h5ad_obs, read_edge_list, read_node_table
from figureflow.data.sbm import sbm_parameters
from figureflow.io import InputError, describe

__all__ = [
    "load_schema",
    "schema_errors",
    "validate_config",
    "check_inputs",
    "simulated",
    "ingested",
    "signal_flow_graphs",
    "check_jacobian",
]


def load_schema(path: str | os.PathLike) -> dict:
    """The JSON schema stored as YAML at ``path``."""
    with open(path) as handle:
        return yaml.safe_load(handle)


def _where(path) -> str:
    parts = [str(p) for p in path]
    return ".".join(parts) if parts else "the top level"


def _message(error: jsonschema.ValidationError) -> str:
    where = _where(error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - set(allowed))
        key = f"{where}.{unexpected[0]}" if error.absolute_path else unexpected[0]
        return f"unknown config key '{key}'; allowed keys at {where}: {describe(allowed, limit=40)}"
    if error.validator == "required":
        return f"config key {where}: {error.message}"
    if error.validator == "oneOf":
        branches = [b.get("required", []) for b in error.schema["oneOf"]]
        options = " or ".join(f"'{'+'.join(b)}'" for b in branches if b)
        found = describe(sorted(error.instance)) if isinstance(error.instance, Mapping) else repr(error.instance)
        return f"config key {where}: expected exactly one of {options}; found keys {found}"
    if "propertyNames" in error.schema_path:
        return (
            f"config key {where}: name {error.instance!r} is not allowed; names become parts of "
            "file names: use letters, digits, '_' and '-' (not starting with '_' or '-')"
        )
    return f"config key {where}: {error.message}"


def schema_errors(config: Mapping, schema: Mapping) -> list[str]:
    """Every schema violation of ``config``, one clear sentence each (most specific first)."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (-len(e.absolute_path), list(map(str, e.absolute_path))))
    return [_message(e) for e in errors]


def validate_config(config: dict, schema_path: str | os.PathLike) -> dict:
    """Check ``config`` against the schema at ``schema_path``; fill in defaults in place.

    Defaults are filled by ``snakemake.utils.validate(set_default=True)`` after the check.

    Raises
    ------
    InputError
        On the first violation, naming the key (e.g. an unknown key and the allowed ones).
    """
    schema = load_schema(schema_path)
    messages = schema_errors(config, schema)
    if messages:
        more = f" (and {len(messages) - 1} more problem(s))" if len(messages) > 1 else ""
        raise InputError(messages[0] + more)
    from snakemake.utils import validate

    validate(config, str(schema_path), set_default=True)
    return config


def simulated(config: Mapping, section: str) -> list[str]:
    """Names in ``config[section]`` built by simulation (``simulate:`` or ``sbm:``)."""
    key = "simulate" if section == "datasets" else "sbm"
    return [name for name, spec in config.get(section, {}).items() if key in spec]


def ingested(config: Mapping, section: str) -> list[str]:
    """Names in ``config[section]`` read from a user's file (``h5ad:`` or ``edges:``)."""
    key = "h5ad" if section == "datasets" else "edges"
    return [name for name, spec in config.get(section, {}).items() if key in spec]


def signal_flow_graphs(config: Mapping) -> list[str]:
    """Graphs the signal-flow analysis runs on (``signal_flow.graphs``, or every graph)."""
    chosen = config.get("signal_flow", {}).get("graphs")
    return list(config.get("graphs", {})) if chosen is None else list(chosen)


def check_jacobian(config: Mapping) -> dict:
    """Every map of the jacobian section loads and evaluates; sample sizes suit randomized QMC.

    Returns ``{map name: (latent dimension, data dimension)}``.

    Raises
    ------
    InputError
        For a map that does not import, compile or evaluate to ``data_dim`` finite values, or an
        rqmc sample size that is not ``scrambles x 2^k``.
    """
    section = config.get("jacobian", {})
    if not section.get("maps"):
        return {}
    if "rqmc" in section["estimators"]:
        m = section["scrambles"]
        bad = [n for n in section["sample_sizes"] if n % m or (n // m) & (n // m - 1)]
        if bad:
            raise InputError(
                f"config key jacobian.sample_sizes: for rqmc each size must be scrambles ({m}) x a power of 2, "
                f"found {describe(bad)}"
            )
    from figureflow.jacobian.maps import map_from_config

    dims = {}
    for name, spec in section["maps"].items():
        latent = map_from_config(name, spec, config.get("seed", 0))
        dims[name] = (latent.d, latent.D)
    return dims


def check_inputs(config: Mapping, base: str | os.PathLike = ".") -> dict:
    """Check every input the config names, before any job runs.

    * h5ad datasets: the file reads, the obs keys exist, young/old labels occur
      (:func:`figureflow.data.ingest.check_h5ad_obs`);
    * simulated datasets: one aging shift per cell type;
    * edge-list graphs: every row is valid, and so is the node table
      (:func:`figureflow.data.ingest.read_edge_list`);
    * SBM graphs: the block model is complete and in range;
    * ``group_by`` names a node-table column; ``signal_flow.graphs`` names known graphs;
    * every Jacobian map loads and evaluates (:func:`check_jacobian`).

    Relative paths are taken from ``base``. Returns what the checks learnt:
    ``{"jacobian_dims": {map: (d, D)}}``.

    Raises
    ------
    InputError
        The first problem found, naming the file, the key, what was expected and what was found.
    """
    base = Path(base)
    graphs = config.get("graphs", {})
    unknown = [g for g in signal_flow_graphs(config) if g not in graphs]
    if unknown:
        raise InputError(
            f"config key signal_flow.graphs names {describe(unknown)}, which are not in graphs; "
            f"graphs are {describe(list(graphs))}"
        )
    facts = {"jacobian_dims": check_jacobian(config)}
    for name, spec in config.get("datasets", {}).items():
        if "h5ad" in spec:
            check_h5ad_obs(
                base / spec["h5ad"], name, spec["cell_type_key"], spec["age_key"], spec.get("young"), spec.get("old")
            )
        else:
            sim = spec["simulate"]
            shifts = sim.get("aging_shift")
            if shifts is not None and len(shifts) != sim["n_cell_types"]:
                raise InputError(
                    f"config key datasets.{name}.simulate.aging_shift: expected {sim['n_cell_types']} "
                    f"magnitudes (one per cell type, n_cell_types), found {len(shifts)}"
                )
    for name, spec in config.get("graphs", {}).items():
        group_by = spec.get("group_by")
        if "edges" in spec:
            read_edge_list(base / spec["edges"], name, spec["source_column"], spec["target_column"], spec["weight_column"])
            columns = ["node"]
            if spec.get("nodes"):
                columns = list(read_node_table(base / spec["nodes"], name, spec["node_column"]).columns)
        else:
            sbm_parameters(spec["sbm"], name)
            columns = ["node", "block"]
        if group_by is not None and (group_by == "node" or group_by not in columns):
            raise InputError(
                f"config key graphs.{name}.group_by is '{group_by}'; expected a node-table column other than "
                f"the node name, found {describe(columns[1:])}"
            )
    return facts
