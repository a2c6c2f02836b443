import numpy as np
import pytest
import scipy.sparse as sp

from figureflow.data.sbm import feedforward_block_matrix, simulate_sbm
from figureflow.io import InputError
from figureflow.seeding import seed_sequence
from figureflow.signal_flow import (
    ConvergenceError,
    dense_memory_gb,
    downhill_fraction,
    nodes_frame,
    signal_flow,
    summary_frame,
    trophic_incoherence,
)


def sbm(sizes, P, seed=1, weights=None):
    return simulate_sbm(sizes, np.asarray(P, dtype=float), seed_sequence(seed, "test_signal_flow"), weights=weights)


def grid(n):
    """Directed n x n grid: every node feeds its right and upper neighbour."""
    P = sp.diags([1.0], [1], shape=(n, n))
    return (sp.kron(sp.identity(n), P) + sp.kron(P, sp.identity(n))).tocsr()


def reference_z(A):
    """The defining formulas, written out densely: W, D, L and b, then z = pinv(L) b."""
    A = np.asarray(A, dtype=float).copy()
    np.fill_diagonal(A, 0)
    W = (A + A.T) / 2
    L = np.diag(W.sum(axis=1)) - W
    b = (W * np.sign(A - A.T)).sum(axis=1)
    return np.linalg.pinv(L) @ b


@pytest.mark.parametrize("solver", ["pinv", "sparse"])
def test_perfect_feedforward_blocks_differ_by_one(solver):
    A, blocks = sbm([50] * 5, feedforward_block_matrix(5, 0.0, 0.0, 1.0))
    result = signal_flow(A, solver=solver)
    for k in range(4):
        upper, lower = result.z[blocks == k], result.z[blocks == k + 1]
        # every node of block k exactly 1 above every node of block k + 1
        assert abs(upper.min() - lower.max() - 1) < 1e-9 and abs(upper.max() - lower.min() - 1) < 1e-9
    assert abs(result.z.mean()) < 1e-12
    assert result.trophic_incoherence < 1e-12 and result.downhill_fraction == 1.0


@pytest.mark.parametrize("n_per_block", [100, 400, 1000])
def test_pinv_and_sparse_agree_on_weighted_sbms(n_per_block):
    P = [[0.05, 0.2, 0.01], [0.01, 0.05, 0.2], [0.02, 0.01, 0.05]]
    A, _ = sbm([n_per_block] * 3, P, seed=n_per_block, weights=(0.1, 3.0))
    dense, sparse = signal_flow(A, solver="pinv"), signal_flow(A, solver="sparse")
    assert np.abs(dense.z - sparse.z).max() <= 1e-8
    assert np.abs(dense.trophic_levels - sparse.trophic_levels).max() <= 1e-8
    assert sparse.residual <= 1e-10 and sparse.method == "cg+jacobi"


def test_pinv_solver_is_the_defining_formula():
    rng = np.random.default_rng(4)
    A = rng.uniform(0, 2, size=(60, 60)) * (rng.random((60, 60)) < 0.15)
    A[3, 7], A[7, 3] = 2.0, 1.0  # a reciprocal pair with unequal weights
    A[5, 9], A[9, 5] = 1.5, 1.5  # and one with equal weights (no direction)
    z = signal_flow(A, solver="pinv").z
    np.testing.assert_allclose(z, reference_z(A), atol=1e-12)


def test_relabeling_nodes_permutes_z():
    A, _ = sbm([200, 300], [[0.05, 0.1], [0.02, 0.05]], weights=(0.5, 2.0))
    perm = np.random.default_rng(0).permutation(500)
    z = signal_flow(A, solver="sparse").z
    z_perm = signal_flow(A[perm][:, perm], solver="sparse").z
    np.testing.assert_allclose(z_perm, z[perm], atol=1e-9)


def test_reversing_every_edge_negates_z():
    A, _ = sbm([200, 300], [[0.05, 0.1], [0.02, 0.05]], weights=(0.5, 2.0))
    z = signal_flow(A, solver="sparse").z
    np.testing.assert_allclose(signal_flow(A.T, solver="sparse").z, -z, atol=1e-9)


def test_adding_a_disconnected_copy_leaves_z_unchanged():
    A, _ = sbm([150, 150, 150], feedforward_block_matrix(3, 0.02, 0.05, 0.2), weights=(0.5, 2.0))
    z = signal_flow(A, solver="sparse").z
    twice = signal_flow(sp.block_diag([A, A * 3.0]).tocsr(), solver="sparse")
    np.testing.assert_allclose(twice.z[:450], z, atol=1e-9)
    np.testing.assert_allclose(twice.z[450:], z, atol=1e-9)  # scaling all weights leaves z unchanged
    assert twice.n_components == 2 and set(twice.component) == {0, 1}
    assert "not comparable" in summary_frame(twice)["note"].iloc[0]


