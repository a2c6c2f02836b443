"""Maps resolved from their config spec (figureflow.maps): every kind, and clear errors for bad ones."""

from pathlib import Path

import numpy as np
import pytest
import torch

from figureflow.io import InputError
from figureflow.jacobian.maps import CHECK_POINTS, builtin_map, check_map, check_points
from figureflow.jacobian.measure import volume_elements
from figureflow.maps import MAP_KINDS, map_kind, resolve_map

from conftest import REPO

BUILTINS = [
    ("toy", None),
    ("linear", {"matrix": [[1.0, 2.0], [0.0, 1.0], [3.0, 1.0], [1.0, -1.0]]}),
    ("helix", {"c": 0.5}),
    ("stereographic", None),
]


def points(latent, n=2000, seed=0):
    return np.random.default_rng(seed).standard_normal((n, latent.d))


@pytest.mark.parametrize(
    "spec, kind",
    [
        ({"map": "toy"}, "builtin"),
        ({"map": "stereographic"}, "builtin"),
        ({"map": "mlp"}, "mlp"),
        ({"map": "user_maps:swirl", "latent_dim": 2, "data_dim": 3}, "numba"),
        ({"map": "user_maps:torch_nan_below_zero", "latent_dim": 2, "data_dim": 3, "torch": True}, "torch"),
    ],
)
def test_each_spec_goes_to_its_kind_and_every_kind_has_a_resolver(spec, kind):
    assert map_kind(spec) == kind and kind in MAP_KINDS


@pytest.mark.parametrize("name, params", BUILTINS, ids=[b[0] for b in BUILTINS])
def test_builtin_map_resolves_under_its_config_name_with_its_exact_mean(name, params):
    latent = resolve_map("my_map", {"map": name, "params": params})
    reference = builtin_map(name, params)
    assert latent.name == "my_map" and latent.exact_mean == reference.exact_mean and latent.source_files == ()
    Z = points(latent, 200)
    np.testing.assert_array_equal(volume_elements(latent, Z), volume_elements(reference, Z))


def test_mlp_map_weights_come_from_the_config_seed():
    spec = {"map": "mlp", "params": {"latent_dim": 2, "data_dim": 3, "hidden": 8}}
    z = torch.tensor([0.3, -0.2], dtype=torch.float64)
    a, b, c = (resolve_map("dec", spec, seed).torch_fn(z) for seed in (1, 1, 2))
    assert torch.equal(a, b) and not torch.equal(a, c)



def test_user_map_by_dotted_path_gives_its_known_volume(user_maps):
    latent = resolve_map("swirl", {"map": "user_maps:swirl", "latent_dim": 2, "data_dim": 3, "params": [0.5]})
    Z = points(latent, 500)
    expected = np.sqrt(0.25 + (1 + 0.5 * Z[:, 0]) ** 2)
    np.testing.assert_allclose(volume_elements(latent, Z), expected, rtol=1e-12)


@pytest.mark.parametrize(
    "path, message",
    [
        ("no_such_module:f", "module 'no_such_module' does not import"),
        ("user_maps:nope", "has no function 'nope'"),
        ("user_maps:too_short", r"left output entries \[2\] unset or NaN"),
        ("user_maps:too_long", "writes more than 3 output values"),
        ("user_maps:not_a_number", r"left output entries \[1\] unset or NaN"),
        ("user_maps.swirl", "expected a built-in map"),
        ("user_maps:nan_below_zero", r"returned \[-?[0-9.e-]+, -?[0-9.e-]+, nan\] at the latent point z = \[-"),
        ("user_maps:uses_abs", r"wrong complex-step derivative at z = .*dx2/dz0 is 0 by the complex step but -1 by a central difference.*non-analytic"),
        ("user_maps:uses_real_part", r"dx2/dz1 is 0 by the complex step but 3 by a central difference"),
    ],
)
def test_bad_user_maps_give_clear_errors(user_maps, path, message):
    with pytest.raises(InputError, match=message) as info:
        resolve_map("m", {"map": path, "latent_dim": 2, "data_dim": 3, "params": [0.5]}, seed=3, check=True)
    assert "jacobian.maps.m.map" in str(info.value)


