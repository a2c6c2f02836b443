"""The config contract: schema validation with messages that name the key, and input checks.

The workflow calls :func:`preflight` while it parses the config: the config files are read for
repeated keys, the config is validated against its schema (:func:`validate_config`) and every
input is checked (:func:`check_inputs`), so that a wrong key or a bad input file stops the run
before any job starts, with a message that says where the bad value was set.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

from figureflow.data.ingest import check_h5ad_counts, check_h5ad_obs, read_edge_list, read_node_table
from figureflow.data.sbm import sbm_parameters
from figureflow.io import InputError, describe

__all__ = [
    "load_schema",
    "key_lines",
    "ConfigSources",
    "preflight",
    "computed_node_columns",
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


def key_lines(path: str | os.PathLike) -> dict[tuple, int]:
    """``{key path: line}`` of every key and list item of a YAML config file (lines from 1).

    Raises
    ------
    InputError
        If the file is not valid YAML, or a mapping repeats a key (YAML itself would keep the
        last one silently): the message names the file, both lines and the key.
    """
    path = Path(path)
    try:
        root = yaml.compose(path.read_text(), Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        raise InputError(f"config file '{path}' is not valid YAML: {exc}") from None
    lines: dict[tuple, int] = {}

    def walk(node, prefix):
        if isinstance(node, yaml.MappingNode):
            seen = {}
            for key_node, value_node in node.value:
                key = key_node.value
                if key == "<<":  # a merge key brings in an anchor's entries
                    walk(value_node, prefix)
                    continue
                line = key_node.start_mark.line + 1
                if key in seen:
                    where = ".".join(map(str, prefix + (key,)))
                    raise InputError(
                        f"config file '{path}', line {line}: key '{where}' appears a second time (first on line "
                        f"{seen[key]}); YAML would silently keep only the last one, so remove or rename one of them"
                    )
                seen[key] = line
                lines[prefix + (key,)] = line
                walk(value_node, prefix + (key,))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[prefix + (i,)] = item.start_mark.line + 1
                walk(item, prefix + (i,))

    if root is not None:
        walk(root, ())
    return lines


def _has_path(data, path) -> bool:
    for part in path:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False
    return True


class ConfigSources:
    """Where each config value came from: the config files (with lines) or ``--config``.

    Parameters
    ----------
    configfiles
        The config files in the order they were merged (later files win).
    cli
        The values given with ``--config`` (they win over every file).
    """

    def __init__(self, configfiles=(), cli: Mapping | None = None):
        self.files = [(Path(f), key_lines(f)) for f in configfiles]
        self.cli = dict(cli or {})

    def locate(self, path) -> str:
        """``"--config"``, ``"config file 'f', line N"`` or ``"the config"`` for a key path."""
        path = tuple(path)
        for k in range(len(path), 0, -1):
            if self.cli and _has_path(self.cli, path[:k]):
                return "--config"
            for file, lines in reversed(self.files):
                if path[:k] in lines:
                    return f"config file '{file}', line {lines[path[:k]]}"
        if self.cli and not self.files:
            return "--config"
        if len(self.files) == 1:
            return f"config file '{self.files[0][0]}'"
        return "the config"


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


def _error_path(error: jsonschema.ValidationError) -> tuple:
    """The key path an error is about (an unknown key's own path, not its parent's)."""
    path = tuple(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = set(error.schema.get("properties", {}))
        unexpected = sorted(set(error.instance) - allowed)
        if unexpected:
            path += (unexpected[0],)
    return path


def _sorted_errors(config: Mapping, schema: Mapping) -> list:
    validator = jsonschema.Draft202012Validator(schema)
    return sorted(validator.iter_errors(config), key=lambda e: (-len(e.absolute_path), list(map(str, e.absolute_path))))


def schema_errors(config: Mapping, schema: Mapping) -> list[str]:
    """Every schema violation of ``config``, one clear sentence each (most specific first)."""
    return [_message(e) for e in _sorted_errors(config, schema)]


def validate_config(config: dict, schema_path: str | os.PathLike, sources: ConfigSources | None = None) -> dict:
    """Check ``config`` against the schema at ``schema_path``; fill in defaults in place.

    Defaults are filled by ``snakemake.utils.validate(set_default=True)`` after the check.

    Raises
    ------
    InputError
        On the first violation, naming the key (e.g. an unknown key and the allowed ones) and,
        with ``sources``, where it was set: the config file and line, or ``--config``.
    """
    schema = load_schema(schema_path)
    errors = _sorted_errors(config, schema)
    if errors:
        more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
        where = f"in {sources.locate(_error_path(errors[0]))}: " if sources is not None else ""
        raise InputError(where + _message(errors[0]) + more)
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


def computed_node_columns() -> dict[str, str]:
    """Every per-node column a method computes, and which method: a node table may not carry these.

    A method that writes a per-node table adds its columns here (signal flow: ``z``, ``component``).
    """
    from figureflow.signal_flow import NODE_COLUMNS as SIGNAL_FLOW

    return {column: f"signal flow's {column}" for column in SIGNAL_FLOW}


def check_jacobian(config: Mapping) -> dict:
    """Every map of the jacobian section loads and passes :func:`figureflow.jacobian.maps.check_map`
    on a seeded batch of latent points; sample sizes suit randomized QMC.

    Returns ``{map name: {"dims": (latent dimension, data dimension), "code": [user files]}}``.

    Raises
    ------
    InputError
        For a map that does not import, compile, evaluate to ``data_dim`` finite values, or whose
        complex-step derivative disagrees with a central difference (a non-analytic operation), or
        an rqmc sample size that is not ``scrambles x 2^k``.
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

    facts = {}
    for name, spec in section["maps"].items():
        latent = map_from_config(name, spec, config.get("seed", 0), check=True)
        facts[name] = {"dims": (latent.d, latent.D), "code": list(latent.source_files)}
    return facts


