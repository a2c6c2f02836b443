"""The sparse signal-flow solve in numba: the grounded Laplacian applied to several right-hand
sides at once, and Jacobi-preconditioned conjugate gradients over them.

The signal-flow system is solved twice per graph (for ``z`` and for the trophic levels ``h``)
with the same ``L``. Each CG step's cost is one pass over the edges, and on a large graph that
pass is bound by memory traffic: reading every edge's column index (and weight) and fetching the
iterate at that column. Here both right-hand sides advance together, so each pass over the edges
serves both (one read of the index, one cache line holding both iterates' values), a graph with
unit weights is read without its weights, and the vector updates are fused into two passes.

Every result is the same to the last bit for any number of threads: rows are independent in the
product (the only kernel run on several threads), whose dot products are summed over fixed
blocks of :data:`BLOCK` rows and the partial sums added in block order, whatever thread computed
them; the vector updates and their sums run on one thread, in row order.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["BLOCK", "laplacian_apply", "block_cg", "weak_labels", "reciprocal_sums"]

#: rows per partial sum of a dot product (fixed, so the sums do not depend on the thread count)
BLOCK = 4096


@njit(parallel=True, cache=True)
def _apply(indptr, indices, data, t_indptr, t_indices, t_data, unit, degree, held, X, Y, dots):
    """``Y = L X`` with held rows copied (``Y[i] = X[i]``), and per block of rows the sums of ``X * Y``.

    Each row's edges (out of ``A``, then in from ``A^T``) are read once for every column of ``X``:
    ``X`` is row-major, so one fetch of ``X[j]`` brings every right-hand side's value.
    """
    n, k = X.shape
    for b in prange(dots.shape[0]):
        for c in range(k):
            dots[b, c] = 0.0
        acc = np.zeros(k)
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            if held[i]:
                for c in range(k):
                    Y[i, c] = X[i, c]
                    dots[b, c] += X[i, c] * X[i, c]
                continue
            acc[:] = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                w = 1.0 if unit else data[p]
                for c in range(k):
                    acc[c] += w * X[j, c]
            for p in range(t_indptr[i], t_indptr[i + 1]):
                j = t_indices[p]
                w = 1.0 if unit else t_data[p]
                for c in range(k):
                    acc[c] += w * X[j, c]
            for c in range(k):
                y = degree[i] * X[i, c] - 0.5 * acc[c]
                Y[i, c] = y
                dots[b, c] += X[i, c] * y


@njit(parallel=True, cache=True)
def _apply2_unit(indptr, indices, t_indptr, t_indices, degree, held, X, Y, dots):
    """:func:`_apply` for two right-hand sides of an unweighted graph: both sums in registers, no
    weights read (a quarter faster than the general kernel here)."""
    n = X.shape[0]
    for b in prange(dots.shape[0]):
        d0, d1 = 0.0, 0.0
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            x0, x1 = X[i, 0], X[i, 1]
            if held[i]:
                y0, y1 = x0, x1
            else:
                s0, s1 = 0.0, 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    j = indices[p]
                    s0 += X[j, 0]
                    s1 += X[j, 1]
                for p in range(t_indptr[i], t_indptr[i + 1]):
                    j = t_indices[p]
                    s0 += X[j, 0]
                    s1 += X[j, 1]
                y0 = degree[i] * x0 - 0.5 * s0
                y1 = degree[i] * x1 - 0.5 * s1
            Y[i, 0], Y[i, 1] = y0, y1
            d0 += x0 * y0
            d1 += x1 * y1
        dots[b, 0], dots[b, 1] = d0, d1


@njit(parallel=True, cache=True)
def _apply2_weighted(indptr, indices, data, t_indptr, t_indices, t_data, degree, held, X, Y, dots):
    """:func:`_apply` for two right-hand sides of a weighted graph, both sums in registers."""
    n = X.shape[0]
    for b in prange(dots.shape[0]):
        d0, d1 = 0.0, 0.0
        for i in range(b * BLOCK, min(n, (b + 1) * BLOCK)):
            x0, x1 = X[i, 0], X[i, 1]
            if held[i]:
                y0, y1 = x0, x1
            else:
                s0, s1 = 0.0, 0.0
                for p in range(indptr[i], indptr[i + 1]):
                    j, w = indices[p], data[p]
                    s0 += w * X[j, 0]
                    s1 += w * X[j, 1]
                for p in range(t_indptr[i], t_indptr[i + 1]):
                    j, w = t_indices[p], t_data[p]
                    s0 += w * X[j, 0]
                    s1 += w * X[j, 1]
                y0 = degree[i] * x0 - 0.5 * s0
                y1 = degree[i] * x1 - 0.5 * s1
            Y[i, 0], Y[i, 1] = y0, y1
            d0 += x0 * y0
            d1 += x1 * y1
        dots[b, 0], dots[b, 1] = d0, d1


def _apply_any(A_arrays, AT_arrays, unit, degree, held, X, Y, dots):
    """``Y = L X`` (held rows copied) and the block sums of ``X * Y``, by the fastest kernel for
    ``X``'s width and the weights; every kernel sums each row in the same order, so the bits agree."""
    (ip, ix, data), (tip, tix, tdata) = A_arrays, AT_arrays
    if X.shape[1] == 2 and unit:
        _apply2_unit(ip, ix, tip, tix, degree, held, X, Y, dots)
    elif X.shape[1] == 2:
        _apply2_weighted(ip, ix, data, tip, tix, tdata, degree, held, X, Y, dots)
    else:
        _apply(ip, ix, data, tip, tix, tdata, bool(unit), degree, held, X, Y, dots)


