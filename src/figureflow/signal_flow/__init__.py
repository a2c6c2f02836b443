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

The package, a module per concern (this face re-exports their public names):
:mod:`~figureflow.signal_flow.system` (the checked adjacency, ``L`` and ``b`` in one pass, the
weak components), :mod:`~figureflow.signal_flow.solvers` (block CG with a node held per
component, the AMG fallback, residuals), :mod:`~figureflow.signal_flow.kernels` (their numba
kernels), :mod:`~figureflow.signal_flow.metrics` (trophic incoherence, the downhill fraction),
:mod:`~figureflow.signal_flow.flow` (:func:`signal_flow` and its tables),
:mod:`~figureflow.signal_flow.workflow` (the config section) and
:mod:`~figureflow.signal_flow.reference` (plain scipy references for tests and benchmarks).
"""

from __future__ import annotations

from figureflow.signal_flow.flow import COMPARABILITY_NOTE, NODE_COLUMNS, SignalFlowResult, nodes_frame, signal_flow, summary_frame
from figureflow.signal_flow.metrics import downhill_fraction, trophic_incoherence
from figureflow.signal_flow.solvers import ConvergenceError, _mean_zero, _solve_sparse, component_residual, dense_memory_gb, grounded_nodes
from figureflow.signal_flow.system import LaplacianSystem, assemble_system, check_adjacency, weak_components
from figureflow.signal_flow.workflow import check_config, signal_flow_graphs

__all__ = [
    "SignalFlowResult",
    "ConvergenceError",
    "check_adjacency",
    "LaplacianSystem",
    "assemble_system",
    "NODE_COLUMNS",
    "COMPARABILITY_NOTE",
    "weak_components",
    "grounded_nodes",
    "component_residual",
    "signal_flow",
    "trophic_incoherence",
    "downhill_fraction",
    "dense_memory_gb",
    "summary_frame",
    "nodes_frame",
    "signal_flow_graphs",
    "check_config",
    "_mean_zero",
    "_solve_sparse",
]
