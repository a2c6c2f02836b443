"""Solving ``L z = b`` (and ``L h`` for trophic levels) on every component: block conjugate gradients with one node held per component, the algebraic multigrid fallback, their residuals.
"""

from __future__ import annotations


import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import cg

from figureflow.io import RunError
from figureflow.signal_flow.system import LaplacianSystem, _row_of_entries

__all__ = ["component_residual", "ConvergenceError", "grounded_nodes", "dense_memory_gb"]


def component_residual(r: np.ndarray, rhs: np.ndarray, comp: np.ndarray, n_comp: int) -> float:
    """The largest relative residual ``||r_c|| / ||rhs_c||`` over components ``c`` (absolute where
    ``rhs_c = 0``), for a residual vector ``r = rhs - L x``."""
    r2 = np.bincount(comp, weights=r * r, minlength=n_comp)
    b2 = np.bincount(comp, weights=rhs * rhs, minlength=n_comp)
    rel = np.where(b2 > 0, np.sqrt(r2) / np.sqrt(np.where(b2 > 0, b2, 1.0)), np.sqrt(r2))
    return float(rel.max()) if rel.size else 0.0


class ConvergenceError(RunError):
    """The sparse solver did not reach the requested residual; no approximate answer is returned."""



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
                component_residual(B[:, c] - laplacian_apply(A, AT, degree, X[:, c : c + 1], None, unit)[:, 0], B[:, c], comp, n_comp)
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
            residual = component_residual(rhs - system.matvec(xr), rhs, comp, n_comp)
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
