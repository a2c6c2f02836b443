"""Signal flow: a height for every node of a directed graph, and how feedforward the graph is.

For a directed graph with non-negative weights ``A`` (``A[i, j]`` is the weight of ``i -> j``),
let ``W = (A + A^T) / 2``, ``D = diag(W 1)``, ``L = D - W`` and
``b_i = sum_j W_ij sign(A_ij - A_ji)``. The signal flow ``z`` (Varshney et al. 2011, after
Carmel, Harel & Koren 2004) minimizes ``sum_ij W_ij (z_i - z_j - sign(A_ij - A_ji))^2``, i.e.
solves ``L z = b``: a node sits one unit above the nodes it feeds. Sources are high.

``L`` is singular: every weakly connected component adds a constant to its null space, and ``b``
sums to zero on each component, so the system is consistent and ``z`` is fixed up to one constant
per component. figureflow makes ``z`` mean-zero within each component (values in different
components are not comparable) and gives isolated nodes ``z = NaN``. Self-loops cancel out of
both ``L`` and ``b`` and are dropped.

The graph-level answer to "how much is this graph a feedforward pathway?" is the trophic
incoherence ``F_0`` of MacKay, Johnson & Sansom (2020): trophic levels ``h`` minimize
``F(h) = sum_ij A_ij (h_j - h_i - 1)^2 / sum_ij A_ij``, which means solving
``(diag(w_in + w_out) - A - A^T) h = w_in - w_out``, i.e. ``L h = (w_in - w_out) / 2`` with the
same ``L``. ``F_0 = min F`` is 0 for a perfectly layered graph and grows towards 1 as the graph
loses direction.

Two solvers give the same ``z``:

* ``"pinv"``: the dense reference ``z = pinv(L) b`` (O(n^3) time, O(n^2) memory);
* ``"sparse"``: conjugate gradients on the sparse system, made positive definite by holding one
  node per component at 0 (exact, since each component's equations sum to zero), with a Jacobi preconditioner,
  switching to an algebraic multigrid preconditioner (pyamg) when Jacobi converges slowly, as on
  mesh-like graphs; the relative residual ``||b_c - L_c z_c|| / ||b_c||`` of every component
  ``c`` is driven below ``tol`` or an error is raised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg
from threadpoolctl import threadpool_limits

from figureflow.io import InputError, RunError, carry_columns, describe

__all__ = [
    "SignalFlowResult",
    "ConvergenceError",
    "check_adjacency",
    "LaplacianSystem",
    "assemble_system",
    "NODE_COLUMNS",
    "weak_components",
    "grounded_nodes",
    "signal_flow",
    "trophic_incoherence",
    "downhill_fraction",
    "dense_memory_gb",
    "summary_frame",
    "nodes_frame",
    "signal_flow_graphs",
    "check_config",
]

COMPARABILITY_NOTE = "z is mean-zero within each weakly connected component; values in different components are not comparable"


class ConvergenceError(RunError):
    """The sparse solver did not reach the requested residual; no approximate answer is returned."""


@dataclass
class SignalFlowResult:
    """Signal flow of one graph.

    Attributes
    ----------
    z : (n,) float array, mean-zero per weakly connected component, NaN for isolated nodes
    component : (n,) int array, component index (0 = largest), -1 for isolated nodes
    trophic_levels : (n,) float array, MacKay et al.'s ``h`` (mean-zero per component, NaN isolated)
    trophic_incoherence : float, ``F_0`` in [0, 1]
    downhill_fraction : float, fraction of edge weight from a higher to a strictly lower z
    solver : ``"pinv"`` or ``"sparse"``
    method : what solved it (``"pinv"``, ``"cg+jacobi"``, ``"cg+amg"``)
    iterations : CG iterations (0 for pinv)
    residual : largest relative residual over components
    seconds : wall time of the whole call (checks, assembly, solve, graph measures)
    n_edges : directed edges with non-zero weight, self-loops excluded
    n_self_loops : self-loops in the input, which signal flow ignores (they cancel out of L and b)
    """

    z: np.ndarray
    component: np.ndarray
    trophic_levels: np.ndarray
    trophic_incoherence: float
    downhill_fraction: float
    solver: str
    method: str
    iterations: int
    residual: float
    seconds: float
    n_edges: int
    n_self_loops: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.z.size)

    @property
    def n_components(self) -> int:
        """Weakly connected components with at least two nodes."""
        return int(self.component.max() + 1) if self.component.size else 0

    @property
    def n_isolated(self) -> int:
        return int(np.sum(self.component < 0))


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


def _component_residual(matvec, x, rhs, comp, n_comp):
    r = rhs - matvec(x)
    r2 = np.bincount(comp, weights=r * r, minlength=n_comp)
    b2 = np.bincount(comp, weights=rhs * rhs, minlength=n_comp)
    rel = np.where(b2 > 0, np.sqrt(r2) / np.sqrt(np.where(b2 > 0, b2, 1.0)), np.sqrt(r2))
    return float(rel.max()) if rel.size else 0.0


def _mean_zero(x, comp, n_comp):
    sizes = np.bincount(comp, minlength=n_comp)
    means = np.bincount(comp, weights=x, minlength=n_comp) / np.maximum(sizes, 1)
    return x - means[comp]


def _pcg(L, rhs, M, tol, maxiter):
    """CG with preconditioner ``M``; returns (x, iterations, converged)."""
    count = [0]

    def step(_):
        count[0] += 1

    x, info = cg(L, rhs, rtol=tol, atol=0.0, maxiter=maxiter, M=M, callback=step)
    return x, count[0], info == 0


def _amg_preconditioner(L):
    import pyamg

    ml = pyamg.smoothed_aggregation_solver(L, B=np.ones((L.shape[0], 1)), symmetry="symmetric", max_coarse=500)
    return ml.aspreconditioner(cycle="V")


def grounded_nodes(degree: np.ndarray, comp: np.ndarray, n_comp: int) -> np.ndarray:
    """One node per component to hold fixed: its highest-degree node (lowest index on ties)."""
    degree = np.asarray(degree)
    order = np.lexsort((np.arange(degree.size), -degree, comp))
    first = np.ones(order.size, dtype=bool)
    first[1:] = comp[order[1:]] != comp[order[:-1]]
    return order[first]


def _grounded_matrix(L: sp.csr_matrix, keep: np.ndarray) -> sp.csr_matrix:
    """``L`` with the rows and columns of nodes not in ``keep`` replaced by the identity's (same structure)."""
    rows = _row_of_entries(L)
    data = L.data * (keep[rows] & keep[L.indices])
    data[(rows == L.indices) & ~keep[rows]] = 1.0
    return sp.csr_matrix((data, L.indices, L.indptr), shape=L.shape)


