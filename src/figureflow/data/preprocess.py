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

__all__ = ["preprocess", "qc_table", "covariance_pca", "NeighbourGraph", "EXACT_NEIGHBOURS_BELOW", "COVARIANCE_PCA_MAX_GENES"]

#: scanpy finds exact neighbours (brute force) below this many cells, approximate ones (PyNNDescent) above
EXACT_NEIGHBOURS_BELOW = 8192
#: PCA through the genes' covariance matrix up to this many genes (its cost grows with their square),
#: scanpy's ARPACK above
COVARIANCE_PCA_MAX_GENES = 5000


#: columns per product in :func:`covariance_pca`: fixed, so that the sums do not depend on the thread count
COVARIANCE_COLUMNS = 128


def covariance_pca(X, n_comps: int, genes=None, chunk_rows: int = 8192, n_threads: int = 1):
    """Principal components of the rows of ``X`` (cells x genes, sparse or dense), from the genes'
    covariance matrix.

    The covariance is summed in float64 over blocks of ``chunk_rows`` cells, each block made dense
    and centred (so no sparse matrix is ever centred whole, and float32 data loses nothing to
    cancellation); its eigenvectors are the components, and the scores are ``X V - mean V``.
    For atlas-sized data with a few thousand genes this is one pass of dense products instead of
    the hundreds of sparse passes that ARPACK makes (``benchmarks/atlas.py``). Signs follow
    scikit-learn's convention (the largest loading of each component positive), as ``sc.pp.pca``
    gives them.

    ``genes`` (column indices) restricts the analysis to those genes without copying ``X``: each
    block is cut to them, and the scores come from ``X`` itself with zero loadings elsewhere.

    A multithreaded BLAS sums a product in an order that depends on its thread count, so here
    BLAS runs on one thread and ``n_threads`` workers share the upper triangle's column blocks of
    :data:`COVARIANCE_COLUMNS`: every number is the same to the last bit on any thread count.

    Returns
    -------
    scores : (cells, n_comps) float32
    components : (len(genes) or all genes, n_comps) float32
    variance : (n_comps,) float64, the variance along each component
    variance_ratio : (n_comps,) float64, that variance over the total
    """
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    n = X.shape[0]
    genes = np.arange(X.shape[1]) if genes is None else np.asarray(genes)
    g = len(genes)
    sparse = sp.issparse(X)
    mean = np.asarray(X.mean(axis=0, dtype=np.float64)).ravel()[genes]
    cov = np.zeros((g, g))
    columns = [(a, min(a + COVARIANCE_COLUMNS, g)) for a in range(0, g, COVARIANCE_COLUMNS)]
    with threadpool_limits(1), ThreadPoolExecutor(max(1, int(n_threads))) as pool:
        for start in range(0, n, chunk_rows):
            block = X[start : start + chunk_rows][:, genes]
            block = (block.toarray() if sparse else np.asarray(block)).astype(np.float64, copy=False) - mean

            def upper(span, block=block):  # rows 0..b of the column block [a, b): the upper triangle and diagonal
                a, b = span
                return block[:, :b].T @ block[:, a:b]

            for (a, b), part in zip(columns, pool.map(upper, columns)):
                cov[:b, a:b] += part
        cov = np.triu(cov) + np.triu(cov, 1).T
        cov /= max(n - 1, 1)
        total = float(np.trace(cov))
        values, vectors = np.linalg.eigh(cov)
    values, vectors = values[::-1][:n_comps].clip(min=0.0), np.ascontiguousarray(vectors[:, ::-1][:, :n_comps])
    vectors *= np.sign(vectors[np.abs(vectors).argmax(axis=0), np.arange(n_comps)])
    loadings = np.zeros((X.shape[1], n_comps))
    loadings[genes] = vectors
    scores = np.asarray(X @ loadings) - mean @ vectors
    return scores.astype(np.float32), vectors.astype(np.float32), values, values / total if total > 0 else np.zeros_like(values)


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
    n_threads: int = 1,
) -> ad.AnnData:
    """Normalize, log-transform, select highly variable genes and embed.

    Steps (scanpy): ``normalize_total(target_sum)``, ``log1p``, ``highly_variable_genes``
    (Seurat flavor on the log data, ``n_top_genes`` capped at the gene count), PCA on the
    highly variable genes (``n_pcs`` capped at ``min(cells, genes) - 1``; :func:`covariance_pca`
    up to :data:`COVARIANCE_PCA_MAX_GENES` genes, stored as ``sc.pp.pca`` stores it, scanpy's
    ARPACK above), and optionally ``neighbors`` + ``umap``.

    Parameters
    ----------
    adata
        Raw counts in ``X``; not modified, unless ``copy=False``.
    copy
        ``False``: work in ``adata`` itself, whose counts matrix is then replaced (a job that read
        the file for this alone holds two matrices at its peak instead of four).
    random_state
        Seed for PCA's solver and for UMAP (draw it from :mod:`figureflow.seeding`).
    n_threads
        Workers of :func:`covariance_pca` (the job's threads; the result does not depend on it).

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
    hvg = out.var["highly_variable"].to_numpy()
    n_comps = int(min(n_pcs, out.n_obs - 1, int(hvg.sum()) - 1))
    if hvg.sum() <= COVARIANCE_PCA_MAX_GENES:
        scores, components, variance, ratio = covariance_pca(out.X, n_comps, genes=np.flatnonzero(hvg), n_threads=n_threads)
        out.obsm["X_pca"] = scores
        loadings = np.zeros((out.n_vars, n_comps), dtype=np.float32)
        loadings[hvg] = components
        out.varm["PCs"] = loadings
        out.uns["pca"] = {"params": {"zero_center": True, "use_highly_variable": True, "mask_var": "highly_variable",
                                     "solver": "covariance"}, "variance": variance, "variance_ratio": ratio}
        step(f"PCA, {n_comps} components (covariance of {int(hvg.sum()):,} genes)")
    else:
        sc.pp.pca(out, n_comps=n_comps, mask_var="highly_variable", svd_solver="arpack", random_state=random_state)
        step(f"PCA, {n_comps} components (ARPACK, {int(hvg.sum()):,} genes)")
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
