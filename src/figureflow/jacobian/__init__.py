"""The Jacobian measure sampler: how much a map from latent space to data space stretches volume.

:mod:`figureflow.jacobian.maps` holds the maps (built-in ones with known answers, and users'
maps by dotted path); :mod:`figureflow.jacobian.measure` computes exact Jacobians, the volume
element ``sqrt(det(J^T J))`` and Monte Carlo and randomized quasi-Monte Carlo estimates of its
expectation; :mod:`figureflow.jacobian.torch_maps` does the same for torch models (a trained
decoder) through ``torch.func``.
"""
