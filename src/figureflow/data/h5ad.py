"""A user's AnnData file: read its parts without the matrices it does not need, check its obs, counts or embedding, and ingest it.

The cheap checks (file, obs keys and labels, a sample of the counts) run while the workflow parses its
config, before any job; the check of the whole count matrix runs in the ingestion job.
"""

from __future__ import annotations

import os
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.sparse as sp

from figureflow.io import InputError, describe, warn_input

if TYPE_CHECKING:  # anndata is imported where it is used: the config check reads files without it
    import anndata as ad

__all__ = [
    "open_h5ad",
    "read_h5ad_annotations",
    "read_h5ad_parts",
    "COMPUTED_OBS_COLUMNS",
    "cell_type_labels",
    "check_h5ad_obs",
    "RAW",
    "COUNT_SAMPLE",
    "check_count_values",
    "matrix_sample",
    "check_h5ad_counts",
    "EMBEDDINGS",
    "check_h5ad_processed",
    "ingest_h5ad",
]


@contextmanager
def open_h5ad(path: str | os.PathLike, key: str):
    """The AnnData of an h5ad file in backed mode (``X`` and ``raw.X`` stay on disk; obs, var,
    obsm and uns are read), closed on exit.

    anndata's own reader understands every layout it has written over the years (obs and obsm as
    compound datasets, ``raw.X`` beside ``raw/X``, categories in ``uns/<key>_categories``), which a
    walk through the HDF5 groups by hand does not. Its warnings about old layouts are silenced.

    Raises
    ------
    InputError
        If the file is missing or anndata cannot read it, naming the file and the config ``key``.
    """
    import anndata as ad  # here, not at the top: the config check imports this module (anndata takes a second)

    path = Path(path)
    if not path.is_file():
        raise InputError(f"h5ad file '{path}' (config key {key}) does not exist")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            backed = ad.read_h5ad(path, backed="r")
    except Exception as exc:  # anndata/h5py raise many types for a corrupt file
        raise InputError(f"h5ad file '{path}' (config key {key}) could not be read as AnnData: {type(exc).__name__}: {exc}") from None
    try:
        yield backed
    finally:
        backed.file.close()


def read_h5ad_annotations(path: str | os.PathLike, obsm=None):
    """The annotations of an h5ad file, without its matrices: an AnnData with the file's ``obs``,
    its ``obsm`` (only the keys named in ``obsm``, those the file has; all when None) and its
    ``uns``, and no variables.

    ``X``, ``raw``, ``layers`` and ``obsp`` stay on disk: anndata's backed mode reads every layer
    into memory (the counts layer of a processed atlas of 300,000 cells is gigabytes), which a job
    that needs cell types, ages and an embedding should not pay, once per cell type.
    """
    return read_h5ad_parts(path, ("obs", "obsm", "uns"), obsm=obsm)


def read_h5ad_parts(path: str | os.PathLike, parts=("obs", "var", "X", "uns"), obsm=None):
    """An AnnData of only the named parts of an h5ad file (``obs``, ``var``, ``X``, ``obsm``,
    ``uns``); ``layers``, ``raw``, ``obsp`` and whatever else is not named stay on disk. ``obsm``
    limits the embeddings read, as in :func:`read_h5ad_annotations`. Without ``var`` the AnnData
    has no variables (then ``X`` may not be asked for)."""
    import anndata as ad
    import h5py

    parts = set(parts)
    if "X" in parts and "var" not in parts:
        raise ValueError("reading X needs var")
    with h5py.File(path, "r") as handle:
        obs = ad.io.read_elem(handle["obs"])
        var = ad.io.read_elem(handle["var"]) if "var" in parts else None
        X = ad.io.read_elem(handle["X"]) if "X" in parts and "X" in handle else None
        embeddings = {}
        if "obsm" in parts and "obsm" in handle:
            group = handle["obsm"]
            keys = list(group) if obsm is None else [k for k in obsm if k in group]
            embeddings = {k: ad.io.read_elem(group[k]) for k in keys}
        uns = ad.io.read_elem(handle["uns"]) if "uns" in parts and "uns" in handle else {}
    return ad.AnnData(X=X, obs=obs, var=var, obsm=embeddings, uns=uns)