def check_inputs(config: Mapping, base: str | os.PathLike = ".") -> dict:
    """Check every input the config names, before any job runs.

    * h5ad datasets: the file reads, the obs keys exist, young/old labels occur, the cell-type
      column has values (:func:`figureflow.data.ingest.check_h5ad_obs`), the count matrix
      holds counts (a sample of it, :func:`figureflow.data.ingest.check_h5ad_counts`);
    * simulated datasets: one aging shift per cell type;
    * edge-list graphs: every row is valid, and so is the node table, which may not carry a
      column that a method computes (:func:`computed_node_columns`);
    * SBM graphs: the block model is complete and in range;
    * ``group_by`` names a node-table column; ``signal_flow.graphs`` names known graphs;
    * every Jacobian map loads and evaluates (:func:`check_jacobian`).

    Relative paths are taken from ``base``. Problems that do not stop the run are issued as
    :class:`~figureflow.io.InputWarning`. Returns what the checks learnt:
    ``{"jacobian": {map: {"dims": (d, D), "code": [files]}}}``.

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
    facts = {"jacobian": check_jacobian(config)}
    for name, spec in config.get("datasets", {}).items():
        if "h5ad" in spec:
            check_h5ad_obs(
                base / spec["h5ad"], name, spec["cell_type_key"], spec["age_key"], spec.get("young"), spec.get("old")
            )
            check_h5ad_counts(base / spec["h5ad"], name, spec.get("counts_layer"), spec.get("allow_noninteger_counts", False))
        else:
            sim = spec["simulate"]
            shifts = sim.get("aging_shift")
            if shifts is not None and len(shifts) != sim["n_cell_types"]:
                raise InputError(
                    f"config key datasets.{name}.simulate.aging_shift: expected {sim['n_cell_types']} "
                    f"magnitudes (one per cell type, n_cell_types), found {len(shifts)}"
                )
    computed = computed_node_columns()
    for name, spec in config.get("graphs", {}).items():
        group_by = spec.get("group_by")
        if "edges" in spec:
            read_edge_list(base / spec["edges"], name, spec["source_column"], spec["target_column"], spec.get("weight_column"))
            columns = ["node"]
            if spec.get("nodes"):
                columns = list(read_node_table(base / spec["nodes"], name, spec["node_column"], computed).columns)
        else:
            sbm_parameters(spec["sbm"], name)
            columns = ["node", "block"]
        if group_by is not None and (group_by == "node" or group_by not in columns):
            raise InputError(
                f"config key graphs.{name}.group_by is '{group_by}'; expected a node-table column other than "
                f"the node name, found {describe(columns[1:])}"
            )
    return facts


def preflight(config: dict, schema_path, configfiles=(), cli: Mapping | None = None, base=".", stream=None) -> dict:
    """Everything the workflow checks while it parses the config, before any job.

    Reads the config files again to refuse repeated keys and to say where a bad value was set
    (file and line, or ``--config``); validates ``config`` against the schema, filling defaults;
    checks every input (:func:`check_inputs`). Warnings are printed to ``stream`` (standard
    error by default) as ``figureflow: warning: ...``.

    Returns
    -------
    dict
        What :func:`check_inputs` learnt.

    Raises
    ------
    InputError
        The first problem, as one sentence.
    """
    import sys
    import warnings

    from figureflow.io import InputWarning

    sources = ConfigSources(configfiles, cli)
    validate_config(config, schema_path, sources)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        facts = check_inputs(config, base=base)
    for warning in caught:
        if issubclass(warning.category, InputWarning):
            print(f"figureflow: warning: {warning.message}", file=stream or sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return facts
