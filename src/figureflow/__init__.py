"""figureflow: from a blog-post analysis to a figure in a paper.

One module (or subpackage) per method, pure functions over arrays and AnnData:
:mod:`figureflow.seeding` (every random stream), :mod:`figureflow.io` (input checks, tables),
:mod:`figureflow.config` (the config contract), :mod:`figureflow.data` (simulation, ingestion,
preprocessing), :mod:`figureflow.plotting` (every figure).
"""

__version__ = "0.1.0"
