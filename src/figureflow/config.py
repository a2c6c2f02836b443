"""The config contract: schema validation with messages that name the key, and input checks.

The workflow calls :func:`preflight` while it parses the config: the config files are read for
repeated keys, the config is validated against its schema (:func:`validate_config`) and every
input is checked (:func:`check_inputs`), so that a wrong key or a bad input file stops the run
before any job starts, with a message that says where the bad value was set. The schema and the
sources of values are handled here; each method's own section is checked next to its code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

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
    "facts_cache",
    "read_facts",
    "write_facts",
]


def load_schema(path: str | os.PathLike) -> dict:
    """The JSON schema stored as YAML at ``path``."""
    with open(path) as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: 10x faster on the schema


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


def computed_node_columns() -> dict[str, str]:
    """Every per-node column a method computes, and which method: a node table may not carry these.

    A method that writes a per-node table adds its columns here (signal flow: ``z``, ``component``).
    """
    from figureflow.signal_flow import NODE_COLUMNS as SIGNAL_FLOW

    return {column: f"signal flow's {column}" for column in SIGNAL_FLOW}


def check_inputs(config: Mapping, base: str | os.PathLike = ".", devices_here: bool = True) -> dict:
    """Check every method's config section and every input it names, before any job runs.

    Each method checks its own section, next to its code; adding a method adds one line here:

    * ``datasets``, ``graphs``: :func:`figureflow.data.checks.check_config` (files read and
      validated, simulations complete, ``group_by`` columns present);
    * ``signal_flow``: :func:`figureflow.signal_flow.check_config` (the graphs it names exist);
    * ``jacobian``: :func:`figureflow.maps.check_config` (every map loads, evaluates and has exact
      derivatives; sample sizes suit the estimators);
    * ``aging``: :func:`figureflow.aging.check_config` (its datasets exist and know young and old);
    * ``sweeps``: :func:`figureflow.sweeps.check_config` (experiments and their parameters exist);
    * ``vae``: :func:`figureflow.generative.settings.check_config` (runs' data exist and suit their likelihood);
    * ``cnf``: :func:`figureflow.generative.settings.check_cnf_config` (toys and datasets exist, solver settings fit);
    * ``paper``: :func:`figureflow.paper.check_config` (what the panels name exists).

    Relative paths are taken from ``base``. Problems that do not stop the run are issued as
    :class:`~figureflow.io.InputWarning`. Returns what the checks learnt, per section:
    ``{"jacobian": {map: {"dims": (d, D), "code": [files]}}, "data": {"datasets": {name: {"cell_types",
    "ages"}}}, "aging": {dataset: {wildcard: cell type}}}``.

    Raises
    ------
    InputError
        The first problem found, naming the file, the key, what was expected and what was found.
    """
    from figureflow import aging, paper, signal_flow, sweeps
    from figureflow.generative import settings as vae  # the VAE's and the CNF's checks
    from figureflow.data import checks as data

    signal_flow.check_config(config)
    facts = {"jacobian": {}}
    if config.get("jacobian", {}).get("maps"):  # maps are numba functions: import numba only for them
        from figureflow import maps

        facts["jacobian"] = maps.check_config(config)
    facts["data"] = data.check_config(config, base, computed_node_columns())
    facts["aging"] = aging.check_config(config, facts["data"])
    facts["sweeps"] = sweeps.check_config(config)
    facts["vae"] = vae.check_config(config, facts["data"], devices_here)
    facts["cnf"] = vae.check_cnf_config(config, facts["data"], devices_here)
    facts["paper"] = paper.check_config(config, facts)
    return facts


def preflight(config: dict, schema_path, configfiles=(), cli: Mapping | None = None, base=".", stream=None, devices_here: bool = True, known: Mapping | None = None) -> dict:
    """Everything the workflow checks while it parses the config, before any job.

    Reads the config files again to refuse repeated keys and to say where a bad value was set
    (file and line, or ``--config``); validates ``config`` against the schema, filling defaults;
    checks every input (:func:`check_inputs`), unless the facts are ``known`` already (a cluster
    job given what the main process learnt: the schema still fills in the defaults). Warnings are printed to ``stream`` (standard
    error by default) as ``figureflow: warning: ...``. ``devices_here=False`` (jobs are submitted
    to other machines) checks a training run's ``device`` by its spelling only.

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
    if known is not None:
        return dict(known)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InputWarning)
        facts = check_inputs(config, base=base, devices_here=devices_here)
    for warning in caught:
        if issubclass(warning.category, InputWarning):
            print(f"figureflow: warning: {warning.message}", file=stream or sys.stderr)
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return facts


def facts_cache(config: Mapping, root: str | os.PathLike = ".snakemake/figureflow") -> Path:
    """Where the main Snakemake process leaves what :func:`preflight` learnt about ``config``,
    for the jobs it submits to a cluster: ``root/facts-<sha256 of the config>.pickle``.

    Each cluster job parses the workflow again (twice: SLURM's job step runs Snakemake inside
    Snakemake); reading the facts instead of checking every input again (maps compiled and
    evaluated, h5ad files opened) saves seconds per job. The digest covers every config value,
    so a job never reads the facts of another config.
    """
    import hashlib
    import json

    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=repr).encode()).hexdigest()[:24]
    return Path(root) / f"facts-{digest}.pickle"


def write_facts(path: str | os.PathLike, facts: Mapping) -> None:
    """Store ``facts`` at ``path`` (atomically: a job never reads half a file); a directory that
    cannot be written only costs the jobs their shortcut."""
    import pickle

    from figureflow.io import atomic_output

    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            Path(tmp).write_bytes(pickle.dumps(dict(facts)))
    except OSError:
        pass


def read_facts(path: str | os.PathLike) -> dict | None:
    """The facts stored at ``path`` by :func:`write_facts`, or ``None`` when there are none."""
    import pickle

    try:
        return pickle.loads(Path(path).read_bytes())
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
