"""The signal-flow method end to end: :func:`signal_flow` (dense reference or sparse solve) and its tables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from figureflow.io import InputError, carry_columns
from figureflow.signal_flow.metrics import downhill_fraction, trophic_incoherence
from figureflow.signal_flow.solvers import _mean_zero, _solve_sparse, component_residual, dense_memory_gb
from figureflow.signal_flow.system import _checked_adjacency, assemble_system, weak_components

__all__ = ["COMPARABILITY_NOTE", "SignalFlowResult", "signal_flow", "summary_frame", "NODE_COLUMNS", "nodes_frame"]


COMPARABILITY_NOTE = "z is mean-zero within each weakly connected component; values in different components are not comparable"



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
                component_residual(sub.b - sub.matvec(za), sub.b, comp, n_comp),
                component_residual(sub.trophic_rhs - sub.matvec(ha), sub.trophic_rhs, comp, n_comp),
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