@njit(cache=True)
def _step(X, R, P, Q, inv_diag, alpha, Z, sums):
    """``X += alpha P``, ``R -= alpha Q``, ``Z = R / diag``; the sums of ``R * R`` and ``R * Z``
    (one thread: a pass over vectors, bound by memory, and its sums in a fixed order)."""
    n, k = X.shape
    sums[:] = 0.0
    for i in range(n):
        for c in range(k):
            a = alpha[c]
            X[i, c] += a * P[i, c]
            r = R[i, c] - a * Q[i, c]
            R[i, c] = r
            z = r * inv_diag[i]
            Z[i, c] = z
            sums[c] += r * r
            sums[k + c] += r * z


@njit(cache=True)
def _direction(P, Z, beta):
    n, k = P.shape
    for i in range(n):
        for c in range(k):
            P[i, c] = Z[i, c] + beta[c] * P[i, c]


@njit(cache=True)
def _column_dots(U, V):
    """Column sums of ``U * V``, in row order."""
    n, k = U.shape
    out = np.zeros(k)
    for i in range(n):
        for c in range(k):
            out[c] += U[i, c] * V[i, c]
    return out


def _dots(U: np.ndarray, V: np.ndarray) -> np.ndarray:
    return _column_dots(np.ascontiguousarray(U), np.ascontiguousarray(V))


