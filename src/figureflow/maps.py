"""Maps from latent space to data space, resolved by their config spec in one place.

A map is named in the config (``jacobian.maps.<name>``) by a spec; :func:`map_kind` reads which
kind it is, and :data:`MAP_KINDS` sends each kind to the module that makes it:

=========  ==========================================================  ==========================================
kind       spec                                                        made by
=========  ==========================================================  ==========================================
builtin    ``map: toy | linear | helix | stereographic``, ``params``   :func:`figureflow.jacobian.maps.builtin_map`
mlp        ``map: mlp``, ``params: {latent_dim, data_dim, hidden}``    :func:`figureflow.jacobian.torch_maps.mlp_map`
numba      ``map: package.module:function``, dims, ``params``          :func:`figureflow.jacobian.maps.load_user_map`
torch      ``map: package.module:factory``, dims, ``torch: true``      :func:`figureflow.jacobian.torch_maps.load_torch_map`
vae        ``map: vae:<run>``, a trained run's decoder mean            :func:`figureflow.generative.vae.decoder_function`
cnf        ``map: cnf:<run>``, a trained flow's sampler z(0) -> x(1)   :class:`figureflow.generative.cnf.FlowMap`
=========  ==========================================================  ==========================================

This module sits above the makers: it imports them (inside the resolvers, so that resolving a
numba map never imports torch), and no maker imports it. A new kind of map (a trained beta-VAE's
decoder, a CNF) is one resolver here and one entry in :data:`MAP_KINDS`; its maker lives with its
method and returns a :class:`~figureflow.jacobian.maps.LatentMap`.

The ``jacobian`` config section is mostly its maps, so its check lives here too
(:func:`check_config`), called by :func:`figureflow.config.check_inputs`.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping

from figureflow.io import InputError, describe
from figureflow.jacobian.maps import BUILTIN_MAPS, TORCH_BUILTIN_MAPS, LatentMap

__all__ = ["MAP_KINDS", "map_kind", "resolve_map", "user_code_files", "model_file", "vae_decoder_volume", "check_config"]


def map_kind(spec: Mapping) -> str:
    """The kind of a map spec: ``builtin``, ``mlp``, ``numba``, ``torch``, ``vae`` or ``cnf`` (see the module docstring)."""
    source = spec["map"]
    for trained in ("vae", "cnf"):
        if source.startswith(f"{trained}:"):
            return trained
    if source in BUILTIN_MAPS:
        return "builtin"
    if source in TORCH_BUILTIN_MAPS:
        return source
    return "torch" if spec.get("torch") else "numba"


def _working_directory_importable() -> None:
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)


def _user_dims(name: str, spec: Mapping) -> tuple[int, int]:
    if "latent_dim" not in spec or "data_dim" not in spec:
        raise InputError(f"config key jacobian.maps.{name}: a user map needs latent_dim and data_dim")
    _working_directory_importable()
    return spec["latent_dim"], spec["data_dim"]


def _builtin(name: str, spec: Mapping, seed: int, check: bool) -> LatentMap:
    from figureflow.jacobian.maps import builtin_map

    latent = builtin_map(spec["map"], spec.get("params"), key=f"jacobian.maps.{name}.params")
    latent.name = name
    return latent


def _mlp(name: str, spec: Mapping, seed: int, check: bool) -> LatentMap:
    from figureflow.jacobian.torch_maps import mlp_map

    return mlp_map(name, spec.get("params"), seed, key=f"jacobian.maps.{name}.params")


def _numba(name: str, spec: Mapping, seed: int, check: bool) -> LatentMap:
    from figureflow.jacobian.maps import check_map, load_user_map

    d, D = _user_dims(name, spec)
    key = f"jacobian.maps.{name}.map"
    latent = load_user_map(spec["map"], d, D, spec.get("params", []), name=name, key=key)
    if check:
        check_map(latent, key, seed)
    return latent


def _torch(name: str, spec: Mapping, seed: int, check: bool) -> LatentMap:
    from figureflow.jacobian.torch_maps import check_torch_map, load_torch_map

    d, D = _user_dims(name, spec)
    key = f"jacobian.maps.{name}.map"
    if spec["map"].count(":") != 1:
        raise InputError(f"config key {key}: expected 'package.module:factory', found {spec['map']!r}")
    latent = load_torch_map(spec["map"], d, D, name, key)
    if check:
        check_torch_map(latent, key, seed)
    return latent


def model_file(spec: Mapping) -> str:
    """The ``model.pt`` behind a ``vae:<run>`` or ``cnf:<run>`` map (a VAE's replicate 0 decoder,
    a CNF's flow): ``results/<vae|cnf>/<run>/model.pt``."""
    kind, run = spec["map"].split(":", 1)
    return f"results/{kind}/{run}/model.pt"


def _trained(name: str, spec: Mapping) -> str:
    """The model file of a trained map, which must exist by the time a job resolves the map."""
    path = model_file(spec)
    if not os.path.exists(path):
        raise InputError(f"config key jacobian.maps.{name}.map is {spec['map']!r}, but {path} does not exist (the run trains first)")
    return path


def _vae(name: str, spec: Mapping, seed: int, check: bool) -> LatentMap:
    from figureflow.generative.vae import decoder_function, load_model
    from figureflow.jacobian.torch_maps import torch_map

    model = load_model(_trained(name, spec))
    return torch_map(name, decoder_function(model), model.config["latent_dim"], model.config["data_dim"])


def vae_decoder_volume(model, Z) -> float:
    """Mean of ``sqrt(det(J^T J))`` of a VAE's decoder mean over latent points ``Z (n, d)`` (the
    Jacobian sampler's torch path): with ``Z`` drawn from the prior, the decoder volume."""
    import numpy as np

    from figureflow.generative.vae import decoder_function
    from figureflow.jacobian.torch_maps import torch_volume_elements

    return float(np.mean(torch_volume_elements(decoder_function(model), Z)))


def _check_vae_map(name: str, spec: Mapping, config: Mapping) -> tuple[int, int | None]:
    """Before training: the run exists; its dims (data dimension ``None`` for a dataset's genes)."""
    from figureflow.generative.settings import DEFAULTS, simulation_dims

    run = spec["map"].split(":", 1)[1]
    runs = config.get("vae", {}).get("runs", {})
    if run not in runs:
        raise InputError(f"config key jacobian.maps.{name}.map is {spec['map']!r}; vae.runs has {describe(list(runs))}")
    simulations = config["vae"].get("simulations", {})
    data = runs[run]["data"]
    D = simulation_dims(simulations[data]) if data in simulations else None
    return int(runs[run].get("latent_dim", DEFAULTS["latent_dim"])), D


def _cnf(name: str, spec: Mapping, seed: int, check: bool) -> LatentMap:
    from figureflow.generative.cnf import FlowMap, load_model
    from figureflow.jacobian.torch_maps import torch_map

    from figureflow.jacobian.maps import check_points

    field, saved = load_model(_trained(name, spec))
    flow = FlowMap(field, saved["options"])
    latent = torch_map(name, flow, field.dim, field.dim)
    flow.liouville_error = flow.check(check_points(latent, seed), name)  # before any sampling: the solve follows the flow
    return latent


def _check_cnf_map(name: str, spec: Mapping, config: Mapping) -> tuple[int, int]:
    """Before training: the run exists; ``d = D`` is 2 for a toy, ``n_dims`` for a dataset."""
    from figureflow.generative.settings import CNF_DEFAULTS
    from figureflow.generative.toys import TOYS

    run = spec["map"].split(":", 1)[1]
    runs = config.get("cnf", {}).get("runs", {})
    if run not in runs:
        raise InputError(f"config key jacobian.maps.{name}.map is {spec['map']!r}; cnf.runs has {describe(list(runs))}")
    D = 2 if runs[run]["data"] in TOYS else int(runs[run].get("n_dims", CNF_DEFAULTS["n_dims"]))
    return D, D


#: kind -> resolver ``(name, spec, seed, check) -> LatentMap``
MAP_KINDS = {"builtin": _builtin, "mlp": _mlp, "numba": _numba, "torch": _torch, "vae": _vae, "cnf": _cnf}


def resolve_map(name: str, spec: Mapping, seed: int = 0, check: bool = False) -> LatentMap:
    """The map that the config section ``jacobian.maps.<name>`` (``spec``) describes.

    Built-in maps take named ``params``; ``mlp`` draws its weights from ``seed`` and the map's
    name; a user's map is imported by dotted path (modules in the working directory import) and
    records in ``source_files`` its module's file and those of the user's modules it reaches
    (:func:`user_code_files`), so that a rule using the map reruns when any of them changes. With ``check``, a user's map is also tried on the seeded batch of
    :func:`~figureflow.jacobian.maps.check_points` (exact derivatives, finite ``D``).

    Raises
    ------
    InputError
        Naming the config key, for a map that does not import, compile or evaluate, has the wrong
        dimensions, or fails the check.
    """
    latent = MAP_KINDS[map_kind(spec)](name, spec, seed, check)
    if map_kind(spec) in ("numba", "torch"):
        latent.source_files = user_code_files(spec["map"].split(":")[0])
    return latent


def user_code_files(module_name: str) -> tuple[str, ...]:
    """The user's files behind a map's module: the module and every module of the user's own it
    imports or holds, transitively (:func:`figureflow.jacobian.map_code.module_closure`), each
    relative to the working directory when inside it, sorted. Editing any of them reruns the jobs
    that use the map; editing another file does not."""
    from figureflow.jacobian.map_code import module_closure

    found, _ = module_closure([module_name])
    paths = {os.path.abspath(path) for path in found.values()}
    return tuple(sorted(path if os.path.relpath(path).startswith("..") else os.path.relpath(path) for path in paths))


def check_config(config: Mapping) -> dict:
    """The ``jacobian`` section: sample sizes suit the estimators, and every map resolves and passes
    its check on a seeded batch of latent points (:func:`resolve_map` with ``check=True``).

    Returns ``{map name: {"dims": (latent dimension, data dimension), "code": [user files],
    "sample_sizes": the map's own (``jacobian.maps.<name>.sample_sizes``) or the section's, "mem_mb":
    what its estimates job asks for}}`` (:func:`~figureflow.jacobian.measure.jacobian_memory_mb`); a
    ``vae:<run>`` map's file is the run's ``model.pt`` (so the DAG trains the run first) and its data
    dimension is ``None`` when the run's data is a dataset (genes are known after preprocessing); a
    ``cnf:<run>`` map's file is likewise its run's ``model.pt``.

    Raises
    ------
    InputError
        For a map that does not import, compile, evaluate to ``data_dim`` finite values, or whose
        complex-step derivative disagrees with a central difference (a non-analytic operation), or
        an rqmc sample size that is not ``scrambles x 2^k``.
    """
    from figureflow.jacobian.measure import check_sample_sizes, jacobian_memory_mb

    section = config.get("jacobian", {})
    if not section.get("maps"):
        return {}
    check_sample_sizes(section["estimators"], section["sample_sizes"], section["scrambles"])
    facts = {}
    for name, spec in section["maps"].items():
        if "sample_sizes" in spec:
            check_sample_sizes(section["estimators"], spec["sample_sizes"], section["scrambles"], key=f"jacobian.maps.{name}.sample_sizes")
        if map_kind(spec) == "vae":  # trained by the workflow: its model file is the rule's input
            facts[name] = {"dims": _check_vae_map(name, spec, config), "code": [model_file(spec)]}
            continue
        if map_kind(spec) == "cnf":
            facts[name] = {"dims": _check_cnf_map(name, spec, config), "code": [model_file(spec)]}
            continue
        if map_kind(spec) == "mlp":  # built-in and tested: its parameters are checked, torch is not imported
            from figureflow.jacobian.torch_maps import mlp_shape

            facts[name] = {"dims": mlp_shape(spec.get("params"), f"jacobian.maps.{name}.params")[:2], "code": []}
            continue
        latent = resolve_map(name, spec, config.get("seed", 0), check=True)
        facts[name] = {"dims": (latent.d, latent.D), "code": list(latent.source_files)}
    for name, spec in section["maps"].items():
        facts[name]["sample_sizes"] = [int(n) for n in spec.get("sample_sizes", section["sample_sizes"])]
        facts[name]["mem_mb"] = jacobian_memory_mb(max(facts[name]["sample_sizes"]), facts[name]["dims"][0])
    return facts
