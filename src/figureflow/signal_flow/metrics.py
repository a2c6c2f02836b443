"""Graph-level numbers from a solution: trophic incoherence and the fraction of edges that run downhill.
"""

from __future__ import annotations


import numpy as np
import scipy.sparse as sp

__all__ = ["trophic_incoherence", "downhill_fraction"]



def _edge_blocks(A: sp.csr_matrix, entries: int = 1 << 20):
    """``(rows, columns, weights)`` of the stored entries of ``A``, a block of whole rows at a time.

    Working through about ``entries`` entries at a time keeps the temporaries small, which
    matters in a fresh process, where new memory is slow to touch.
    """
    n = A.shape[0]
    cuts = np.searchsorted(A.indptr, np.arange(0, A.nnz + entries, entries), side="left").clip(max=n)
    cuts = np.unique(np.concatenate([[0], cuts, [n]]))
    for r0, r1 in zip(cuts[:-1], cuts[1:]):
        lo, hi = A.indptr[r0], A.indptr[r1]
        rows = np.repeat(np.arange(r0, r1), np.diff(A.indptr[r0 : r1 + 1]))
        yield rows, A.indices[lo:hi], A.data[lo:hi]


def trophic_incoherence(A: sp.spmatrix, h: np.ndarray) -> float:
    """``F_0 = sum_ij A_ij (h_j - h_i - 1)^2 / sum_ij A_ij`` for trophic levels ``h`` (NaN-free on edges)."""
    A = sp.csr_matrix(A)
    total = A.data.sum()
    if A.nnz == 0 or total == 0:
        return float("nan")
    acc = 0.0
    for rows, cols, w in _edge_blocks(A):
        diff = h[cols] - h[rows] - 1.0
        acc += float(np.dot(w * diff, diff))
    return acc / float(total)


def downhill_fraction(A: sp.spmatrix, z: np.ndarray) -> float:
    """Fraction of edge weight on edges ``i -> j`` with ``z_i > z_j`` (pointing down the hierarchy)."""
    A = sp.csr_matrix(A)
    total = A.data.sum()
    if total == 0:
        return float("nan")
    down = sum(float(w[z[rows] > z[cols]].sum()) for rows, cols, w in _edge_blocks(A))
    return down / float(total)
