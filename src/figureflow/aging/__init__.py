"""Aging magnitudes: how far old cells of a type have moved from young ones, against a null.

For one cell type with young cells ``Y`` and old cells ``O`` in an embedding (rows are cells),
each bootstrap draws samples of ``n`` cells and computes optimal transport distances with uniform
weights and Euclidean ground cost (earth mover's distance, ``W_1``):

* ``old_young = W(O_a, Y_a)``, the change with age;
* ``null_young = W(Y_a, Y_b)`` and ``null_old = W(O_a, O_b)``, the distance between two samples
  of one age group: what sampling alone gives;
* ``magnitude = old_young / max(null_young, null_old)``: about 1 for a cell type that did not
  change, larger the more it did (Kimmel et al. 2019, the murine aging cell atlas).

**Sampling.** ``sampling="disjoint"`` (the default) shuffles each group and splits it, so the two
samples of a null share no cell and ``n <= floor(group size / 2)``. ``sampling="reference"`` is
the published code's: each sample is drawn independently from its group (``n`` = 500, or 0.8 x
the smaller group), so the two samples of a null overlap; shared cells match at zero cost, the
null shrinks and a cell type that did not change scores above 1. It is kept, documented as
biased, to compare with published tables.

**Trajectories.** Gene programs are found by NMF on the normalized expression (highly variable
genes); a cell type's aging trajectory is the vector from its young cells' mean program usage to
its old cells' mean; two cell types age alike when the cosine of their vectors is near 1
(:func:`aging_trajectories`, with a bootstrap interval over cells).

**Metrics.** ``emd``: the exact distance. Between equal-size samples with uniform weights, an
optimal plan is a permutation (Birkhoff), so ``W = min over assignments of the mean matched
cost``, solved by :func:`scipy.optimize.linear_sum_assignment` (the fastest exact solver here;
:func:`emd_distance_pot` solves the same problem with POT's network simplex, the reference of
the tests). ``sinkhorn`` (entropic OT, POT), ``sliced`` (sliced ``W_1``, POT) and ``energy``
(the energy distance ``2 E|X-Y| - E|X-X'| - E|Y-Y'|``, as in pertpy's E-distance) are faster
approximations with different scales (entropic OT is biased above ``W_1``, sliced ``W_1`` lies
below it); magnitudes are ratios, so they compare.

Every sample comes from the stream ``figureflow.seeding`` gives for (dataset, cell type):
bootstrap ``b`` uses that stream's ``b``-th child, so results do not depend on the number of
threads or on how cell types are split across jobs.

The package: :mod:`~figureflow.aging.magnitudes` (distances, samples, bootstraps, per cell type
and per dataset, gathering), :mod:`~figureflow.aging.trajectories` (NMF programs and cosines) and
:mod:`~figureflow.aging.workflow` (datasets, cell-type jobs and their memory, the config check);
this face re-exports their public names.
"""

from __future__ import annotations

from figureflow.aging.magnitudes import (
    BOOTSTRAP_COLUMNS,
    MAGNITUDE_COLUMNS,
    METRICS,
    SAMPLINGS,
    SINKHORN_REG,
    SLICED_PROJECTIONS,
    Samples,
    aging_bootstraps,
    bootstrap_options,
    cell_type_magnitude,
    cell_type_stream,
    dataset_magnitudes,
    draw_samples,
    embedding_by_age,
    emd_distance_pot,
    exact_ot_distance,
    gather_bootstraps,
    gather_magnitudes,
    ot_distance,
    planted_shifts,
    sample_size,
    strongest_cell_type,
    summarize_bootstraps,
    transport_plan,
)
from figureflow.aging.trajectories import (
    TRAJECTORY_COLUMNS,
    aging_trajectories,
    aging_vectors,
    planted_cosines,
    program_usage,
)
from figureflow.aging.workflow import (
    aging_datasets,
    cell_type_job_mb,
    cell_type_wildcards,
    check_config,
)

__all__ = [
    "METRICS",
    "SAMPLINGS",
    "exact_ot_distance",
    "emd_distance_pot",
    "ot_distance",
    "sample_size",
    "draw_samples",
    "Samples",
    "aging_bootstraps",
    "summarize_bootstraps",
    "MAGNITUDE_COLUMNS",
    "BOOTSTRAP_COLUMNS",
    "embedding_by_age",
    "cell_type_magnitude",
    "dataset_magnitudes",
    "bootstrap_options",
    "transport_plan",
    "planted_shifts",
    "gather_magnitudes",
    "gather_bootstraps",
    "strongest_cell_type",
    "cell_type_wildcards",
    "aging_datasets",
    "cell_type_job_mb",
    "check_config",
    "TRAJECTORY_COLUMNS",
    "program_usage",
    "aging_vectors",
    "aging_trajectories",
    "planted_cosines",
    "SINKHORN_REG",
    "SLICED_PROJECTIONS",
    "cell_type_stream",
]
