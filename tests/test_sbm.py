import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

from figureflow.data.sbm import (
    bernoulli_slots,
    feedforward_block_matrix,
    group_pair_table,
    sbm_parameters,
    simulate_sbm,
)
from figureflow.io import InputError
from figureflow.seeding import generator, seed_sequence


def test_feedforward_matrix_has_within_forward_and_low_entries():
    P = feedforward_block_matrix(4, 0.01, 0.2, 0.7)
    expected = np.array(
        [
            [0.2, 0.7, 0.01, 0.01],
            [0.01, 0.2, 0.7, 0.01],
            [0.01, 0.01, 0.2, 0.7],
            [0.01, 0.01, 0.01, 0.2],
        ]
    )
    np.testing.assert_array_equal(P, expected)


def test_bernoulli_slots_edge_cases():
    rng = np.random.default_rng(0)
    assert bernoulli_slots(rng, 100, 0.0).size == 0
    assert bernoulli_slots(rng, 0, 0.5).size == 0
    np.testing.assert_array_equal(bernoulli_slots(rng, 7, 1.0), np.arange(7))
    with pytest.raises(ValueError):
        bernoulli_slots(rng, 10, 1.5)


@pytest.mark.parametrize("p", [0.001, 0.05, 0.4, 0.93])
def test_bernoulli_slots_are_distinct_in_range_and_binomial(p):
    n = 200_000
    slots = bernoulli_slots(np.random.default_rng(1), n, p)
    assert np.all(np.diff(slots) > 0)
    assert slots.min() >= 0 and slots.max() < n
    lo, hi = stats.binom.interval(0.999, n, p)
    assert lo <= slots.size <= hi
    # uniform over the range: each tenth holds a Binomial(n/10, p) count
    per_tenth = np.bincount(slots * 10 // n, minlength=10)
    lo, hi = stats.binom.interval(0.999, n // 10, p)
    assert np.all((per_tenth >= lo) & (per_tenth <= hi))


def test_block_pair_densities_lie_in_binomial_interval():
    sizes = [60, 120, 200, 35]
    P = np.array(
        [
            [0.30, 0.02, 1.00, 0.00],
            [0.10, 0.05, 0.50, 0.01],
            [0.00, 0.20, 0.01, 0.70],
            [0.40, 0.00, 0.03, 0.90],
        ]
    )
    A, blocks = simulate_sbm(sizes, P, seed_sequence(5, "test_sbm"))
    table = group_pair_table(A, blocks, P)
    assert len(table) == 16
    for row in table.itertuples():
        lo, hi = stats.binom.interval(0.999, row.n_possible, row.p_planted)
        assert lo <= row.n_edges <= hi, row
    # pairs with p = 0 or 1 are exact
    exact = table[table.p_planted.isin([0.0, 1.0])]
    np.testing.assert_array_equal(exact.n_edges, exact.n_possible * exact.p_planted)


def test_no_self_loops_and_each_edge_once():
    A, _ = simulate_sbm([50, 50], [[0.9, 0.5], [0.5, 0.9]], seed_sequence(1, "t"))
    assert A.diagonal().sum() == 0
    coo = A.tocoo()
    assert len(set(zip(coo.row.tolist(), coo.col.tolist()))) == A.nnz
    assert np.all(A.data == 1.0)


def test_within_block_pairs_exclude_only_self_pairs():
    # p = 1 within a block gives the complete digraph without loops: n (n - 1) edges
    A, _ = simulate_sbm([13], [[1.0]], seed_sequence(1, "t"))
    assert A.nnz == 13 * 12
    np.testing.assert_array_equal(A.toarray(), 1 - np.eye(13))


def test_perfect_feedforward_chain_is_complete_between_consecutive_blocks():
    P = feedforward_block_matrix(5, 0.0, 0.0, 1.0)
    A, blocks = simulate_sbm([50] * 5, P, seed_sequence(1, "t"))
    coo = A.tocoo()
    assert A.nnz == 4 * 50 * 50
    np.testing.assert_array_equal(blocks[coo.col], blocks[coo.row] + 1)


def test_same_seed_same_graph_other_seed_other_graph():
    P = feedforward_block_matrix(3, 0.05, 0.2, 0.3)
    a, _ = simulate_sbm([100] * 3, P, seed_sequence(1, "t", {"graph": "g"}))
    b, _ = simulate_sbm([100] * 3, P, seed_sequence(1, "t", {"graph": "g"}))
    c, _ = simulate_sbm([100] * 3, P, seed_sequence(2, "t", {"graph": "g"}))
    assert (a != b).nnz == 0
    assert (a != c).nnz > 0


def test_thread_count_does_not_change_the_graph():
    P = feedforward_block_matrix(6, 0.02, 0.2, 0.3)
    a, _ = simulate_sbm([150] * 6, P, seed_sequence(1, "t"), weights=(0.5, 3.0), n_threads=1)
    b, _ = simulate_sbm([150] * 6, P, seed_sequence(1, "t"), weights=(0.5, 3.0), n_threads=2)
    assert (a != b).nnz == 0


def test_weights_are_uniform_on_the_interval():
    A, _ = simulate_sbm([300], [[0.5]], seed_sequence(1, "t"), weights=(2.0, 5.0))
    assert A.data.min() >= 2.0 and A.data.max() <= 5.0
    # mean of U(2, 5) is 3.5 with sd sqrt(0.75); 4.5 standard errors either side
    assert abs(A.data.mean() - 3.5) < 4.5 * np.sqrt(0.75 / A.nnz)


def test_csr_output_has_int32_sorted_indices():
    A, blocks = simulate_sbm([20, 30], [[0.2, 0.3], [0.1, 0.2]], seed_sequence(1, "t"))
    assert isinstance(A, sp.csr_matrix) and A.shape == (50, 50)
    assert A.indices.dtype == np.int32 and A.has_sorted_indices
    np.testing.assert_array_equal(blocks, [0] * 20 + [1] * 30)


def test_sbm_parameters_reads_both_forms():
    sizes, P = sbm_parameters({"n_blocks": 3, "block_size": 10, "p_low": 0.1, "p_within": 0.2, "p_forward": 0.9}, "g")
    np.testing.assert_array_equal(sizes, [10, 10, 10])
    np.testing.assert_array_equal(P, feedforward_block_matrix(3, 0.1, 0.2, 0.9))
    sizes, P = sbm_parameters({"block_sizes": [5, 7], "block_probabilities": [[0.1, 0.2], [0.3, 0.4]]}, "g")
    np.testing.assert_array_equal(sizes, [5, 7])


@pytest.mark.parametrize(
    "spec, message",
    [
        ({"n_blocks": 3, "block_size": 10, "p_low": 0.1}, "expected the feedforward keys"),
        ({"block_sizes": [5, 7]}, r"expected \['block_probabilities'\]"),
        ({"block_sizes": [5, 7], "block_probabilities": [[0.1, 0.2]]}, "expected a 2 x 2 matrix"),
        ({"block_sizes": [5], "block_probabilities": [[0.1]], "p_low": 0.1}, "not both"),
        ({"block_sizes": [5, 7], "block_probabilities": [[0.1, 0.2], [0.3, 1.4]]}, r"found 1.4 for block pair \(1, 1\)"),
        ({"block_sizes": [5, 7], "block_probabilities": [[0.1, 0.2], [0.3]]}, r"block_probabilities: row 1 must have 2 entries .*found 1 entries"),
        ({"block_sizes": [5, 7], "block_probabilities": [[0.1, 0.2, 0.3], [0.3, 0.1]]}, r"row 0 must have 2 entries"),
        ({"block_sizes": [5, 7], "block_probabilities": [0.1, 0.2]}, r"row 0 must have 2 entries \(one per block in block_sizes\), found 0.1"),
        (
            {"n_blocks": 2, "block_size": 5, "p_low": 0.1, "p_within": 0.1, "p_forward": 0.1, "weights": {"low": 2.0, "high": 1.0}},
            r"sbm.weights: expected 0 <= low <= high, found low = 2.0, high = 1.0",
        ),
    ],
)
def test_sbm_parameters_errors_name_the_key(spec, message):
    with pytest.raises(InputError, match=message) as info:
        sbm_parameters(spec, "mygraph")
    assert "graphs.mygraph.sbm" in str(info.value)


def test_group_pair_table_counts_weights_and_possible_pairs():
    A = sp.csr_matrix(np.array([[0, 2, 0], [0, 0, 3], [1, 0, 0]], dtype=float))
    table = group_pair_table(A, np.array(["x", "x", "y"]))
    rows = {(r.source_group, r.target_group): r for r in table.itertuples()}
    assert rows[("x", "x")].n_possible == 2 and rows[("x", "x")].n_edges == 1 and rows[("x", "x")].weight == 2
    assert rows[("x", "y")].n_possible == 2 and rows[("x", "y")].weight == 3
    assert rows[("y", "x")].n_edges == 1 and rows[("y", "y")].n_possible == 0
    assert np.isnan(rows[("y", "y")].density)


def test_self_loops_count_nowhere_so_densities_stay_at_most_one():
    # two nodes, each with a self-loop and both edges between them: 2 edges of 2 possible pairs
    A = sp.csr_matrix(np.array([[1.0, 1.0], [1.0, 1.0]]))
    row = group_pair_table(A, np.array(["g", "g"])).iloc[0]
    assert (row.n_possible, row.n_edges, row.weight, row.density) == (2, 2, 2.0, 1.0)


def test_generator_reuse_is_not_needed():
    # the sampler takes a SeedSequence, not a Generator: the same graph from the same name
    ss = seed_sequence(9, "t")
    a, _ = simulate_sbm([40, 40], [[0.3, 0.3], [0.3, 0.3]], ss)
    generator(9, "t").random(1000)  # unrelated use of the same name changes nothing
    b, _ = simulate_sbm([40, 40], [[0.3, 0.3], [0.3, 0.3]], ss)
    assert (a != b).nnz == 0
