"""The data layer: simulation with known ground truth, ingestion of users' files, preprocessing.

* :mod:`figureflow.data.scrna` simulates single-cell counts with planted aging shifts;
* :mod:`figureflow.data.sbm` simulates directed stochastic block models in O(edges);
* :mod:`figureflow.data.ingest` reads and validates users' h5ad files and edge lists;
* :mod:`figureflow.data.preprocess` runs scanpy's standard preprocessing.
"""