def test_components_are_mean_zero_and_isolated_nodes_are_nan():
    # chain 0 -> 1 -> 2, pair 3 -> 4, node 5 alone, node 6 with only a self-loop
    A = sp.lil_matrix((7, 7))
    A[0, 1] = A[1, 2] = A[3, 4] = A[6, 6] = 1.0
    result = signal_flow(A.tocsr(), solver="sparse")
    np.testing.assert_allclose(result.z[:5], [1, 0, -1, 0.5, -0.5], atol=1e-12)
    assert np.isnan(result.z[5]) and np.isnan(result.z[6])
    np.testing.assert_array_equal(result.component, [0, 0, 0, 1, 1, -1, -1])
    assert result.n_isolated == 2 and result.n_components == 2
    np.testing.assert_allclose(signal_flow(A.tocsr(), solver="pinv").z[:5], result.z[:5], atol=1e-12)


def test_self_loops_cancel():
    A, _ = sbm([100, 100], [[0.1, 0.2], [0.05, 0.1]], weights=(0.5, 2.0))
    with_loops = A + sp.diags(np.linspace(1, 5, 200))
    np.testing.assert_allclose(signal_flow(with_loops).z, signal_flow(A).z, atol=1e-12)


def test_summary_and_groups_table_count_the_same_edges_and_name_the_self_loops():
    import pandas as pd

    from figureflow.data.sbm import group_pair_table

    A, blocks = sbm([30, 30], [[0.2, 0.3], [0.05, 0.2]])
    with_loops = (A + sp.diags(np.r_[np.ones(7), np.zeros(53)])).tocsr()
    summary = summary_frame(signal_flow(with_loops)).iloc[0]
    groups = group_pair_table(with_loops, blocks)
    assert summary.n_edges == groups["n_edges"].sum() == A.nnz
    assert summary.n_self_loops == 7 and (groups["density"] <= 1).all()
    assert "n_self_loops" in pd.Index(summary.index)


def random_weighted(n, density, seed, integer_weights):
    """A digraph with reciprocated pairs, ties a_ij == a_ji, isolated nodes and rows without out-edges."""
    rng = np.random.default_rng(seed)
    present = rng.random((n, n)) < density
    present |= present.T & (rng.random((n, n)) < 0.5)  # more reciprocated pairs
    weights = rng.integers(1, 4, (n, n)).astype(float) if integer_weights else rng.uniform(0.1, 3.0, (n, n))
    A = np.where(present, weights, 0.0)
    np.fill_diagonal(A, 0.0)
    A[:, -3:] = A[-3:, :] = 0.0  # the last nodes are isolated ...
    A[-6:-3, :] = 0.0  # ... and a few only receive
    return sp.csr_matrix(A)


