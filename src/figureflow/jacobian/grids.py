"""What the Jacobian figures draw, computed once: ``D`` and ``x`` over a regular latent grid."""


from __future__ import annotations

import numpy as np

from figureflow.jacobian.maps import LatentMap
from figureflow.jacobian.volume import require_finite, volume_elements

__all__ = ["latent_grid", "figure_grids"]


def latent_grid(latent: LatentMap, size: int = 121, extent: float = 3.0, n_threads: int | None = None):
    """``D`` and ``x`` over a regular grid of the first one or two latent coordinates (others 0).

    Returns
    -------
    axis : (size,) grid coordinates in ``[-extent, extent]``
    values : ``D`` on the grid, ``(size,)`` for ``d = 1`` else ``(size, size)`` (rows: z2)
    points : ``x`` on the grid, ``(size, D)`` or ``(size, size, D)``
    """
    axis = np.linspace(-extent, extent, size)
    if latent.d == 1:
        Z = axis[:, None]
    else:
        z1, z2 = np.meshgrid(axis, axis)
        Z = np.zeros((size * size, latent.d))
        Z[:, 0], Z[:, 1] = z1.ravel(), z2.ravel()
    values = require_finite(latent, Z, volume_elements(latent, Z, n_threads=n_threads), f"the {size}-point latent grid")
    if latent.torch_fn is not None:
        import torch

        if hasattr(latent.torch_fn, "batch"):  # maps a whole batch at once (an ODE solve)
            points = latent.torch_fn.batch(Z)
        else:
            with torch.no_grad():
                points = torch.stack([latent.torch_fn(z) for z in torch.as_tensor(Z, dtype=torch.float64)]).numpy()
    else:
        points = np.empty((len(Z), latent.D))
        for s in range(len(Z)):
            latent.f(Z[s], latent.params, points[s])
    shape = (size,) if latent.d == 1 else (size, size)
    return axis, values.reshape(shape), points.reshape(shape + (latent.D,))


def figure_grids(
    latent: LatentMap,
    grid_size: int,
    extent: float,
    image_grid_size: int = 61,
    image_curve_size: int = 241,
    n_threads: int | None = None,
) -> dict[str, np.ndarray]:
    """What the Jacobian figures draw, computed once (:func:`latent_grid`), as named arrays.

    * ``latent_dim``: ``d`` (a 0-d array);
    * ``axis``, ``volume``: the ``grid_size``-point grid over ``[-extent, extent]`` and ``D`` on it;
    * for a map into 3-D data space (its image can be drawn): ``image_axis``, ``image_volume``
      and ``image_points``, a grid of ``image_grid_size`` points per axis (a surface) or, for
      ``d = 1``, of ``image_curve_size`` points (a curve), ``D`` on it and its image ``x(z)``.
    """
    axis, volume, _ = latent_grid(latent, grid_size, extent, n_threads)
    arrays = {"latent_dim": np.array(latent.d), "axis": axis, "volume": volume}
    if latent.D == 3:
        size = image_curve_size if latent.d == 1 else image_grid_size
        image_axis, image_volume, points = latent_grid(latent, size, extent, n_threads)
        arrays.update(image_axis=image_axis, image_volume=image_volume, image_points=points)
    return arrays
