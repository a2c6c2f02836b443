"""Directed stochastic block model (SBM) simulation in O(edges).

Nodes are split into consecutive blocks of given sizes; an edge from a node of block ``k`` to a
node of block ``l`` is present independently with probability ``P[k, l]``. Self-loops are never
drawn. Instead of a dense ``n x n`` Bernoulli draw, each block pair's candidate slots are
enumerated implicitly and the present ones are found by geometric skipping: the gap between
consecutive successes of i.i.d. Bernoulli(p) trials is Geometric(p). That draws exactly the SBM
distribution, with time and memory proportional to the number of edges.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import scipy.sparse as sp

from figureflow.io import InputError
from figureflow.seeding import spawn_generators

__all__ = [
    "feedforward_block_matrix",
    "bernoulli_slots",
    "simulate_sbm",
    "sbm_parameters",
    "group_pair_table",
]


def feedforward_block_matrix(n_blocks: int, p_low: float, p_within: float, p_forward: float) -> np.ndarray:
    """Block probability matrix of a feedforward chain of blocks.

    ``P[k, k] = p_within``, ``P[k, k + 1] = p_forward`` (block ``k`` feeds block ``k + 1``) and
    every other entry is ``p_low``. With ``p_forward = 1`` and the others 0 the graph is a
    perfect feedforward pathway.

    Returns
    -------
    numpy.ndarray, shape (n_blocks, n_blocks)
    """
    if n_blocks < 1:
        raise ValueError(f"n_blocks must be >= 1, got {n_blocks}")
    P = np.full((n_blocks, n_blocks), float(p_low))
    np.fill_diagonal(P, float(p_within))
    idx = np.arange(n_blocks - 1)
    P[idx, idx + 1] = float(p_forward)
    return P


def bernoulli_slots(rng: np.random.Generator, n_slots: int, p: float) -> np.ndarray:
    """Indices in ``[0, n_slots)`` of the successes among ``n_slots`` Bernoulli(``p``) trials.

    Successive gaps are drawn as Geometric(``p``), so the cost is proportional to the number of
    successes, not to ``n_slots``. The result is sorted, int64.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"probability must lie in [0, 1], got {p}")
    if n_slots <= 0 or p == 0.0:
        return np.empty(0, dtype=np.int64)
    if p == 1.0:
        return np.arange(n_slots, dtype=np.int64)
    mean = n_slots * p
    batch = int(mean + 6.0 * np.sqrt(mean * (1.0 - p)) + 16)
    pieces = []
    last = -1
    while last < n_slots - 1:
        positions = last + np.cumsum(rng.geometric(p, size=batch), dtype=np.int64)
        pieces.append(positions)
        last = int(positions[-1])
        batch = max(16, batch // 4)
    slots = np.concatenate(pieces)
    return slots[: np.searchsorted(slots, n_slots)]


def _sample_pair(rng, k, l, sizes, offsets, p, weights):
    n_k, n_l = int(sizes[k]), int(sizes[l])
    if k == l:
        # slots enumerate the off-diagonal pairs of the block: row r has n_k - 1 targets
        slots = bernoulli_slots(rng, n_k * (n_k - 1), p)
        rows, c = np.divmod(slots, n_k - 1) if n_k > 1 else (slots, slots)
        cols = c + (c >= rows)
    else:
        slots = bernoulli_slots(rng, n_k * n_l, p)
        rows, cols = np.divmod(slots, n_l)
    if weights is None:
        w = np.ones(slots.size)
    else:
        w = rng.uniform(weights[0], weights[1], size=slots.size)
    return rows + offsets[k], cols + offsets[l], w


def simulate_sbm(
    block_sizes,
    block_probabilities,
    seed_seq: np.random.SeedSequence,
    weights: tuple[float, float] | None = None,
    n_threads: int = 1,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Draw a directed SBM.

    Parameters
    ----------
    block_sizes
        Sizes of the ``B`` blocks; block ``k`` holds the consecutive nodes
        ``sum(block_sizes[:k]) ... sum(block_sizes[:k+1]) - 1``.
    block_probabilities
        ``(B, B)`` matrix; ``P[k, l]`` is the probability of each edge from block ``k`` to
        block ``l``.
    seed_seq
        The stream for this graph; block pair ``(k, l)`` uses its child ``k * B + l``, so the
        graph does not depend on ``n_threads``.
    weights
        ``None`` for unit weights, or ``(low, high)`` for weights uniform on that interval.
    n_threads
        Threads over block pairs (numpy's samplers release the GIL).

    Returns
    -------
    adjacency : scipy.sparse.csr_matrix, shape (n, n), float64
        ``A[i, j]`` is the weight of the edge ``i -> j``; no self-loops.
    blocks : numpy.ndarray of int, shape (n,)
        Block index of each node.
    """
    sizes = np.asarray(block_sizes, dtype=np.int64)
    P = np.asarray(block_probabilities, dtype=float)
    B = sizes.size
    if P.shape != (B, B):
        raise ValueError(f"block_probabilities must be {B} x {B} to match {B} blocks, got shape {P.shape}")
    if np.any(sizes < 1):
        raise ValueError(f"every block size must be >= 1, got {sizes.tolist()}")
    if not np.all(np.isfinite(P)) or np.any(P < 0) or np.any(P > 1):
        raise ValueError("block probabilities must be finite and lie in [0, 1]")
    if weights is not None and not (0 <= weights[0] <= weights[1]):
        raise ValueError(f"weights must be (low, high) with 0 <= low <= high, got {weights}")
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    n = int(offsets[-1])
    rngs = spawn_generators(seed_seq, B * B)
    pairs = [(k, l) for k in range(B) for l in range(B)]

    def work(pair):
        k, l = pair
        return _sample_pair(rngs[k * B + l], k, l, sizes, offsets, P[k, l], weights)

    if n_threads > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            parts = list(pool.map(work, pairs))
    else:
        parts = [work(pair) for pair in pairs]
    rows = np.concatenate([r for r, _, _ in parts])
    cols = np.concatenate([c for _, c, _ in parts])
    data = np.concatenate([w for _, _, w in parts])
    del parts
    index_dtype = np.int32 if n < 2**31 - 1 else np.int64
    A = sp.csr_matrix(
        (data, (rows.astype(index_dtype, copy=False), cols.astype(index_dtype, copy=False))), shape=(n, n)
    )
    A.sort_indices()
    blocks = np.repeat(np.arange(B), sizes)
    return A, blocks


def sbm_parameters(spec: dict, graph: str) -> tuple[np.ndarray, np.ndarray]:
    """Block sizes and probability matrix from a graph's ``sbm:`` config section.

    Two forms are accepted: the feedforward chain (``n_blocks``, ``block_size``, ``p_low``,
    ``p_within``, ``p_forward``) or an explicit model (``block_sizes``: list of ints,
    ``block_probabilities``: square matrix).

    Raises
    ------
    InputError
        If the keys of both forms are mixed, a form is incomplete, a row of the matrix has the
        wrong length, a value is out of range, or ``weights`` has ``low > high``.
    """
    where = f"config key graphs.{graph}.sbm"
    chain_keys = {"n_blocks", "block_size", "p_low", "p_within", "p_forward"}
    explicit_keys = {"block_sizes", "block_probabilities"}
    given = set(spec) - {"weights"}
    if given & explicit_keys:
        if given & chain_keys:
            raise InputError(
                f"{where}: give either {sorted(explicit_keys)} or the feedforward keys "
                f"{sorted(chain_keys)}, not both; found {sorted(given)}"
            )
        missing = explicit_keys - given
        if missing:
            raise InputError(f"{where}: expected {sorted(missing)} as well, found only {sorted(given)}")
        sizes = np.asarray(spec["block_sizes"])
        rows = spec["block_probabilities"]
        for k, row in enumerate(rows):
            if not isinstance(row, (list, tuple)) or len(row) != sizes.size:
                found = f"{len(row)} entries" if isinstance(row, (list, tuple)) else repr(row)
                raise InputError(
                    f"{where}.block_probabilities: row {k} must have {sizes.size} entries (one per block in "
                    f"block_sizes), found {found}"
                )
        P = np.asarray(rows, dtype=float)
        if P.ndim != 2 or P.shape != (sizes.size, sizes.size):
            raise InputError(
                f"{where}.block_probabilities: expected a {sizes.size} x {sizes.size} matrix "
                f"(one row and column per block), found shape {P.shape}"
            )
    else:
        missing = chain_keys - given
        if missing:
            raise InputError(
                f"{where}: expected the feedforward keys {sorted(missing)} "
                f"(or block_sizes + block_probabilities), found {sorted(given)}"
            )
        sizes = np.full(int(spec["n_blocks"]), int(spec["block_size"]))
        P = feedforward_block_matrix(int(spec["n_blocks"]), spec["p_low"], spec["p_within"], spec["p_forward"])
    if np.any(sizes < 1):
        raise InputError(f"{where}: every block size must be >= 1, found {sizes.tolist()}")
    weights = spec.get("weights")
    if weights is not None and not 0 <= weights["low"] <= weights["high"]:
        raise InputError(
            f"{where}.weights: expected 0 <= low <= high, found low = {weights['low']}, high = {weights['high']}"
        )
    bad = ~np.isfinite(P) | (P < 0) | (P > 1)
    if bad.any():
        k, l = np.argwhere(bad)[0]
        raise InputError(f"{where}: probabilities must lie in [0, 1], found {P[k, l]} for block pair ({k}, {l})")
    return sizes.astype(np.int64), P


def group_pair_table(adjacency: sp.spmatrix, groups: np.ndarray, block_probabilities=None) -> pd.DataFrame:
    """Edge counts and densities for every ordered pair of node groups (e.g. SBM blocks).

    Groups are taken in order of first appearance in ``groups``.

    Returns
    -------
    pandas.DataFrame
        One row per pair (``source_group``, ``target_group``) with ``n_possible`` (ordered node
        pairs, self-pairs excluded), ``n_edges`` and ``weight`` (self-loops left out, as from
        ``n_possible`` and from signal flow's ``n_edges``), ``density`` = n_edges / n_possible
        and, if ``block_probabilities`` is given, ``p_planted``.
    """
    A = sp.coo_matrix(adjacency)
    off_diagonal = A.row != A.col
    A = sp.coo_matrix((A.data[off_diagonal], (A.row[off_diagonal], A.col[off_diagonal])), shape=A.shape)
    codes, labels = pd.factorize(np.asarray(groups))
    labels = np.asarray(labels)
    B = labels.size
    sizes = np.bincount(codes, minlength=B).astype(np.int64)
    pair = codes[A.row].astype(np.int64) * B + codes[A.col]
    counts = np.bincount(pair, minlength=B * B)
    weight = np.bincount(pair, weights=A.data, minlength=B * B)
    possible = np.outer(sizes, sizes) - np.diag(sizes)
    frame = pd.DataFrame(
        {
            "source_group": np.repeat(labels, B),
            "target_group": np.tile(labels, B),
            "n_possible": possible.ravel(),
            "n_edges": counts,
            "weight": weight,
        }
    )
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["density"] = np.where(frame["n_possible"] > 0, frame["n_edges"] / frame["n_possible"], np.nan)
    if block_probabilities is not None:
        frame["p_planted"] = np.asarray(block_probabilities, dtype=float).ravel()
    return frame