@pytest.mark.parametrize("integer_weights", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_one_pass_system_equals_the_whole_matrix_formulas(seed, integer_weights):
    from figureflow.signal_flow import assemble_system, check_adjacency
    from figureflow.signal_flow.reference import laplacian_system_reference

    A = check_adjacency(random_weighted(80, 0.08, seed, integer_weights))
    system = assemble_system(A)
    L, b, trophic = laplacian_system_reference(A)
    dense = A.toarray()
    # integer weights: every sum is exact; real weights: degrees summed in another order
    assert np.abs(system.matrix() - L).max() <= (0.0 if integer_weights else 1e-13)
    np.testing.assert_allclose(system.b, b, rtol=0, atol=1e-13)
    np.testing.assert_allclose(system.b, ((dense + dense.T) / 2 * np.sign(dense - dense.T)).sum(axis=1), rtol=0, atol=1e-13)
    np.testing.assert_allclose(system.trophic_rhs, trophic, rtol=0, atol=0.0 if integer_weights else 1e-13)
    x = np.random.default_rng(seed).normal(size=A.shape[0])
    np.testing.assert_allclose(system.matvec(x), L @ x, rtol=0, atol=1e-12)


def test_nodes_frame_never_lets_a_node_table_replace_a_computed_column():
    import pandas as pd

    from figureflow.signal_flow import NODE_COLUMNS

    A, blocks = sbm([10, 10], feedforward_block_matrix(2, 0, 0, 1))
    result = signal_flow(A)
    plain = nodes_frame(result, pd.DataFrame({"node": [f"n{i}" for i in range(20)], "block": blocks}))
    # every column signal flow computes is registered, so the check before any job refuses it
    assert set(plain.columns) - {"node", "block"} == set(NODE_COLUMNS)
    for column in NODE_COLUMNS:
        table = pd.DataFrame({"node": [f"n{i}" for i in range(20)], column: np.arange(20.0)})
        with pytest.raises(ValueError, match=f"'{column}' have the name of a column figureflow computes"):
            nodes_frame(result, table)


def test_dense_and_sparse_inputs_agree():
    A, _ = sbm([40, 40], [[0.1, 0.3], [0.05, 0.1]])
    np.testing.assert_array_equal(signal_flow(A.toarray()).z, signal_flow(A).z)


def test_directed_cycle_has_no_direction():
    A = sp.csr_matrix(np.roll(np.eye(5), 1, axis=1))  # 0 -> 1 -> 2 -> 3 -> 4 -> 0
    result = signal_flow(A)
    np.testing.assert_allclose(result.z, 0, atol=1e-12)
    assert abs(result.trophic_incoherence - 1) < 1e-12  # every edge has h_j - h_i - 1 = -1
    assert result.downhill_fraction == 0.0


def test_trophic_incoherence_is_zero_on_a_layered_graph():
    # random weighted edges, each from a layer to the next one
    rng = np.random.default_rng(2)
    layer = np.repeat(np.arange(6), 30)
    A = (rng.random((180, 180)) < 0.2) * (layer[None, :] == layer[:, None] + 1) * rng.uniform(0.5, 2, (180, 180))
    result = signal_flow(A)
    assert result.trophic_incoherence < 1e-12
    # trophic level rises by exactly 1 per layer (h = -z on graphs without reciprocal edges)
    np.testing.assert_allclose(np.diff([result.trophic_levels[layer == l].mean() for l in range(6)]), 1.0, atol=1e-9)


def test_trophic_incoherence_exceeds_half_on_a_random_graph():
    A = sp.random(2000, 2000, density=0.005, random_state=4, format="csr")
    A.data[:] = 1.0
    assert signal_flow(A).trophic_incoherence > 0.5


def test_trophic_levels_are_minus_z_without_reciprocal_edges():
    U = sp.triu(sp.random(400, 400, density=0.03, random_state=3, format="csr"), 1)
    result = signal_flow(U, solver="sparse")
    np.testing.assert_allclose(result.trophic_levels, -result.z, atol=1e-9)


def test_trophic_incoherence_and_downhill_fraction_by_hand():
    # edges 0 -> 1 (w 2), 1 -> 2 (w 1), 2 -> 0 (w 1) with levels h = (0, 1, 2)
    A = sp.csr_matrix(np.array([[0, 2, 0], [0, 0, 1], [1, 0, 0]], dtype=float))
    h = np.array([0.0, 1.0, 2.0])
    assert trophic_incoherence(A, h) == pytest.approx((2 * 0 + 1 * 0 + 1 * 9) / 4)
    z = np.array([2.0, 1.0, 1.0])
    assert downhill_fraction(A, z) == pytest.approx(2 / 4)  # only 0 -> 1 goes strictly down


def test_mesh_like_graph_switches_to_multigrid():
    # a 100 x 100 grid needs more than 500 Jacobi-CG iterations
    result = signal_flow(grid(100), solver="sparse")
    assert result.method == "cg+amg" and result.residual <= 1e-10
    assert abs(np.nanmax(result.z) - np.nanmin(result.z) - 2 * 99) < 1e-8  # corner to corner
    assert result.trophic_incoherence < 1e-12


def test_no_convergence_raises_instead_of_returning_an_approximation():
    with pytest.raises(ConvergenceError, match="no approximate answer"):
        signal_flow(grid(40), solver="sparse", cg_maxiter=3, amg_maxiter=1)


def test_pinv_refuses_large_graphs_and_states_the_memory():
    A = sp.random(3000, 3000, density=0.001, random_state=0, format="csr")
    with pytest.raises(InputError, match=r"needs about 0.4 GB .* max_dense_nodes = 1,000"):
        signal_flow(A, solver="pinv", max_dense_nodes=1000)
    assert dense_memory_gb(10_000) == pytest.approx(4.0)


@pytest.mark.parametrize(
    "matrix, message",
    [
        (np.ones((3, 4)), r"square \(n x n\), found shape \(3, 4\)"),
        (np.ones(4), "must be 2-D"),
        (np.zeros((0, 0)), "empty"),
        (np.array([[0, -1.0], [1, 0]]), r"negative weight -1.0 on edge 0 -> 1"),
        (np.array([[0, np.nan], [1, 0]]), "NaN weight"),
        (sp.csr_matrix(np.array([[0, 1.0], [np.inf, 0]])), r"infinite weight inf on edge 1 -> 0"),
        (np.array([["a", "b"], ["c", "d"]]), "must be numeric"),
    ],
)
def test_bad_matrices_are_refused(matrix, message):
    with pytest.raises(InputError, match=message):
        signal_flow(matrix, name="graph 'g'")


def test_unknown_solver_is_refused():
    with pytest.raises(InputError, match="solver must be"):
        signal_flow(np.eye(3), solver="lsqr")


def test_output_tables_have_the_documented_columns():
    import pandas as pd

    A, blocks = sbm([20, 20], feedforward_block_matrix(2, 0, 0, 1))
    result = signal_flow(A)
    nodes = nodes_frame(result, pd.DataFrame({"node": [f"n{i}" for i in range(40)], "block": blocks}))
    assert list(nodes.columns) == ["node", "z", "component", "block"]
    summary = summary_frame(result)
    assert list(summary.columns[:9]) == [
        "n_nodes", "n_edges", "n_components", "solver", "iterations", "residual", "seconds", "trophic_incoherence", "downhill_fraction",
    ]
    assert summary["n_edges"].iloc[0] == 400 and summary["solver"].iloc[0] == "pinv"