def _csr_arrays(M) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(indptr, indices, data)`` of a CSR matrix as the kernels read them fastest: row pointers
    as int64, column indices as unsigned (numba checks every signed index for a negative value to
    wrap; a uint32 view of int32 indices skips that, 25% of a product here)."""
    indices = M.indices.view(np.uint32) if M.indices.dtype == np.int32 else M.indices.astype(np.uint64, copy=False)
    return M.indptr.astype(np.int64, copy=False), indices, M.data


def _ordered_sum(partial: np.ndarray) -> np.ndarray:
    """Column sums of the block partials, added in block order (a plain loop: no pairwise or SIMD reordering)."""
    total = np.zeros(partial.shape[1])
    for row in partial:
        total += row
    return total


def laplacian_apply(A, AT, degree: np.ndarray, X: np.ndarray, held: np.ndarray | None = None, unit: bool = False) -> np.ndarray:
    """``L X`` for ``L = diag(degree) - (A + A^T) / 2``, ``A`` and ``A^T`` as CSR matrices and ``X``
    of shape ``(n, k)``; rows in ``held`` (a boolean mask) are copied from ``X`` instead (the grounded
    system). ``unit=True`` treats every stored weight as 1 without reading it."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n = X.shape[0]
    held = np.zeros(n, dtype=np.bool_) if held is None else np.asarray(held, dtype=np.bool_)
    Y = np.empty_like(X)
    dots = np.empty(((n + BLOCK - 1) // BLOCK, X.shape[1]))
    _apply_any(_csr_arrays(A), _csr_arrays(AT), unit, degree, held, X, Y, dots)
    return Y


def block_cg(A, AT, degree: np.ndarray, held: np.ndarray, B: np.ndarray, rtol: float, maxiter: int, unit: bool = False):
    """Jacobi-preconditioned CG on the grounded system for every column of ``B`` at once.

    ``L`` is ``diag(degree) - (A + A^T) / 2`` with the rows and columns of the ``held`` nodes
    replaced by the identity's; ``B`` must be 0 on them (so every iterate is, and no product needs
    to mask its columns). Column ``c`` stops when ``||r_c|| <= rtol ||B_c||`` (scipy's ``cg``
    criterion), the others go on. Returns ``(X, iterations, converged)``: the iterations of the
    slowest column, and whether every column converged within ``maxiter``.
    """
    B = np.ascontiguousarray(B, dtype=np.float64)
    n, k = B.shape
    held = np.asarray(held, dtype=np.bool_)
    if np.any(B[held] != 0.0):
        raise ValueError("block_cg: the right-hand sides must be 0 on the held nodes")
    n_blocks = (n + BLOCK - 1) // BLOCK
    inv_diag = 1.0 / np.where(held, 1.0, degree)
    X = np.zeros_like(B)
    R = B.copy()
    Z = R * inv_diag[:, None]
    P = Z.copy()
    Q = np.empty_like(B)
    dots = np.empty((n_blocks, k))
    sums = np.empty(2 * k)
    target = rtol * np.sqrt(_dots(B, B))
    rz = _dots(R, Z)
    done = np.sqrt(_dots(R, R)) <= target
    alpha, beta = np.zeros(k), np.ones(k)
    iterations = 0
    A_arrays, AT_arrays = _csr_arrays(A), _csr_arrays(AT)
    while not done.all() and iterations < maxiter:
        _apply_any(A_arrays, AT_arrays, unit, degree, held, P, Q, dots)
        pq = _ordered_sum(dots)
        alpha[:] = 0.0
        live = ~done & (pq > 0)
        alpha[live] = rz[live] / pq[live]
        _step(X, R, P, Q, inv_diag, alpha, Z, sums)
        rr, rz_new = sums[:k].copy(), sums[k:].copy()
        iterations += 1
        done |= np.sqrt(rr) <= target
        done |= ~live  # p^T L p = 0: the direction vanished (the residual is 0 to rounding)
        beta[:] = 1.0
        going = ~done
        beta[going] = rz_new[going] / rz[going]
        rz = np.where(going, rz_new, rz)
        if going.any():
            _direction(P, Z, np.where(going, beta, 0.0))
    return X, iterations, bool((np.sqrt(_dots(R, R)) <= target).all())


@njit(cache=True)
def _find(parent, i):
    while parent[i] != i:
        parent[i] = parent[parent[i]]  # path halving
        i = parent[i]
    return i


@njit(cache=True)
def _weak_labels(indptr, indices, n):
    """Weakly connected components by union-find over the edges; labels numbered in the order of
    each component's lowest node, and each component's size."""
    parent = np.arange(n)
    for i in range(n):
        for p in range(indptr[i], indptr[i + 1]):
            a, b = _find(parent, i), _find(parent, indices[p])
            if a != b:
                if a < b:
                    parent[b] = a
                else:
                    parent[a] = b
    labels = np.empty(n, dtype=np.int64)
    sizes = np.zeros(n, dtype=np.int64)
    count = 0
    for i in range(n):
        root = _find(parent, i)
        if root == i:  # the root is the component's lowest node (unions keep the smaller root)
            labels[i] = count
            count += 1
        else:
            labels[i] = labels[root]
        sizes[labels[i]] += 1
    return labels, sizes[:count]


def weak_labels(A) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, sizes)``: each node's weakly connected component of the CSR matrix ``A`` (edges in
    either direction), numbered by the component's lowest node, and the components' sizes."""
    indptr, indices, _ = _csr_arrays(A)
    return _weak_labels(indptr, indices, A.shape[0])


@njit(parallel=True, cache=True)
def _reciprocal_sums(indptr, indices, data, t_indptr, t_indices, t_data, out):
    n = out.size
    for i in prange(n):
        p, q = indptr[i], t_indptr[i]
        p_end, q_end = indptr[i + 1], t_indptr[i + 1]
        s = 0.0
        while p < p_end and q < q_end:  # merge the sorted out- and in-neighbours of i
            j, k = indices[p], t_indices[q]
            if j == k:
                a, t = data[p], t_data[q]
                if a > t:
                    s += t
                elif a < t:
                    s -= a
                p += 1
                q += 1
            elif j < k:
                p += 1
            else:
                q += 1
        out[i] = s


def reciprocal_sums(A, AT) -> np.ndarray:
    """``sum_j min(A_ij, A_ji) sign(A_ij - A_ji)`` for every row ``i``: only reciprocated pairs count.
    ``A`` and ``A^T`` must be CSR with sorted indices."""
    out = np.empty(A.shape[0])
    _reciprocal_sums(*_csr_arrays(A), *_csr_arrays(AT), out)
    return out