def _read_h5ad_obs(path: Path, key: str) -> pd.DataFrame:
    """The file's obs; ``attrs["n_vars"]`` holds its number of genes (of ``raw`` too, as ``n_raw_vars``)."""
    with open_h5ad(path, key) as backed:
        obs = backed.obs.copy()
        obs.attrs["n_vars"] = int(backed.n_vars)
        obs.attrs["n_raw_vars"] = int(backed.raw.n_vars) if backed.raw is not None else None
        return obs


def _layer_names(path: Path, key: str) -> list[str]:
    """Layer names without reading the layers (backed mode reads every layer into memory).

    Raises
    ------
    InputError
        If the file is missing or not HDF5, naming the file and the config ``key``.
    """
    import h5py

    if not Path(path).is_file():
        raise InputError(f"h5ad file '{path}' (config key {key}) does not exist")
    try:
        with h5py.File(path, "r") as handle:
            return sorted(handle["layers"].keys()) if "layers" in handle else []
    except OSError as exc:
        raise InputError(f"h5ad file '{path}' (config key {key}) could not be read as AnnData: {type(exc).__name__}: {exc}") from None


@contextmanager
def _layer(path: Path, name: str):
    """``layers[name]`` on disk: anndata's backed sparse dataset for a sparse layer, the dataset for a dense one."""
    import anndata as ad
    import h5py

    with h5py.File(path, "r") as handle:
        node = handle["layers"][name]
        yield ad.io.sparse_dataset(node) if isinstance(node, h5py.Group) else node


#: obs columns that ingestion writes; a file's own column of such a name is kept as ``input_<name>``
COMPUTED_OBS_COLUMNS = {"cell_type": "a copy of cell_type_key", "age": "young/old from age_key, young and old"}


def _carried_obs_name(name: str) -> str:
    return f"input_{name}"


def _missing_labels(column: pd.Series) -> pd.Series:
    """Cells without a label: NA, or text that is empty once surrounding spaces are removed."""
    return column.isna() | (column.astype(str).str.strip() == "")


def cell_type_labels(column: pd.Series) -> pd.Series:
    """Cell types as figureflow writes them: text without surrounding spaces; NA where missing."""
    return column.astype(str).str.strip().where(~_missing_labels(column))


