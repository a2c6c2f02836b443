"""Monte Carlo and randomized QMC estimates of E[sqrt(det(J^T J))] for one map (rule jacobian_estimates)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import write_table
from figureflow.jacobian.maps import CHECK_POINTS
from figureflow.jacobian.measure import estimate_table
from figureflow.maps import resolve_map
from figureflow.runtime import job

with job(snakemake) as log:
    latent = resolve_map(snakemake.wildcards.map, snakemake.params.spec, snakemake.params.seed)
    options = snakemake.params.options
    log.info("map %s: R^%d -> R^%d, exact E[D] = %s", latent.name, latent.d, latent.D, latent.exact_mean)
    if hasattr(latent.torch_fn, "liouville_error"):
        log.info("map %s: log|det J| agrees with the flow's integrated trace to %.2e nats at %d check points", latent.name, latent.torch_fn.liouville_error, CHECK_POINTS)
    table = estimate_table(
        latent,
        options["estimators"],
        options["sample_sizes"],
        snakemake.params.seed,
        snakemake.rule,
        n_scrambles=options["scrambles"],
        n_threads=snakemake.threads,
        log=log,
    )
    write_table(table, snakemake.output[0])
