"""Plain scipy references of signal flow's numba kernels: what tests check the kernels against and
benchmarks race them against. The workflow never calls them.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = ["laplacian_system_reference", "weak_components_reference"]


def laplacian_system_reference(A: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """``L``, the signal-flow right-hand side ``b`` and the trophic right-hand side
    ``(w_in - w_out) / 2`` as whole-matrix scipy operations: what
    :func:`figureflow.signal_flow.assemble_system` computes in one pass (``system.matrix()``,
    ``system.b``, ``system.trophic_rhs``)."""
    AT = A.T.tocsr()
    W = (A + AT) * 0.5
    degree = np.asarray(W.sum(axis=1)).ravel()
    L = (sp.diags(degree) - W).tocsr()
    S = (A - AT).tocsr()
    S.data = np.sign(S.data)
    S.eliminate_zeros()
    b = np.asarray(W.multiply(S).sum(axis=1)).ravel()
    w_in = np.asarray(A.sum(axis=0)).ravel()
    w_out = np.asarray(A.sum(axis=1)).ravel()
    return L, b, (w_in - w_out) / 2.0


def weak_components_reference(A: sp.csr_matrix) -> np.ndarray:
    """:func:`figureflow.signal_flow.weak_components` through scipy's ``connected_components`` (the reference)."""
    n_raw, raw = connected_components(A, directed=True, connection="weak")
    sizes = np.bincount(raw, minlength=n_raw)
    first = np.full(n_raw, A.shape[0])
    np.minimum.at(first, raw, np.arange(A.shape[0]))
    keep = sizes >= 2
    order = np.lexsort((first, -sizes))
    order = order[keep[order]]
    relabel = np.full(n_raw, -1)
    relabel[order] = np.arange(order.size)
    return relabel[raw]