def check_h5ad_obs(
    path: str | os.PathLike,
    dataset: str,
    cell_type_key: str = "cell_type",
    age_key: str = "age",
    young=None,
    old=None,
    require_age: bool = False,
) -> pd.DataFrame:
    """Check an h5ad file's cell annotations against its dataset config; return its obs.

    Reads only ``obs`` (the matrix stays on disk). The age column and labels are checked when
    ``young`` or ``old`` is given, or when ``require_age`` is true. Cells without a cell type
    are allowed (they get none, with a console warning) as long as some cell has one.

    Raises
    ------
    InputError
        If the file is missing or unreadable, ``cell_type_key`` or ``age_key`` is not an obs
        column (the message lists those that are), the cell-type column holds no value at all,
        a young/old label never occurs (the message lists the labels that do), a label is both
        young and old, or an obs column that ingestion would write under ``input_<name>``
        exists already.
    """
    base = f"datasets.{dataset}"
    path = Path(path)
    obs = _read_h5ad_obs(path, f"{base}.h5ad")
    if cell_type_key not in obs.columns:
        raise InputError(
            f"h5ad file '{path}': config key {base}.cell_type_key is '{cell_type_key}', "
            f"which is not an obs column; obs columns are {describe(obs.columns)}"
        )
    missing = _missing_labels(obs[cell_type_key])
    if len(obs) and missing.all():
        raise InputError(
            f"h5ad file '{path}': obs column '{cell_type_key}' ({base}.cell_type_key) has no values (all "
            f"{len(obs)} cells are NaN or empty); set {base}.cell_type_key to the column that holds cell types"
        )
    if missing.any():
        warn_input(
            f"h5ad file '{path}': {int(missing.sum())} of {len(obs)} cells have no value in obs column "
            f"'{cell_type_key}'; they get no cell type (not a type called 'nan') and are left out of per-type results"
        )
    writes_age = young is not None or old is not None or require_age
    for name in [n for n in COMPUTED_OBS_COLUMNS if n != "age" or writes_age]:
        if name in obs.columns and _carried_obs_name(name) in obs.columns:
            raise InputError(
                f"h5ad file '{path}': obs has both '{name}' and '{_carried_obs_name(name)}'; figureflow writes "
                f"'{name}' and keeps the file's own '{name}' as '{_carried_obs_name(name)}', so rename one of them"
            )
    if young is None and old is None and not require_age:
        return obs
    if age_key not in obs.columns:
        raise InputError(
            f"h5ad file '{path}': config key {base}.age_key is '{age_key}', "
            f"which is not an obs column; obs columns are {describe(obs.columns)}"
        )
    present = pd.unique(obs[age_key].dropna().astype(str))
    for side, labels in (("young", young), ("old", old)):
        if not labels:
            raise InputError(
                f"dataset '{dataset}': config key {base}.{side} must list the {age_key!r} labels of "
                f"{side} cells; labels in the file are {describe(sorted(present))}"
            )
        absent = [str(v) for v in labels if str(v) not in set(present)]
        if absent:
            raise InputError(
                f"h5ad file '{path}': config key {base}.{side} lists {describe(absent)}, which never "
                f"occur in obs column '{age_key}'; labels there are {describe(sorted(present))}"
            )
    both = sorted({str(v) for v in young} & {str(v) for v in old})
    if both:
        raise InputError(f"dataset '{dataset}': labels {describe(both)} are in both {base}.young and {base}.old")
    return obs


#: ``counts_layer`` value that names ``raw.X`` (when the file has no layer of that name)
RAW = "raw"

#: entries of the count matrix read by the check before any job (the job checks every entry)
COUNT_SAMPLE = 200_000


def check_count_values(values: np.ndarray, path, where: str, dataset: str, allow_noninteger: bool = False) -> None:
    """Check stored entries of a count matrix: numeric, finite, >= 0 and (unless allowed) whole numbers.

    Raises
    ------
    InputError
        Naming the file and the matrix (``X`` or ``layers['...']``) and saying which key to set:
        ``counts_layer`` for normalized or log-transformed data, ``allow_noninteger_counts`` for
        estimated (fractional) counts.
    """
    base = f"datasets.{dataset}"
    values = np.asarray(values)
    if not np.issubdtype(values.dtype, np.number) and values.dtype != bool:
        raise InputError(f"h5ad file '{path}': {where} must hold numeric counts, found dtype {values.dtype}")
    if values.size == 0:
        return
    finite = np.isfinite(values)
    if not finite.all():
        raise InputError(
            f"h5ad file '{path}': {where} must hold finite counts, found {int((~finite).sum())} NaN or infinite value(s)"
        )
    if values.min() < 0:
        raise InputError(
            f"h5ad file '{path}': {where} must hold non-negative counts, found minimum {values.min()}; "
            f"if {where} is normalized, set {base}.counts_layer to the layer with raw counts ('raw' for raw.X), "
            f"or, for a processed file without counts, set {base}.processed: true"
        )
    fractional = values != np.round(values)
    if fractional.any() and not allow_noninteger:
        example = values[np.flatnonzero(fractional)[0]]
        raise InputError(
            f"h5ad file '{path}': {where} must hold raw counts (whole numbers), found non-integer values such as "
            f"{example:.6g} (log-normalized data?); set {base}.counts_layer to the layer with raw counts, or set "
            f"{base}.allow_noninteger_counts: true for estimated counts (e.g. from salmon or alevin)"
        )