def _solve_sparse(system: LaplacianSystem, rhss, comp, n_comp, tol, cg_maxiter, amg_maxiter, log, n_threads=None):
    """Solve the consistent singular systems ``L x = rhs``; returns (solutions, method, iterations, residual).

    Each component's null space is removed by grounding: one node per component is held at 0 (its
    row and column replaced by the identity's) and the resulting symmetric positive definite
    system is solved. Because every component's equations sum to zero, the dropped equations
    hold as well, so this is exact.

    All right-hand sides are solved together by Jacobi-preconditioned CG in numba
    (:func:`figureflow.signal_flow.kernels.block_cg`: one pass over the edges per step serves every
    right-hand side; the same bits on any number of threads), refined on the true residual until
    every component's relative residual is below ``tol``. ``iterations`` counts CG steps (each
    advances every right-hand side). If Jacobi-CG does not converge in ``cg_maxiter`` steps, as on
    mesh-like graphs, the solve switches to scipy's CG with an algebraic multigrid preconditioner
    (pyamg), one right-hand side at a time.
    """
    from figureflow.signal_flow.kernels import block_cg, laplacian_apply
    from figureflow.threads import numba_threads

    n = system.degree.size
    keep = np.ones(n, dtype=bool)
    keep[grounded_nodes(system.degree, comp, n_comp)] = False
    held = ~keep
    unit = bool(np.all(system.A.data == 1.0))  # an unweighted graph: its weights need not be read
    A, AT, degree = system.A, system.AT, system.degree
    solutions = [np.zeros_like(rhs) for rhs in rhss]
    live = [i for i, rhs in enumerate(rhss) if np.any(rhs)]
    if not live:
        return solutions, "cg+jacobi", 0, 0.0
    B = np.stack([rhss[i] for i in live], axis=1)
    B_r = B * keep[:, None]
    inner_tol = tol / 10.0
    total_iterations, residual = 0, np.inf
    with numba_threads(n_threads):
        X = np.zeros_like(B_r)
        for _ in range(4):  # iterative refinement: inner solves on the current residual
            R = B_r - laplacian_apply(A, AT, degree, X, held, unit)
            dX, its, converged = block_cg(A, AT, degree, held, R, inner_tol, cg_maxiter, unit)
            total_iterations += its
            if not converged:
                break
            X = (X + dX) * keep[:, None]  # grounded entries are 0 by construction; make it exact
            residual = max(
                _component_residual_values(B[:, c] - laplacian_apply(A, AT, degree, X[:, c : c + 1], None, unit)[:, 0], B[:, c], comp, n_comp)
                for c in range(B.shape[1])
            )
            if residual <= tol:
                break
    if residual <= tol:
        for c, i in enumerate(live):
            solutions[i] = X[:, c].copy()
        return solutions, "cg+jacobi", total_iterations, float(residual)
    if converged:
        raise ConvergenceError(
            f"the sparse solver reached a relative residual of {residual:.3g} (> tol = {tol:g}) after "
            f"{total_iterations} iterations (cg+jacobi); no approximate answer is returned. "
            "Try solver='pinv' for a small graph, or a looser tolerance."
        )
    if log:
        log.info("Jacobi-preconditioned CG did not converge in %d iterations; switching to algebraic multigrid", its)
    amg_solutions, iterations, worst = _solve_amg(system, [rhss[i] for i in live], keep, comp, n_comp, tol, amg_maxiter)
    for i, x in zip(live, amg_solutions):
        solutions[i] = x
    return solutions, "cg+amg", total_iterations + iterations, worst


