"""Signal flow's linear system: the checked adjacency, ``L``, ``b`` and the trophic right-hand side in one pass, and the weakly connected components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from figureflow.io import InputError

__all__ = ["check_adjacency", "LaplacianSystem", "assemble_system", "weak_components"]


def check_adjacency(adjacency, name: str = "graph") -> sp.csr_matrix:
    """Validate a weighted adjacency matrix (dense or sparse); return it as CSR float64 without self-loops.

    Raises
    ------
    InputError
        If it is not a square 2-D matrix, has no nodes, or holds NaN, infinite or negative weights
        (the message gives the first offending entry).
    """
    return _checked_adjacency(adjacency, name)[0]


def _checked_adjacency(adjacency, name: str) -> tuple[sp.csr_matrix, int]:
    """:func:`check_adjacency` and the number of self-loops it dropped.

    The input is not copied when it is already canonical CSR float64 without self-loops or
    explicit zeros (a graph figureflow wrote), and never modified.
    """
    if sp.issparse(adjacency):
        A = sp.csr_matrix(adjacency, dtype=np.float64)
    else:
        dense = np.asarray(adjacency)
        if dense.ndim != 2:
            raise InputError(f"{name}: the adjacency matrix must be 2-D, found {dense.ndim}-D with shape {dense.shape}")
        if not np.issubdtype(dense.dtype, np.number) and dense.dtype != bool:
            raise InputError(f"{name}: the adjacency matrix must be numeric, found dtype {dense.dtype}")
        A = sp.csr_matrix(dense.astype(np.float64))
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise InputError(f"{name}: the adjacency matrix must be square (n x n), found shape {A.shape}")
    if A.shape[0] == 0:
        raise InputError(f"{name}: the graph is empty (0 nodes)")
    data = A.data
    bad = ~np.isfinite(data) | (data < 0)
    if bad.any():
        coo = A.tocoo()
        k = int(np.flatnonzero(~np.isfinite(coo.data) | (coo.data < 0))[0])
        value = coo.data[k]
        kind = "NaN" if np.isnan(value) else ("infinite" if np.isinf(value) else "negative")
        raise InputError(
            f"{name}: edge weights must be finite and >= 0, found {kind} weight {value} on edge {coo.row[k]} -> {coo.col[k]}"
        )
    if not A.has_canonical_format:
        A = A.copy()
        A.sum_duplicates()  # canonical form: sorted, one entry per edge
    n_self_loops = int(np.count_nonzero(A.diagonal()))
    if n_self_loops or not A.data.all():
        rows = _row_of_entries(A)
        keep = (rows != A.indices) & (A.data != 0)  # drop self-loops and explicit zeros
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=A.shape[0]))])
        A = sp.csr_matrix((A.data[keep], A.indices[keep], indptr.astype(A.indptr.dtype)), shape=A.shape)
    return A, n_self_loops


def _row_of_entries(A: sp.csr_matrix) -> np.ndarray:
    """Row index of every stored entry of a CSR matrix."""
    return np.repeat(np.arange(A.shape[0], dtype=A.indices.dtype), np.diff(A.indptr))


@dataclass
class LaplacianSystem:
    """The signal-flow system of a graph, held as ``A``, ``A^T``, the degrees and the right-hand sides.

    ``L = diag(degree) - (A + A^T) / 2`` is applied as an operator (:meth:`matvec`), so neither
    ``W`` nor ``L`` is ever stored; :meth:`matrix` builds ``L`` when one is needed (pinv,
    algebraic multigrid).
    """

    A: sp.csr_matrix
    AT: sp.csr_matrix
    degree: np.ndarray
    b: np.ndarray
    trophic_rhs: np.ndarray

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """``L x``."""
        return self.degree * x - 0.5 * (self.A @ x + self.AT @ x)

    def matrix(self) -> sp.csr_matrix:
        """``L`` as a CSR matrix."""
        return (sp.diags(self.degree) - (self.A + self.AT) * 0.5).tocsr()

    def restrict(self, nodes: np.ndarray) -> "LaplacianSystem":
        """The system on a subset of nodes that no edge leaves (e.g. all non-isolated nodes)."""
        A = self.A[nodes][:, nodes].tocsr()
        return LaplacianSystem(A, A.T.tocsr(), self.degree[nodes], self.b[nodes], self.trophic_rhs[nodes])


def _row_sums(M: sp.csr_matrix) -> np.ndarray:
    """Sum of each row's stored values (a product with ones: no copy of the matrix)."""
    return M @ np.ones(M.shape[1])


def assemble_system(A: sp.csr_matrix) -> LaplacianSystem:
    """``L`` (as ``A``, ``A^T`` and the degrees), ``b`` and the trophic right-hand side ``(w_in - w_out) / 2``.

    ``A`` must be a checked adjacency without self-loops (:func:`check_adjacency`). With
    ``W = (A + A^T) / 2``, the degree is ``(w_out + w_in) / 2`` and, since
    ``(a + t) / 2 sign(a - t) = (a - t) / 2 + min(a, t) sign(a - t)``,

        ``b_i = sum_j W_ij sign(A_ij - A_ji) = (w_out_i - w_in_i) / 2 + sum_j min(A_ij, A_ji) sign(A_ij - A_ji)``,

    whose last sum runs only over reciprocated pairs: it is found by merging each row of ``A``
    with the same row of ``A^T`` (numba, :func:`figureflow.signal_flow.kernels.reciprocal_sums`).
    So the only matrix made is ``A^T``: in a fresh process, where touching new memory is much of
    the cost, this takes a fraction of the whole-matrix scipy expression of the same formulas
    (:func:`figureflow.signal_flow.reference.laplacian_system_reference`).
    """
    from figureflow.signal_flow.kernels import reciprocal_sums

    if A.nnz and (not A.has_sorted_indices or A.data.min() <= 0):
        raise ValueError("assemble_system needs a checked adjacency (check_adjacency): sorted, no explicit zeros or negative weights")
    AT = A.T.tocsr()  # scipy's transpose writes each row's indices in order
    AT.has_sorted_indices = True
    w_out = _row_sums(A)
    w_in = _row_sums(AT)
    b = 0.5 * (w_out - w_in) + reciprocal_sums(A, AT)
    return LaplacianSystem(A, AT, 0.5 * (w_out + w_in), b, 0.5 * (w_in - w_out))


def weak_components(A: sp.csr_matrix) -> np.ndarray:
    """Weakly connected component of each node: 0 for the largest (ties: lowest node first), -1 if isolated.

    Union-find over the edges in numba (:func:`figureflow.signal_flow.kernels.weak_labels`);
    :func:`figureflow.signal_flow.reference.weak_components_reference` is the same from scipy's ``connected_components``, which
    symmetrizes the whole matrix first.
    """
    from figureflow.signal_flow.kernels import weak_labels

    labels, sizes = weak_labels(sp.csr_matrix(A))
    return _relabel_by_size(labels, sizes)


def _relabel_by_size(labels: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Components numbered by their lowest node, renumbered largest first (ties: lowest node first),
    single nodes -1."""
    order = np.argsort(-sizes, kind="stable")  # labels already run in the order of their lowest node
    order = order[sizes[order] >= 2]
    relabel = np.full(sizes.size, -1)
    relabel[order] = np.arange(order.size)
    return relabel[labels]