def matrix_sample(matrix, limit: int) -> np.ndarray | None:
    """Up to about ``limit`` stored entries of a matrix on disk or in memory: the first rows of a
    dense or CSR matrix, the first columns of a CSC one (what is cheap to read); ``None`` for no matrix."""
    if matrix is None:
        return None
    n_obs, n_vars = matrix.shape
    if getattr(matrix, "format", None) == "csc" or (sp.issparse(matrix) and matrix.format == "csc"):
        part = matrix[:, : max(1, min(n_vars, limit // max(1, n_obs)))]
    else:
        part = matrix[: max(1, min(n_obs, limit // max(1, n_vars)))]
    if sp.issparse(part):
        return np.asarray(part.data).ravel()
    return np.asarray(part).ravel()


def check_h5ad_counts(
    path: str | os.PathLike, dataset: str, counts_layer: str | None = None, allow_noninteger: bool = False
) -> None:
    """Before any job: the count matrix exists and its first :data:`COUNT_SAMPLE` entries are counts.

    Reads the file through anndata (:func:`open_h5ad`), without loading the matrix.

    Raises
    ------
    InputError
        If ``counts_layer`` is not a layer (listing the layers there are), ``X`` is absent, or a
        sampled entry fails :func:`check_count_values`.
    """
    base = f"datasets.{dataset}"
    path = Path(path)
    layers = _layer_names(path, f"{base}.h5ad")
    if counts_layer is not None and counts_layer in layers:
        with _layer(path, counts_layer) as matrix:
            sample, where = matrix_sample(matrix, COUNT_SAMPLE), f"layers['{counts_layer}']"
    elif counts_layer is not None and counts_layer != RAW:
        raise InputError(
            f"h5ad file '{path}': config key {base}.counts_layer is '{counts_layer}', which is not a "
            f"layer; layers are {describe(layers)}"
        )
    else:
        with open_h5ad(path, f"{base}.h5ad") as backed:
            if counts_layer == RAW:
                if backed.raw is None:
                    raise InputError(
                        f"h5ad file '{path}': config key {base}.counts_layer is 'raw', but the file has no raw.X; "
                        f"layers are {describe(layers)}"
                    )
                sample, where = matrix_sample(backed.raw.X, COUNT_SAMPLE), "raw.X"
            else:
                if backed.X is None:
                    raise InputError(
                        f"h5ad file '{path}': X is empty; set {base}.counts_layer to the layer holding counts "
                        f"(layers are {describe(layers)})"
                    )
                sample, where = matrix_sample(backed.X, COUNT_SAMPLE), "X"
    if sample is not None:
        check_count_values(sample, path, where, dataset, allow_noninteger)


#: embeddings a processed dataset may bring (the embedding figure draws those present)
EMBEDDINGS = ("X_pca", "X_umap")


def check_h5ad_processed(path: str | os.PathLike, dataset: str) -> dict:
    """Before any job, for a dataset marked ``processed``: ``X`` is numeric and finite (a sample),
    and ``obsm`` holds an embedding to draw.

    Returns ``{"obsm": [obsm keys], "layers": [layer names], "x_min": smallest sampled X value}``
    (negative for a scaled X).

    Raises
    ------
    InputError
        If ``X`` is absent, not numeric or not finite, or ``obsm`` has none of :data:`EMBEDDINGS`.
    """
    base = f"datasets.{dataset}"
    path = Path(path)
    layers = _layer_names(path, f"{base}.h5ad")
    with open_h5ad(path, f"{base}.h5ad") as backed:
        if backed.X is None:
            raise InputError(f"h5ad file '{path}': X is empty; a processed dataset ({base}.processed) needs its expression in X")
        sample = matrix_sample(backed.X, COUNT_SAMPLE)
        obsm = sorted(backed.obsm.keys())
    if sample is not None and sample.size:
        if not np.issubdtype(sample.dtype, np.number) or not np.isfinite(sample).all():
            raise InputError(f"h5ad file '{path}': X must hold finite numbers, found dtype {sample.dtype} or NaN/infinite values")
    if not set(EMBEDDINGS) & set(obsm):
        raise InputError(
            f"h5ad file '{path}': {base}.processed is true, so the file's own embedding is kept, but obsm has none of "
            f"{describe(EMBEDDINGS)}; obsm keys are {describe(obsm)}"
        )
    return {"obsm": obsm, "layers": layers, "x_min": float(sample.min()) if sample is not None and sample.size else 0.0}


def ingest_h5ad(
    path: str | os.PathLike,
    dataset: str,
    cell_type_key: str = "cell_type",
    age_key: str = "age",
    young=None,
    old=None,
    counts_layer: str | None = None,
    require_age: bool = False,
    allow_noninteger_counts: bool = False,
    processed: bool = False,
) -> ad.AnnData:
    """Read a user's h5ad file into figureflow's standard form.

    The result has raw counts in ``X`` (CSR, taken from ``layers[counts_layer]`` if given, or
    from ``raw.X``, with ``raw.var``, for ``counts_layer="raw"`` when there is no such layer),
    obs column ``cell_type`` (a copy of ``cell_type_key``; NA for cells without one) and, when
    young/old labels are given, ``age`` with categories ``young``/``old`` (NA for other labels).
    With ``processed``, ``X`` is kept as the file has it (normalized or scaled, no counts),
    with its layers and its ``obsm`` embeddings; preprocessing is then skipped.
    All other obs and var columns are kept; a file's own obs column called ``cell_type`` (other
    than ``cell_type_key``) or ``age`` is kept as ``input_cell_type`` / ``input_age``, so a
    column figureflow writes never silently replaces one of the file's, nor the reverse.

    Raises
    ------
    InputError
        Everything :func:`check_h5ad_obs` raises; a missing ``counts_layer`` (listing the
        layers there are); counts that are not finite, negative or (unless
        ``allow_noninteger_counts``) not whole numbers.
    """
    import anndata as ad

    base = f"datasets.{dataset}"
    check_h5ad_obs(path, dataset, cell_type_key, age_key, young, old, require_age)
    if processed:
        check_h5ad_processed(path, dataset)
    else:
        check_h5ad_counts(path, dataset, counts_layer, allow_noninteger_counts)
    adata = ad.read_h5ad(path)
    var = adata.var.copy()
    if processed:
        counts, where = adata.X, "X"
    elif counts_layer == RAW and RAW not in adata.layers:
        # CELLxGENE's shape: normalized X, raw counts (of possibly more genes) in raw.X
        counts, where, var = adata.raw.X, "raw.X", adata.raw.var.copy()
    elif counts_layer is not None:
        counts = adata.layers[counts_layer]
        where = f"layers['{counts_layer}']"
    else:
        counts = adata.X
        where = "X"
    if counts is None:
        raise InputError(f"h5ad file '{path}': {where} is empty; set {base}.counts_layer to the layer holding counts")
    counts = sp.csr_matrix(counts)
    if not processed:
        check_count_values(counts.data, path, where, dataset, allow_noninteger_counts)
    obs = adata.obs.copy()
    writes_age = young is not None or old is not None or require_age
    for name in COMPUTED_OBS_COLUMNS:
        if name == "age" and not writes_age:
            continue
        if name in obs.columns and not (name == "cell_type" and cell_type_key == "cell_type"):
            obs = obs.rename(columns={name: _carried_obs_name(name)})
    out = ad.AnnData(X=counts, obs=obs, var=var, obsm=dict(adata.obsm), layers=dict(adata.layers) if processed else None)
    types = adata.obs[cell_type_key]
    out.obs["cell_type"] = pd.Categorical(cell_type_labels(types))
    if writes_age:
        labels = adata.obs[age_key].astype(str).where(adata.obs[age_key].notna())
        age = pd.Series(pd.NA, index=adata.obs_names, dtype=object)
        age[labels.isin([str(v) for v in young])] = "young"
        age[labels.isin([str(v) for v in old])] = "old"
        out.obs["age"] = pd.Categorical(age, categories=["young", "old"])
    out.uns["figureflow"] = {"source": str(path), "cell_type_key": cell_type_key, "age_key": age_key}
    return out
