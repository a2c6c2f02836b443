"""The numba kernels of the sparse signal-flow solve against scipy references."""

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from figureflow.data.sbm import feedforward_block_matrix, simulate_sbm
from figureflow.seeding import seed_sequence
from figureflow.signal_flow import assemble_system, check_adjacency, signal_flow, weak_components
from figureflow.signal_flow.reference import weak_components_reference
from figureflow.signal_flow.kernels import BLOCK, block_cg, laplacian_apply, reciprocal_sums, weak_labels
from figureflow.threads import numba_threads


def random_graph(n, density, seed, unit=False):
    rng = np.random.default_rng(seed)
    A = sp.random(n, n, density=density, format="csr", random_state=rng)
    if unit:
        A.data[:] = 1.0
    else:
        A.data = rng.uniform(0.1, 3.0, A.nnz)
    return check_adjacency(A)


def grounded(L, held):
    """``L`` with the held rows and columns replaced by the identity's (dense)."""
    G = L.toarray()
    G[held, :] = 0.0
    G[:, held] = 0.0
    G[held, held] = 1.0
    return G


@pytest.mark.parametrize("unit", [True, False])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_laplacian_apply_equals_the_assembled_matrix_with_held_rows_copied(unit, k):
    A = random_graph(3 * BLOCK + 17, 0.002, 1, unit)
    system = assemble_system(A)
    X = np.random.default_rng(2).normal(size=(A.shape[0], k))
    held = np.zeros(A.shape[0], dtype=bool)
    held[[0, 5000, A.shape[0] - 1]] = True
    Y = laplacian_apply(system.A, system.AT, system.degree, X, held, unit)
    expected = system.matrix() @ X
    expected[held] = X[held]
    np.testing.assert_allclose(Y, expected, rtol=0, atol=1e-12)


def test_block_cg_solves_each_grounded_system_like_a_dense_solve_and_ignores_the_thread_count(two_numba_threads):
    A = random_graph(2 * BLOCK + 100, 0.003, 4)
    system = assemble_system(A)
    assert (weak_components(A) == 0).all()  # one component: one node held
    held = np.zeros(A.shape[0], dtype=bool)
    held[int(np.argmax(system.degree))] = True
    B = np.stack([system.b, system.trophic_rhs], axis=1) * ~held[:, None]
    with numba_threads(1):
        X1, its1, ok1 = block_cg(system.A, system.AT, system.degree, held, B, 1e-12, 500)
    with numba_threads(2):
        X2, its2, ok2 = block_cg(system.A, system.AT, system.degree, held, B, 1e-12, 500)
    assert ok1 and ok2 and its1 == its2 and np.array_equal(X1, X2)  # the same bits
    G = grounded(system.matrix(), held)
    np.testing.assert_allclose(X1, np.linalg.solve(G, B), rtol=0, atol=1e-9 * np.abs(X1).max())
    # each column stops at scipy cg's criterion, ||r|| <= rtol ||b||
    R = B - G @ X1
    assert (np.linalg.norm(R, axis=0) <= 1e-12 * np.linalg.norm(B, axis=0) * 1.01).all()


def test_block_cg_refuses_a_right_hand_side_that_is_not_zero_on_held_nodes():
    A = random_graph(50, 0.2, 5)
    system = assemble_system(A)
    held = np.zeros(50, dtype=bool)
    held[0] = True
    with pytest.raises(ValueError, match="held nodes"):
        block_cg(system.A, system.AT, system.degree, held, np.ones((50, 1)), 1e-10, 10)


def test_block_cg_says_when_it_did_not_converge():
    A = random_graph(400, 0.02, 6)
    system = assemble_system(A)
    held = np.zeros(400, dtype=bool)
    held[0] = True
    B = (system.b * ~held)[:, None]
    _, its, ok = block_cg(system.A, system.AT, system.degree, held, B, 1e-14, 2)
    assert its == 2 and not ok


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_union_find_components_equal_scipys(seed):
    # sparse enough for many components, ties in size and isolated nodes
    A = random_graph(3000, 0.0004, seed)
    n_raw, raw = connected_components(A, directed=True, connection="weak")
    labels, sizes = weak_labels(A)
    assert sizes.size == n_raw and sizes.sum() == A.shape[0]
    # the same partition: each scipy component maps to exactly one union-find label
    pairs = np.unique(np.stack([raw, labels]), axis=1)
    assert pairs.shape[1] == n_raw
    # labels run in the order of each component's lowest node
    first = np.array([np.flatnonzero(labels == c)[0] for c in range(sizes.size)])
    assert (np.diff(first) > 0).all()
    np.testing.assert_array_equal(weak_components(A), weak_components_reference(A))


@pytest.mark.parametrize("unit", [True, False])
def test_reciprocal_sums_equal_the_dense_formula(unit):
    rng = np.random.default_rng(7)
    present = rng.random((300, 300)) < 0.05
    present |= present.T & (rng.random((300, 300)) < 0.5)  # many reciprocated pairs
    np.fill_diagonal(present, False)
    weights = np.ones((300, 300)) if unit else rng.integers(1, 4, (300, 300)).astype(float)  # equal pairs too
    dense = np.where(present, weights, 0.0)
    A = check_adjacency(sp.csr_matrix(dense))
    AT = A.T.tocsr()
    both = np.minimum(dense, dense.T)
    np.testing.assert_array_equal(reciprocal_sums(A, AT), (both * np.sign(dense - dense.T)).sum(axis=1))


def test_signal_flow_z_is_the_same_to_the_last_bit_on_one_or_two_threads(two_numba_threads):
    P = feedforward_block_matrix(4, 0.0005, 0.002, 0.004)
    A, _ = simulate_sbm([5000] * 4, P, seed_sequence(3, "kernels"))
    one = signal_flow(A, solver="sparse", n_threads=1)
    two = signal_flow(A, solver="sparse", n_threads=2)
    assert one.method == "cg+jacobi" and one.iterations == two.iterations
    assert np.array_equal(one.z, two.z, equal_nan=True) and np.array_equal(one.trophic_levels, two.trophic_levels, equal_nan=True)
    assert one.trophic_incoherence == two.trophic_incoherence and one.residual <= 1e-10


@pytest.mark.parametrize("unit", [True, False])
def test_the_two_column_kernels_give_the_general_kernels_bits(unit):
    from figureflow.signal_flow.kernels import _apply, _apply_any, _csr_arrays

    A = random_graph(2 * BLOCK + 5, 0.003, 8, unit)
    system = assemble_system(A)
    X = np.random.default_rng(9).normal(size=(A.shape[0], 2))
    held = np.zeros(A.shape[0], dtype=bool)
    held[3] = True
    dots = np.empty(((A.shape[0] + BLOCK - 1) // BLOCK, 2))
    Y_fast, Y_general, dots_general = np.empty_like(X), np.empty_like(X), dots.copy()
    _apply_any(_csr_arrays(system.A), _csr_arrays(system.AT), unit, system.degree, held, X, Y_fast, dots)
    _apply(*_csr_arrays(system.A), *_csr_arrays(system.AT), unit, system.degree, held, X, Y_general, dots_general)
    assert np.array_equal(Y_fast, Y_general) and np.array_equal(dots, dots_general)
