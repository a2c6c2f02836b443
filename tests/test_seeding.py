import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

from figureflow.seeding import generator, seed_sequence, spawn_generators


def draws(rng, n=8):
    return rng.integers(0, 2**32, size=n).tolist()


def test_same_name_gives_same_stream():
    assert draws(generator(3, "simulate_sbm", {"graph": "ff"})) == draws(generator(3, "simulate_sbm", {"graph": "ff"}))


def test_wildcard_order_does_not_matter():
    a = generator(3, "r", {"dataset": "x", "map": "toy"})
    b = generator(3, "r", {"map": "toy", "dataset": "x"})
    assert draws(a) == draws(b)


@pytest.mark.parametrize(
    "other",
    [
        (4, "r", {"d": "x"}, None),
        (3, "q", {"d": "x"}, None),
        (3, "r", {"d": "y"}, None),
        (3, "r", {"e": "x"}, None),
        (3, "r", {"d": "x"}, 0),
        (3, "r", {"d": "x"}, 1),
    ],
)
def test_seed_rule_wildcards_and_replicate_each_change_the_stream(other):
    base = draws(generator(3, "r", {"d": "x"}))
    assert draws(generator(*other)) != base


def test_key_is_sha256_of_rule_and_sorted_wildcards():
    ss = seed_sequence(11, "rule_a", {"b": 2, "a": 1}, replicate=5)
    digest = hashlib.sha256("rule=rule_a\x1fa=1\x1fb=2".encode()).digest()
    words = tuple(int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(4))
    assert ss.entropy == 11
    assert ss.spawn_key == words + (5,)


def test_stream_is_the_same_in_processes_with_different_hash_seeds():
    code = "from figureflow.seeding import generator; print(generator(2026, 'simulate_sbm', {'graph': 'ff'}).integers(0, 2**32, size=3).tolist())"
    here = str(generator(2026, "simulate_sbm", {"graph": "ff"}).integers(0, 2**32, size=3).tolist())
    for hash_seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=hash_seed)
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
        assert out.strip() == here


def test_spawn_generators_is_repeatable_and_children_differ():
    parent = seed_sequence(1, "sweep")
    first = [draws(g) for g in spawn_generators(parent, 4)]
    second = [draws(g) for g in spawn_generators(parent, 4)]
    assert first == second
    assert len({tuple(d) for d in first}) == 4
    # child i does not depend on how many children are asked for
    assert [draws(g) for g in spawn_generators(parent, 2)] == first[:2]


@pytest.mark.parametrize("bad", [-1, 1.5, "3", True])
def test_bad_seed_is_refused(bad):
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        seed_sequence(bad, "r")


def test_bad_replicate_is_refused():
    with pytest.raises(ValueError, match="replicate"):
        seed_sequence(1, "r", replicate=-2)


def test_numpy_integer_seed_is_accepted():
    assert draws(generator(np.int64(5), "r")) == draws(generator(5, "r"))