def _component_residual_values(r, rhs, comp, n_comp):
    """The largest relative residual ``||r_c|| / ||rhs_c||`` over components (absolute where ``rhs_c = 0``)."""
    r2 = np.bincount(comp, weights=r * r, minlength=n_comp)
    b2 = np.bincount(comp, weights=rhs * rhs, minlength=n_comp)
    rel = np.where(b2 > 0, np.sqrt(r2) / np.sqrt(np.where(b2 > 0, b2, 1.0)), np.sqrt(r2))
    return float(rel.max()) if rel.size else 0.0


def _solve_amg(system: LaplacianSystem, rhss, keep, comp, n_comp, tol, amg_maxiter):
    """The multigrid fallback of :func:`_solve_sparse`: scipy's CG with a smoothed-aggregation
    preconditioner on the grounded ``L`` (built as a matrix), one right-hand side at a time, refined
    on the true residual."""
    Lr = _grounded_matrix(system.matrix(), keep)
    amg = _amg_preconditioner(Lr)
    inner_tol = tol / 10.0
    solutions, total_iterations, worst = [], 0, 0.0
    for rhs in rhss:
        rhs_r = rhs * keep
        xr = np.zeros_like(rhs_r)
        residual = np.inf
        for _ in range(4):
            dx, its, _converged = _pcg(Lr, rhs_r - Lr @ xr, amg, inner_tol, amg_maxiter)
            total_iterations += its
            xr = (xr + dx) * keep
            residual = _component_residual(system.matvec, xr, rhs, comp, n_comp)
            if residual <= tol:
                break
        if residual > tol:
            raise ConvergenceError(
                f"the sparse solver reached a relative residual of {residual:.3g} (> tol = {tol:g}) after "
                f"{total_iterations} iterations (cg+amg); no approximate answer is returned. "
                "Try solver='pinv' for a small graph, or a looser tolerance."
            )
        worst = max(worst, residual)
        solutions.append(xr)
    return solutions, total_iterations, worst


