"""figureflow: from a blog-post analysis to a figure in a paper.

One module (or subpackage) per method, pure functions over arrays and AnnData:
:mod:`figureflow.data` (simulation, ingestion, preprocessing), :mod:`figureflow.signal_flow`,
:mod:`figureflow.jacobian` (the Jacobian measure sampler), each with its figures in
:mod:`figureflow.plotting`. Shared by all: :mod:`figureflow.seeding` (every random stream),
:mod:`figureflow.io` (input checks, atomic writes), :mod:`figureflow.runtime` (what a job runs
inside), :mod:`figureflow.threads` (numba's threads), :mod:`figureflow.config` (the config
contract) and :mod:`figureflow.maps` (every map from latent to data space, by its spec).
"""

__version__ = "0.1.0"
