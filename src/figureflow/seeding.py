"""Every random generator in figureflow comes from here.

The config's ``seed`` is the only source of entropy. A stream is named by the rule that uses
it, the values of that rule's wildcards and, optionally, a replicate index; the name is turned
into a ``numpy.random.SeedSequence`` spawn key through SHA-256, which is stable across Python
processes, platforms and versions (unlike ``hash()``, which is salted per process). So a stream
depends on *what* is computed, never on job order, ``--cores``, the executor, or on how many
workers share the work.

>>> rng = generator(7, "simulate_sbm", {"graph": "ff"})
>>> int(rng.integers(1000)) == int(generator(7, "simulate_sbm", {"graph": "ff"}).integers(1000))
True
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

__all__ = ["stable_words", "seed_sequence", "generator", "spawn_generators"]


def stable_words(text: str, n_words: int = 4) -> tuple[int, ...]:
    """``n_words`` unsigned 32-bit integers from the SHA-256 digest of ``text`` (UTF-8)."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return tuple(int.from_bytes(digest[4 * i : 4 * i + 4], "little") for i in range(n_words))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def seed_sequence(
    seed: int,
    rule: str,
    wildcards: Mapping[str, object] | None = None,
    replicate: int | None = None,
) -> np.random.SeedSequence:
    """The ``SeedSequence`` for one (rule, wildcard values, replicate).

    Parameters
    ----------
    seed
        The config's ``seed`` (non-negative integer).
    rule
        Name of the rule (or any stable name of the computation).
    wildcards
        Wildcard names and values; their order does not matter.
    replicate
        Optional replicate index (non-negative integer), e.g. one run of a seeded sweep.

    Returns
    -------
    numpy.random.SeedSequence
        ``SeedSequence(entropy=seed, spawn_key=key)``, where ``key`` is derived from the
        rule name, the sorted ``name=value`` wildcard pairs and the replicate.

    Raises
    ------
    ValueError
        If ``seed`` or ``replicate`` is not a non-negative integer.
    """
    seed = _check_seed(seed)
    parts = [f"rule={rule}"]
    for name in sorted(wildcards or {}):
        parts.append(f"{name}={wildcards[name]}")
    key = stable_words("\x1f".join(parts))
    if replicate is not None:
        if isinstance(replicate, bool) or not isinstance(replicate, (int, np.integer)) or replicate < 0:
            raise ValueError(f"replicate must be a non-negative integer, got {replicate!r}")
        key = key + (int(replicate),)
    return np.random.SeedSequence(entropy=seed, spawn_key=key)


def generator(
    seed: int,
    rule: str,
    wildcards: Mapping[str, object] | None = None,
    replicate: int | None = None,
) -> np.random.Generator:
    """A PCG64 ``Generator`` on :func:`seed_sequence` ``(seed, rule, wildcards, replicate)``."""
    return np.random.Generator(np.random.PCG64(seed_sequence(seed, rule, wildcards, replicate)))


def spawn_generators(parent: np.random.SeedSequence, n: int) -> list[np.random.Generator]:
    """``n`` independent generators, child ``i`` being ``parent``'s ``i``-th child.

    Work split into ``n`` fixed pieces gets the same streams however many workers run them.
    A fresh ``SeedSequence`` with ``parent``'s entropy and spawn key is used, so calling this
    twice gives the same children (``SeedSequence.spawn`` itself is stateful).
    """
    base = np.random.SeedSequence(entropy=parent.entropy, spawn_key=parent.spawn_key)
    return [np.random.Generator(np.random.PCG64(child)) for child in base.spawn(n)]
