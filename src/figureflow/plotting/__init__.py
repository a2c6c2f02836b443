"""figureflow's figures: one module per method over one house style.

* :mod:`figureflow.plotting.style`: the house style (fonts, sizes, colours), the decorator that
  draws a plot function in it, the helper that finishes a figure, and saving as PNG and PDF;
* :mod:`figureflow.plotting.data`: embeddings of single-cell data, adjacency heatmaps of graphs;
* :mod:`figureflow.plotting.signal_flow`: signal flow per node group and per block;
* :mod:`figureflow.plotting.jacobian`: the Jacobian measure's error curves and grids.

A plot function takes arrays or tables (what a compute rule wrote) and returns a
:class:`matplotlib.figure.Figure`; :func:`figureflow.plotting.style.save_figure` writes it. No
plotting module imports torch, POT or numba, so a figure redraws in seconds without rebuilding a
model. This file imports nothing, so that importing one method's figures loads only those.
"""