def dense_memory_gb(n: int) -> float:
    """Approximate memory of the dense pinv solve on ``n`` nodes: five n x n float64 arrays."""
    return 5 * 8 * float(n) ** 2 / 1e9


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


def signal_flow(
    adjacency,
    solver: str = "auto",
    tol: float = 1e-10,
    max_dense_nodes: int = 10_000,
    auto_dense_nodes: int = 2_000,
    cg_maxiter: int = 500,
    amg_maxiter: int = 500,
    name: str = "graph",
    log=None,
    n_threads: int | None = None,
) -> SignalFlowResult:
    """Signal flow ``z`` of every node, trophic incoherence and downhill fraction of the graph.

    Parameters
    ----------
    adjacency
        ``(n, n)`` dense array or scipy sparse matrix of non-negative edge weights,
        ``adjacency[i, j]`` for the edge ``i -> j``. Self-loops are ignored.
    solver
        ``"pinv"`` (dense reference), ``"sparse"``, or ``"auto"``: pinv up to
        ``auto_dense_nodes`` nodes, sparse above.
    tol
        Largest relative residual ``||b_c - L_c z_c|| / ||b_c||`` allowed on any component
        (sparse solver).
    max_dense_nodes
        pinv refuses graphs larger than this (it needs :func:`dense_memory_gb` of memory).
    cg_maxiter, amg_maxiter
        Iterations of Jacobi-preconditioned CG before switching to multigrid, and of
        multigrid-preconditioned CG before giving up (per refinement pass).
    name
        Names the graph in error messages.
    log
        Optional ``logging.Logger`` for progress.
    n_threads
        Threads of the sparse solve (numba; ``None``: numba's current setting). ``z`` is the same
        to the last bit for any count.

    Returns
    -------
    SignalFlowResult

    Raises
    ------
    InputError
        On a non-square, empty, non-numeric matrix or NaN, infinite or negative weights; on an
        unknown solver; when pinv is asked for more than ``max_dense_nodes`` nodes.
    ConvergenceError
        When the sparse solver does not reach ``tol``.
    """
    if solver not in ("auto", "pinv", "sparse"):
        raise InputError(f"{name}: solver must be 'auto', 'pinv' or 'sparse', found {solver!r}")
    start = time.perf_counter()
    A, n_self_loops = _checked_adjacency(adjacency, name)
    n = A.shape[0]
    if solver == "auto":
        solver = "pinv" if n <= auto_dense_nodes else "sparse"
    if solver == "pinv" and n > max_dense_nodes:
        raise InputError(
            f"{name}: solver 'pinv' on {n:,} nodes needs about {dense_memory_gb(n):.1f} GB of memory and O(n^3) time "
            f"(limit max_dense_nodes = {max_dense_nodes:,}); use solver 'sparse', or raise max_dense_nodes"
        )
    component = weak_components(A)
    system = assemble_system(A)
    active = np.flatnonzero(component >= 0)
    comp = component[active]
    n_comp = int(comp.max() + 1) if comp.size else 0
    z = np.full(n, np.nan)
    h = np.full(n, np.nan)
    iterations, residual = 0, 0.0
    if active.size:
        sub = system if active.size == n else system.restrict(active)
        if solver == "pinv":
            method = "pinv"
            P = np.linalg.pinv(sub.matrix().toarray())
            za, ha = P @ sub.b, P @ sub.trophic_rhs
            residual = max(
                _component_residual(sub.matvec, za, sub.b, comp, n_comp),
                _component_residual(sub.matvec, ha, sub.trophic_rhs, comp, n_comp),
            )
        else:
            # single-threaded BLAS: the iterates, hence z, do not depend on the thread count
            with threadpool_limits(limits=1):
                (za, ha), method, iterations, residual = _solve_sparse(
                    sub, [sub.b, sub.trophic_rhs], comp, n_comp, tol, cg_maxiter, amg_maxiter, log, n_threads
                )
        z[active] = _mean_zero(za, comp, n_comp)
        h[active] = _mean_zero(ha, comp, n_comp)
    else:
        method = solver
    result = SignalFlowResult(
        z=z,
        component=component,
        trophic_levels=h,
        trophic_incoherence=trophic_incoherence(A, np.nan_to_num(h)),
        downhill_fraction=downhill_fraction(A, np.nan_to_num(z)),
        solver=solver,
        method=method,
        iterations=int(iterations),
        residual=float(residual),
        seconds=0.0,
        n_edges=int(A.nnz),
        n_self_loops=n_self_loops,
    )
    result.seconds = float(time.perf_counter() - start)
    return result