@pytest.mark.parametrize("path", ["user_maps:swirl", "user_maps:steep"])
def test_analytic_user_maps_pass_the_seeded_check(user_maps, path):
    latent = resolve_map("m", {"map": path, "latent_dim": 2, "data_dim": 3, "params": [0.5]}, seed=3, check=True)
    # the module's file is recorded, so that the rules using the map read it (editing it reruns them)
    assert [Path(f).resolve() for f in latent.source_files] == [REPO / "tests" / "data" / "user_maps.py"]


@pytest.mark.parametrize("name, params", BUILTINS, ids=[b[0] for b in BUILTINS])
def test_builtin_maps_pass_the_seeded_check(name, params):
    latent = builtin_map(name, params)
    check_map(latent, "m", seed=11)  # raises if any check point disagrees
    assert latent.source_files == ()


def test_check_points_cover_both_signs_and_are_seeded():
    latent = builtin_map("toy")
    Z = check_points(latent, 5)
    assert Z.shape == (CHECK_POINTS, 2) and (Z < 0).any(axis=0).all() and (Z > 0).any(axis=0).all()
    np.testing.assert_array_equal(Z, check_points(latent, 5))
    assert not np.array_equal(Z, check_points(latent, 6))


def test_torch_map_that_is_nan_somewhere_is_refused_before_any_job(user_maps):
    spec = {"map": "user_maps:torch_nan_below_zero", "latent_dim": 2, "data_dim": 3, "torch": True}
    with pytest.raises(InputError, match=r"torch map 'm' has a non-finite volume element D at the latent point z = \[-"):
        resolve_map("m", spec, seed=3, check=True)


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"map": "linear", "params": {"matrix": [[1, 2], [3]]}}, r"params.matrix: expected a D x d matrix of numbers \(rows of equal length\), found \[\[1, 2\], \[3\]\]"),
        ({"map": "helix", "params": {"c": "big"}}, r"params.c: expected a number, found 'big'"),
        ({"map": "helix", "params": {"cc": 2}}, r"unknown parameter\(s\) \['cc'\] for map 'helix'; its parameters: c"),
        ({"map": "toy", "params": [1, 2]}, r"takes named parameters \(a mapping\), found \[1, 2\]"),
        ({"map": "mlp", "params": {"hiden": 3}}, r"unknown parameter\(s\) \['hiden'\] for map 'mlp'"),
        ({"map": "user_maps:swirl", "latent_dim": 2, "data_dim": 3, "params": ["a"]}, r"params\[0\]: expected a number, found 'a'"),
        ({"map": "user_maps:swirl", "latent_dim": 2, "data_dim": 3, "params": {"a": 1}}, "a user map takes a list of numbers"),
    ],
)
def test_bad_map_parameters_name_the_key(user_maps, spec, message):
    with pytest.raises(InputError, match=message) as info:
        resolve_map("m", spec)
    assert "config key jacobian.maps.m.params" in str(info.value)


def test_unknown_builtin_and_bad_parameters_are_refused():
    with pytest.raises(InputError, match="needs matrix"):
        builtin_map("linear")
    with pytest.raises(InputError, match="D >= d"):
        builtin_map("linear", {"matrix": [[1.0, 2.0, 3.0]]})
    with pytest.raises(InputError, match="need 1 <= latent_dim <= data_dim"):
        resolve_map("m", {"map": "mlp", "params": {"latent_dim": 4, "data_dim": 3}})


def test_a_map_may_set_its_own_sample_sizes_which_its_job_and_memory_follow():
    from figureflow.jacobian.measure import jacobian_memory_mb
    from figureflow.maps import check_config

    section = {"estimators": ["mc", "rqmc"], "scrambles": 16, "sample_sizes": [1024, 4096, 2**22]}
    facts = check_config({"jacobian": {**section, "maps": {"toy": {"map": "toy"}, "short": {"map": "helix", "sample_sizes": [256, 1024]}}}})
    assert facts["toy"]["sample_sizes"] == [1024, 4096, 2**22] and facts["short"]["sample_sizes"] == [256, 1024]
    assert facts["toy"]["mem_mb"] == jacobian_memory_mb(2**22, 2) > facts["short"]["mem_mb"] == jacobian_memory_mb(1024, 1)
    with pytest.raises(InputError, match=r"config key jacobian.maps.short.sample_sizes: for rqmc each size must be scrambles \(16\) x a power of 2, found 1000"):
        check_config({"jacobian": {**section, "maps": {"short": {"map": "helix", "sample_sizes": [256, 1000]}}}})
