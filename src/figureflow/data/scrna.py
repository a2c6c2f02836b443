"""Simulated single-cell RNA counts with a planted aging shift per cell type.

Generative model (natural-log means; ``t`` cell type, ``a`` age, ``d`` donor, ``c`` cell,
``g`` gene):

* baseline ``b_g ~ Normal(0, baseline_sd)``;
* ``K`` gene programs: loadings ``W[k, g] = |Normal(0, program_sd)|`` on
  ``genes_per_program`` random genes, 0 elsewhere; cell type activities
  ``Z[t, k] ~ Normal(0, 1)``;
* aging: a unit direction ``u_t`` (supported on ``aging_genes`` random genes) and a magnitude
  ``m_t`` per cell type;
* donor effects ``delta_d[g] ~ Normal(0, donor_sd)``; donors are nested in age groups;
* ``log mu[t, a, g] = b_g + (Z W)[t, g] + [a = old] m_t u_t[g]`` and the cell mean is
  ``s_t * L_c * exp(log mu[t, a, g] + delta_d[g])``, where ``s_t`` scales young cells of type
  ``t`` to ``library_size`` counts on average and ``L_c ~ LogNormal(-sigma^2/2, sigma)`` with
  ``sigma = library_size_sd``;
* counts ``~ NegativeBinomial(mean, dispersion)`` drawn as Gamma-Poisson, so
  ``Var = mean + mean^2 / dispersion``.

So the planted aging shift of cell type ``t`` is exactly ``m_t`` in L2 norm of log-mean
expression, in direction ``u_t``; ``uns["truth"]`` records it together with the model.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["default_aging_shift", "simulate_scrna"]

CHUNK_CELLS = 4096  # fixed, so that the random streams do not depend on the thread count


def default_aging_shift(n_cell_types: int, max_shift: float = 1.5) -> np.ndarray:
    """Default shift magnitudes: 0 for even-indexed cell types, rising to ``max_shift`` for the rest."""
    shifts = np.zeros(n_cell_types)
    odd = np.arange(1, n_cell_types, 2)
    if odd.size:
        shifts[odd] = np.linspace(max_shift / odd.size, max_shift, odd.size)
    return shifts


def _chunk_counts(rng, log_mean_rows, library, dispersion):
    mean = library[:, None] * np.exp(log_mean_rows)
    lam = rng.standard_gamma(dispersion, size=mean.shape)
    lam *= mean / dispersion
    counts = rng.poisson(lam).astype(np.int32)
    return sp.csr_matrix(counts)


def simulate_scrna(
    seed_seq: np.random.SeedSequence,
    n_cells: int = 2000,
    n_genes: int = 1000,
    n_cell_types: int = 4,
    n_programs: int = 6,
    genes_per_program: int = 50,
    program_sd: float = 1.0,
    baseline_sd: float = 1.0,
    dispersion: float = 5.0,
    library_size: float = 3000.0,
    library_size_sd: float = 0.3,
    aging_shift=None,
    aging_genes: int = 50,
    n_donors_per_age: int = 3,
    donor_sd: float = 0.05,
    old_fraction: float = 0.5,
    shared_aging=None,
    n_threads: int = 1,
) -> ad.AnnData:
    """Simulate a counts matrix with cell types, donors, ages and a planted aging shift.

    Parameters
    ----------
    seed_seq
        The stream for this dataset (see :mod:`figureflow.seeding`).
    n_cells, n_genes
        Matrix size.
    n_cell_types, n_programs, genes_per_program, program_sd, baseline_sd
        Cell type structure (see the module docstring).
    dispersion
        Negative binomial size ``r`` (> 0); smaller is more overdispersed.
    library_size, library_size_sd
        Mean total counts of a young cell and the log-scale spread of cell library sizes.
    aging_shift
        Magnitude ``m_t >= 0`` per cell type (length ``n_cell_types``), or ``None`` for
        :func:`default_aging_shift`.
    aging_genes
        Number of genes each aging direction touches.
    n_donors_per_age, donor_sd
        Donors per age group and the spread of their per-gene log-mean offsets.
    old_fraction
        Expected fraction of cells from old donors.
    shared_aging
        Groups of cell type indices (e.g. ``[[1, 3], [4, 5, 6]]``) whose types age along one shared
        direction (the first type's); the other types keep their own, on random gene sets, so
        their directions are nearly orthogonal. The magnitudes stay per type.
    n_threads
        Threads over fixed chunks of cells; the result does not depend on it.

    Returns
    -------
    anndata.AnnData
        ``X``: CSR int32 counts (cells x genes); ``obs``: ``cell_type``, ``age``
        (``young``/``old``), ``donor``; ``uns["truth"]``: ``cell_types``, ``aging_shift``
        (magnitudes), ``aging_direction`` (cell types x genes, unit rows), ``log_mean_young``
        and ``log_mean_old`` (cell types x genes, before donor effects and library size),
        ``program_loadings``, ``program_activity``, ``dispersion``.

    Raises
    ------
    ValueError
        On sizes or parameters out of range.
    """
    if min(n_cells, n_genes, n_cell_types, n_donors_per_age) < 1:
        raise ValueError("n_cells, n_genes, n_cell_types and n_donors_per_age must all be >= 1")
    if dispersion <= 0 or library_size <= 0:
        raise ValueError("dispersion and library_size must be > 0")
    if not 0.0 < old_fraction < 1.0:
        raise ValueError(f"old_fraction must lie in (0, 1), got {old_fraction}")
    genes_per_program = min(genes_per_program, n_genes)
    aging_genes = min(aging_genes, n_genes)
    shifts = default_aging_shift(n_cell_types) if aging_shift is None else np.asarray(aging_shift, dtype=float)
    if shifts.shape != (n_cell_types,) or np.any(shifts < 0) or not np.all(np.isfinite(shifts)):
        raise ValueError(
            f"aging_shift must hold {n_cell_types} finite non-negative magnitudes (one per cell type), got {shifts.tolist()}"
        )

    structure_ss, assign_ss, chunk_ss = np.random.SeedSequence(
        entropy=seed_seq.entropy, spawn_key=seed_seq.spawn_key
    ).spawn(3)
    rng = np.random.Generator(np.random.PCG64(structure_ss))

    baseline = rng.normal(0.0, baseline_sd, size=n_genes)
    loadings = np.zeros((n_programs, n_genes))
    for k in range(n_programs):
        genes = rng.choice(n_genes, size=genes_per_program, replace=False)
        loadings[k, genes] = np.abs(rng.normal(0.0, program_sd, size=genes_per_program))
    activity = rng.normal(0.0, 1.0, size=(n_cell_types, n_programs))
    directions = np.zeros((n_cell_types, n_genes))
    for t in range(n_cell_types):
        genes = rng.choice(n_genes, size=aging_genes, replace=False)
        v = rng.normal(0.0, 1.0, size=aging_genes)
        directions[t, genes] = v / np.linalg.norm(v)
    for group in shared_aging or []:
        group = [int(t) for t in group]
        if not group or min(group) < 0 or max(group) >= n_cell_types:
            raise ValueError(f"shared_aging groups must hold cell type indices 0..{n_cell_types - 1}, got {group}")
        directions[group] = directions[group[0]]
    n_donors = 2 * n_donors_per_age
    donor_effects = rng.normal(0.0, donor_sd, size=(n_donors, n_genes))

    log_mean_young = baseline + activity @ loadings
    log_mean_old = log_mean_young + shifts[:, None] * directions
    # scale so that a young cell of each type has library_size counts on average
    log_scale = np.log(library_size) - np.log(np.exp(log_mean_young).sum(axis=1))

    arng = np.random.Generator(np.random.PCG64(assign_ss))
    cell_type = arng.integers(n_cell_types, size=n_cells)
    is_old = arng.random(n_cells) < old_fraction
    donor_in_age = arng.integers(n_donors_per_age, size=n_cells)
    donor = donor_in_age + n_donors_per_age * is_old
    sigma = library_size_sd
    library = np.exp(arng.normal(-0.5 * sigma**2, sigma, size=n_cells) + log_scale[cell_type])

    # one log-mean row per (cell type, age, donor) combination, looked up per cell
    combo_young = log_mean_young[:, None, :] + donor_effects[None, :, :]
    combo_old = log_mean_old[:, None, :] + donor_effects[None, :, :]
    combos = np.where(
        (np.arange(n_donors) >= n_donors_per_age)[None, :, None], combo_old, combo_young
    ).reshape(n_cell_types * n_donors, n_genes)
    combo_index = cell_type * n_donors + donor

    n_chunks = -(-n_cells // CHUNK_CELLS)
    chunk_rngs = [np.random.Generator(np.random.PCG64(s)) for s in chunk_ss.spawn(n_chunks)]

    def work(i):
        lo, hi = i * CHUNK_CELLS, min(n_cells, (i + 1) * CHUNK_CELLS)
        return _chunk_counts(chunk_rngs[i], combos[combo_index[lo:hi]], library[lo:hi], dispersion)

    if n_threads > 1:
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            blocks = list(pool.map(work, range(n_chunks)))
    else:
        blocks = [work(i) for i in range(n_chunks)]
    X = sp.vstack(blocks, format="csr", dtype=np.int32)

    type_names = np.array([f"type_{t}" for t in range(n_cell_types)])
    ages = np.where(is_old, "old", "young")
    donor_names = np.array([f"{'old' if d >= n_donors_per_age else 'young'}_donor_{d % n_donors_per_age}" for d in range(n_donors)])
    obs = pd.DataFrame(
        {
            "cell_type": pd.Categorical(type_names[cell_type], categories=type_names),
            "age": pd.Categorical(ages, categories=["young", "old"]),
            "donor": pd.Categorical(donor_names[donor], categories=donor_names),
        },
        index=pd.Index([f"cell_{i}" for i in range(n_cells)], name="cell"),
    )
    var = pd.DataFrame(index=pd.Index([f"gene_{g}" for g in range(n_genes)], name="gene"))
    truth = {
        "cell_types": type_names,
        "aging_shift": shifts,
        "aging_direction": directions,
        "log_mean_young": log_mean_young,
        "log_mean_old": log_mean_old,
        "program_loadings": loadings,
        "program_activity": activity,
        "donor_effects": donor_effects,
        "dispersion": float(dispersion),
    }
    return ad.AnnData(X=X, obs=obs, var=var, uns={"truth": truth})