def summary_frame(result: SignalFlowResult) -> pd.DataFrame:
    """One-row table: ``n_nodes, n_edges, n_components, solver, iterations, residual, seconds,
    trophic_incoherence, downhill_fraction``, then ``n_isolated, n_self_loops, method, note``.

    ``n_edges`` leaves self-loops out, as the graph's ``groups.tsv`` does; ``n_self_loops`` counts them."""
    note = COMPARABILITY_NOTE if result.n_components > 1 else ""
    return pd.DataFrame(
        [
            {
                "n_nodes": result.n_nodes,
                "n_edges": result.n_edges,
                "n_components": result.n_components,
                "solver": result.solver,
                "iterations": result.iterations,
                "residual": result.residual,
                "seconds": round(result.seconds, 3),
                "trophic_incoherence": result.trophic_incoherence,
                "downhill_fraction": result.downhill_fraction,
                "n_isolated": result.n_isolated,
                "n_self_loops": result.n_self_loops,
                "method": result.method,
                "note": note,
            }
        ]
    )


#: the per-node columns signal flow computes: a node table may not carry columns of these names
NODE_COLUMNS = ("z", "component")


def nodes_frame(result: SignalFlowResult, nodes: pd.DataFrame) -> pd.DataFrame:
    """Per-node table: ``node, z, component`` (-1 marks isolated nodes, whose z is empty), then
    the node table's other columns (:func:`figureflow.io.carry_columns`: never one named like a
    computed column)."""
    if len(nodes) != result.n_nodes:
        raise ValueError(f"node table has {len(nodes)} rows for {result.n_nodes} nodes")
    computed = pd.DataFrame({"node": nodes["node"].to_numpy(), "z": result.z, "component": result.component})
    return carry_columns(computed, nodes)


def signal_flow_graphs(config) -> list[str]:
    """Graphs the signal-flow analysis runs on (``signal_flow.graphs``, or every graph)."""
    chosen = config.get("signal_flow", {}).get("graphs")
    return list(config.get("graphs", {})) if chosen is None else list(chosen)


def check_config(config) -> None:
    """The ``signal_flow`` section: ``signal_flow.graphs`` names graphs of the ``graphs`` section.

    Raises
    ------
    InputError
        Naming the unknown graphs and the known ones.
    """
    graphs = config.get("graphs", {})
    unknown = [g for g in signal_flow_graphs(config) if g not in graphs]
    if unknown:
        raise InputError(
            f"config key signal_flow.graphs names {describe(unknown)}, which are not in graphs; "
            f"graphs are {describe(list(graphs))}"
        )
