# The helpers of rules/jacobian.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


def jacobian_options(wildcards):
    """Estimator settings of the jacobian section, with the map's own sample sizes where it sets them."""
    section = config["jacobian"]
    return {"estimators": section["estimators"], "scrambles": section["scrambles"], "sample_sizes": FACTS["jacobian"][wildcards.map]["sample_sizes"]}


def jacobian_mem_mb(wildcards):
    """Memory of the map's estimates job (figureflow.jacobian.measure.jacobian_memory_mb)."""
    return FACTS["jacobian"][wildcards.map]["mem_mb"]


def jacobian_map_spec(wildcards):
    return config["jacobian"]["maps"][wildcards.map]


def jacobian_map_code(wildcards):
    """The user's module behind a map (none for built-ins): editing it reruns what uses the map."""
    return FACTS["jacobian"][wildcards.map]["code"]


def jacobian_grid_options(wildcards):
    """Grid sizes of the jacobian section, as keyword arguments of figureflow.jacobian.measure.figure_grids."""
    section = config["jacobian"]
    return {k: section[k] for k in ("grid_size", "grid_extent", "image_grid_size", "image_curve_size")}


def jacobian_maps_into_3d():
    """Maps whose data space is 3-D: their latent grid's image is drawn as a surface or curve."""
    return names_regex([m for m, facts in FACTS["jacobian"].items() if facts["dims"][1] == 3])


def jacobian_threads(wildcards):
    """Two threads for a map whose largest sample size is 2^21 or more."""
    return 2 if max(FACTS["jacobian"][wildcards.map]["sample_sizes"]) >= two_threads_from("jacobian_samples") else 1
