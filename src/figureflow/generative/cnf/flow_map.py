"""A trained flow as a Jacobian map: ``FlowMap`` carries ``z(0)`` to ``x(1)`` and, by the variational equations, ``log |det J|``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from figureflow.generative.cnf.field import VectorField
from figureflow.generative.cnf.ode import _Dynamics, integrate, log_density, solver_options, standard_normal_log_density
from figureflow.io import RunError

__all__ = ["FLOW_BLOCK", "LIOUVILLE_FACTOR", "FlowMap", "flow_jacobians"]


class _Variational(nn.Module):
    """The flow with its variational equations: ``d/dt (z, V) = (f(z, t), (df/dz) V)``.

    ``V (D, B, D)`` holds, for every row, the ``D`` columns of ``dz(t)/dz(0)`` as tangents
    (``V[k, b]`` is column ``k`` of row ``b``'s Jacobian, the unit vector ``e_k`` at ``t = 0``);
    :meth:`VectorField.jvp` carries them through the MLP beside the field in one pass."""

    def __init__(self, field: VectorField):
        super().__init__()
        self.field, self.nfe = field, 0

    def forward(self, t, state):
        self.nfe += 1
        return self.field.jvp(t, state[0], state[1])


#: rows of one batched solve of :meth:`FlowMap.jacobians` (whatever the sample count, so that a
#: row's value, which depends on the steps its block took, is the same for any ``n``)
FLOW_BLOCK = 4096

#: :meth:`FlowMap.check` accepts ``|log N(z) - log|det J(z)| - log p(x(z))|`` up to this many
#: times the solve's tolerance, ``max(rtol, atol)``, in nats (1e-3 at the evaluation default 1e-6)
LIOUVILLE_FACTOR = 1000.0


class FlowMap:
    """A trained flow's sampler ``z(0) -> x(1)`` as a Jacobian map (``d = D``), float64.

    Called on one latent point ``(D,)`` it returns ``x(1)``; :meth:`batch` maps rows of a numpy
    array; :meth:`volume_elements` gives ``|det J(z)|`` from the variational equations
    (:meth:`jacobians`), integrated in the same adaptive solve as the flow: the Jacobian of the
    flow itself, to the solver's tolerance, which :meth:`check` compares with the flow's own
    density (the integrated trace).

    (Reverse mode through the solve, the earlier path, gives the exact derivative of the discrete
    solve, whose steps are chosen for ``x`` alone; a flow whose Jacobian varies faster than its
    values needs finer steps for ``J``. On the demo's two-moons flow at ``rtol = 1e-6`` that path's
    ``|det J|`` was up to 1% off a finite difference of a solve at ``1e-11``; here the error control
    covers ``J`` too, and the error is about 4e-4. ``benchmarks/cnf_jacobian.py`` measures both.)
    """

    def __init__(self, field: VectorField, options: Mapping):
        self.field = copy.deepcopy(field).double().eval()
        for p in self.field.parameters():
            p.requires_grad_(False)
        self.solver = solver_options(options, evaluation=True)
        self.evaluations = 0  # field evaluations of the variational solves so far (each carries D tangents)

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        return self._push(z[None, :])[0]

    def _push(self, Z: torch.Tensor) -> torch.Tensor:
        return integrate(_Dynamics(self.field, with_trace=False), Z, torch.tensor([0.0, 1.0], dtype=Z.dtype), self.solver)[-1]

    def batch(self, Z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self._push(torch.as_tensor(np.asarray(Z, dtype=np.float64))).numpy()

    def jacobians(self, Z: np.ndarray, block: int = FLOW_BLOCK) -> tuple[np.ndarray, np.ndarray]:
        """``x(1)`` ``(n, D)`` and ``dx(1)/dz(0)`` ``(n, D, D)`` at the rows of ``Z``.

        Each block of ``block`` rows is one adaptive solve of the flow and its variational
        equations together (forward-mode tangents, no graph kept), so memory holds one block's
        states whatever ``n`` is."""
        Z = np.asarray(Z, dtype=np.float64)
        n, D = Z.shape
        X, J = np.empty((n, D)), np.empty((n, D, D))
        times = torch.tensor([0.0, 1.0], dtype=torch.float64)
        with torch.no_grad():
            for start in range(0, n, block):
                z = torch.as_tensor(Z[start : start + block])
                V = torch.eye(D, dtype=z.dtype)[:, None, :].expand(D, z.shape[0], D).contiguous()
                dynamics = _Variational(self.field)
                x, V1 = integrate(dynamics, (z, V), times, self.solver)
                self.evaluations += dynamics.nfe
                X[start : start + block] = x[-1].numpy()
                J[start : start + block] = V1[-1].permute(1, 2, 0).numpy()  # J[b, i, k] = V[k, b, i]
        return X, J

    def volume_elements(self, Z: np.ndarray, block: int = FLOW_BLOCK) -> np.ndarray:
        """``|det J(z)|`` per row of ``Z`` (:meth:`jacobians`, block by block)."""
        Z = np.asarray(Z, dtype=np.float64)
        out = np.empty(len(Z))
        for start in range(0, len(Z), block):
            out[start : start + block] = np.abs(np.linalg.det(self.jacobians(Z[start : start + block], block)[1]))
        return out

    def liouville_gap(self, Z: np.ndarray) -> np.ndarray:
        """Per row of ``Z``: ``log N(z) - log|det J(z)| - log p(x(z))`` in nats, where ``log p``
        is the flow's density at ``x(z)`` from the trace integrated backwards (:func:`log_density`,
        exact trace). Zero for the exact flow (Liouville's formula: ``log|det J|`` is the
        integrated trace); what is left is the two solves' error."""
        X, J = self.jacobians(Z)
        with torch.no_grad():
            logp, _ = log_density(self.field, torch.as_tensor(X), self.solver)
        log_normal = standard_normal_log_density(torch.as_tensor(np.asarray(Z, dtype=np.float64))).numpy()
        return log_normal - np.log(np.abs(np.linalg.det(J))) - logp.numpy()

    def check(self, Z: np.ndarray, name: str = "flow") -> float:
        """The largest :meth:`liouville_gap` over ``Z``.

        Raises
        ------
        RunError
            If it exceeds :data:`LIOUVILLE_FACTOR` times the solve's tolerance, naming the map, the
            point, the gap and the solver settings to tighten.
        """
        gap = self.liouville_gap(Z)
        worst = int(np.argmax(np.abs(gap)))
        tolerance = LIOUVILLE_FACTOR * max(float(self.solver["rtol"]), float(self.solver["atol"]))
        if not np.abs(gap[worst]) <= tolerance:
            raise RunError(
                f"CNF map {name}: at z = {np.round(np.asarray(Z)[worst], 4).tolist()} log|det J| from the variational equations and the "
                f"integrated trace differ by {gap[worst]:.3g} nats (tolerance {tolerance:g}); the {self.solver['solver']} solve "
                f"(rtol {self.solver['rtol']:g}, atol {self.solver['atol']:g}) does not follow this flow: tighten the run's nll_rtol and nll_atol"
            )
        return float(np.abs(gap[worst]))


def flow_jacobians(flow: FlowMap, Z: np.ndarray, block: int = FLOW_BLOCK) -> np.ndarray:
    """``dx(1)/dz(0)`` ``(n, D, D)`` at the rows of ``Z`` (:meth:`FlowMap.jacobians`)."""
    return flow.jacobians(Z, block)[1]
