"""Standard scanpy preprocessing of a counts AnnData, and a per-group QC table."""

from __future__ import annotations

import logging
import time

import anndata as ad
import numpy as np
import pandas as pd
import scanpy as sc
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

__all__ = ["preprocess", "qc_table", "NeighbourGraph", "EXACT_NEIGHBOURS_BELOW"]

#: scanpy finds exact neighbours (brute force) below this many cells, approximate ones (PyNNDescent) above
EXACT_NEIGHBOURS_BELOW = 8192


class NeighbourGraph(TransformerMixin, BaseEstimator):
    """The approximate k-nearest-neighbour graph that scanpy builds for large data, as a CSR matrix.

    Above :data:`EXACT_NEIGHBOURS_BELOW` cells ``sc.pp.neighbors`` uses PyNNDescent with UMAP's
    settings (``n_trees = min(64, 5 + round(sqrt(n) / 20))``, ``n_iters = max(5, round(log2 n))``).
    PyNNDescent returns a ``scipy.sparse.csr_array``, and scanpy 1.11.5 then calls
    ``getnnz(axis=1)``, which scipy 1.17 no longer has on sparse arrays: every dataset of 8,192
    cells or more failed. This transformer computes the same graph with the same settings and
    hands scanpy a ``csr_matrix`` (``fit_transform`` -> ``(n, n)`` distances, each cell itself
    included at distance 0). Pass it as ``sc.pp.neighbors(..., transformer=NeighbourGraph(...))``.
    """

    def __init__(self, n_neighbors: int = 15, metric: str = "euclidean", random_state: int = 0):
        self.n_neighbors = n_neighbors
        self.metric = metric
        self.random_state = random_state

    def fit_transform(self, X, y=None):
        from pynndescent import PyNNDescentTransformer

        n = X.shape[0]
        inner = PyNNDescentTransformer(
            n_neighbors=self.n_neighbors, metric=self.metric, random_state=self.random_state,
            n_trees=min(64, 5 + round(n**0.5 / 20.0)), n_iters=max(5, round(np.log2(n))),
        )
        graph = sp.csr_matrix(inner.fit_transform(X))
        self.index_ = inner.index_
        return graph

    def fit(self, X, y=None):
        self.fit_transform(X)
        return self


def preprocess(
    adata: ad.AnnData,
    random_state: int,
    target_sum: float = 1e4,
    n_top_genes: int = 2000,
    n_pcs: int = 30,
    umap: bool = False,
    n_neighbors: int = 15,
    copy: bool = True,
) -> ad.AnnData:
    """Normalize, log-transform, select highly variable genes and embed.

    Steps (scanpy): ``normalize_total(target_sum)``, ``log1p``, ``highly_variable_genes``
    (Seurat flavor on the log data, ``n_top_genes`` capped at the gene count), ``pca`` on the
    highly variable genes (``n_pcs`` capped at ``min(cells, genes) - 1``), and optionally
    ``neighbors`` + ``umap``.

    Parameters
    ----------
    adata
        Raw counts in ``X``; not modified, unless ``copy=False``.
    copy
        ``False``: work in ``adata`` itself, whose counts matrix is then replaced (a job that read
        the file for this alone holds two matrices at its peak instead of four).
    random_state
        Seed for PCA's solver and for UMAP (draw it from :mod:`figureflow.seeding`).

    Returns
    -------
    anndata.AnnData
        A copy (or ``adata`` itself) with log-normalized ``X``, raw counts in ``layers["counts"]``,
        ``var["highly_variable"]``, ``obsm["X_pca"]`` (and ``obsm["X_umap"]``).
    """
    log = logging.getLogger(__name__)
    clock = time.perf_counter()

    def step(what: str) -> None:  # each step's seconds in the job's log: where an atlas' time goes
        nonlocal clock
        now = time.perf_counter()
        log.info("preprocess: %s in %.1f s", what, now - clock)
        clock = now

    out = adata.copy() if copy else adata
    out.X = sp.csr_matrix(out.X, dtype=np.float32)
    out.layers["counts"] = out.X.copy()
    step(f"{out.n_obs:,} cells x {out.n_vars:,} genes, {out.X.nnz:,} stored counts as float32 CSR")
    sc.pp.normalize_total(out, target_sum=target_sum)
    sc.pp.log1p(out)
    step("normalize_total and log1p")
    n_top = int(min(n_top_genes, out.n_vars))
    sc.pp.highly_variable_genes(out, n_top_genes=n_top, flavor="seurat")
    step(f"{n_top:,} highly variable genes")
    n_comps = int(min(n_pcs, out.n_obs - 1, int(out.var["highly_variable"].sum()) - 1))
    sc.pp.pca(out, n_comps=n_comps, mask_var="highly_variable", svd_solver="arpack", random_state=random_state)
    step(f"PCA, {n_comps} components")
    if umap:
        # scanpy's own exact search below EXACT_NEIGHBOURS_BELOW cells; above, the same PyNNDescent
        # graph through NeighbourGraph (scanpy 1.11.5's path fails with scipy 1.17 there)
        large = out.n_obs >= EXACT_NEIGHBOURS_BELOW
        transformer = NeighbourGraph(n_neighbors=n_neighbors, random_state=random_state) if large else None
        sc.pp.neighbors(out, n_neighbors=n_neighbors, n_pcs=n_comps, random_state=random_state, transformer=transformer)
        step(f"neighbour graph, {n_neighbors} neighbours ({'PyNNDescent' if large else 'exact'})")
        sc.tl.umap(out, random_state=random_state)
        step("UMAP")
    out.uns.pop("log1p", None)
    return out


def qc_table(adata: ad.AnnData, counts_layer: str | None = None, by=("cell_type", "age")) -> pd.DataFrame:
    """Cells, total counts and detected genes per group of ``obs`` columns ``by``.

    Returns
    -------
    pandas.DataFrame
        One row per observed group: the ``by`` columns, ``n_cells``, ``median_total_counts``,
        ``mean_total_counts``, ``median_genes_detected``.
    """
    counts = adata.layers[counts_layer] if counts_layer else adata.X
    counts = sp.csr_matrix(counts, copy=True)
    counts.eliminate_zeros()
    by = [b for b in by if b in adata.obs.columns]
    frame = adata.obs[by].copy()
    frame["total_counts"] = np.asarray(counts.sum(axis=1)).ravel()
    frame["genes_detected"] = np.diff(counts.indptr)
    grouped = frame.groupby(by, observed=True, sort=True)
    table = grouped.agg(
        n_cells=("total_counts", "size"),
        median_total_counts=("total_counts", "median"),
        mean_total_counts=("total_counts", "mean"),
        median_genes_detected=("genes_detected", "median"),
    ).reset_index()
    return table
