"""The Jacobian measure sampler: how much a map from latent space to data space stretches volume.

:mod:`figureflow.jacobian.maps` makes the numba maps (built-in ones with known answers, and
users' maps by dotted path) and checks them; :mod:`figureflow.jacobian.torch_maps` does the same
for torch models (a trained decoder) through ``torch.func``; :mod:`figureflow.jacobian.measure`
computes exact Jacobians, the volume element ``sqrt(det(J^T J))``, Monte Carlo and randomized
quasi-Monte Carlo estimates of its expectation, and the grids the figures draw;
:mod:`figureflow.jacobian.normal` draws the normal samples. A config spec is turned into a map
by :mod:`figureflow.maps`, above this package.
"""
