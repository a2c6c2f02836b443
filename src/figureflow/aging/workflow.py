"""The aging section in the workflow: which datasets it runs on, one job per cell type and its memory, the config check.
"""

from __future__ import annotations

import numpy as np

from figureflow.io import InputError, describe

__all__ = ["cell_type_wildcards", "cell_type_job_mb", "aging_datasets", "check_config"]


def cell_type_wildcards(cell_types) -> dict[str, str]:
    """``{wildcard: cell type}``: a file-name-safe name for each cell type (``CD4+ T`` -> ``CD4_T``),
    made unique with a numeric suffix where two names would collide."""
    import re

    out = {}
    for name in cell_types:
        slug = re.sub(r"[^A-Za-z0-9_-]+", "_", str(name)).strip("_-") or "cell_type"
        candidate, k = slug, 2
        while candidate in out:
            candidate, k = f"{slug}_{k}", k + 1
        out[candidate] = str(name)
    return out


def cell_type_job_mb(n_cells: int, n_dims: int = 50) -> int:
    """What an ``aging_cell_type`` or ``aging_magnitudes`` job asks for (SLURM's --mem), in MB, for a
    dataset of ``n_cells`` cells: 500 for the interpreter and its libraries, and twice the
    annotations it reads (:func:`figureflow.data.ingest.read_h5ad_annotations`: an embedding of up to
    ``n_dims`` float64 columns and about 100 bytes of obs per cell). The bootstraps' own work
    (``n_per_sample`` squared distances) is a few MB whatever the dataset's size. Measured peaks:
    160 MB at 20,000 cells."""
    return int(np.ceil(500 + 2 * int(n_cells) * (8 * int(n_dims) + 100) / 1e6))


def aging_datasets(config) -> list[str]:
    """Datasets the aging analysis runs on: ``aging.datasets``, or every dataset that knows its young
    and old cells (simulated ones, and h5ad datasets with ``young`` and ``old``)."""
    chosen = config.get("aging", {}).get("datasets")
    if chosen is not None:
        return list(chosen)
    return [name for name, spec in config.get("datasets", {}).items() if "simulate" in spec or (spec.get("young") and spec.get("old"))]


def check_config(config, data_facts: dict) -> dict:
    """The ``aging`` section: its datasets exist and know their young and old cells.

    ``data_facts`` is what :func:`figureflow.data.checks.check_config` learnt (each dataset's cell
    types). Returns ``{dataset: {wildcard: cell type}}`` for every dataset the analysis runs on.

    Raises
    ------
    InputError
        Naming ``aging.datasets`` and the dataset that is unknown or has no young/old labels.
    """
    datasets = data_facts.get("datasets", {})
    facts = {}
    for name in aging_datasets(config):
        if name not in datasets:
            raise InputError(f"config key aging.datasets names '{name}', which is not in datasets; datasets are {describe(list(datasets))}")
        if not datasets[name]["ages"]:
            raise InputError(
                f"config key aging.datasets names '{name}', whose young and old cells are unknown; "
                f"set datasets.{name}.young and datasets.{name}.old to its age labels"
            )
        embedding = config.get("aging", {}).get("embedding", "X_pca")
        n_dims = config.get("aging", {}).get("n_dims")
        if not datasets[name].get("processed"):
            preprocess = config.get("preprocess", {})
            made = {"X_pca": preprocess.get("n_pcs", 30)}
            if preprocess.get("umap", True):
                made["X_umap"] = 2
            if embedding not in made:
                raise InputError(
                    f"config key aging.embedding is '{embedding}', which preprocessing does not make for dataset '{name}'; "
                    f"it makes {describe(sorted(made))}"
                )
            if n_dims is not None and n_dims > made[embedding]:
                raise InputError(
                    f"config key aging.n_dims is {n_dims}, but obsm['{embedding}'] of dataset '{name}' will have "
                    f"{made[embedding]} dimensions" + (" (preprocess.n_pcs)" if embedding == "X_pca" else "")
                )
        else:
            if embedding not in datasets[name]["obsm"]:
                raise InputError(
                    f"config key aging.embedding is '{embedding}', which processed dataset '{name}' does not have in obsm; "
                    f"its obsm keys are {describe(datasets[name]['obsm'])}"
                )
            if datasets[name]["x_min"] < 0:
                raise InputError(
                    f"dataset '{name}' is processed with a scaled X (values down to {datasets[name]['x_min']:.3g}); aging "
                    "trajectories need non-negative normalized expression (NMF): give the normalized X, or leave the "
                    "dataset out of aging.datasets"
                )
        facts[name] = cell_type_wildcards(datasets[name]["cell_types"])
    return facts
