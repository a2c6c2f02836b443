# The helpers of rules/sweeps.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


def sweep_chunk_threads(wildcards):
    """Two joblib workers for a chunk of 100 tasks or more."""
    facts, spec = FACTS["sweeps"][wildcards.sweep], config["sweeps"][wildcards.sweep]
    return 2 if len(grid_points(spec.get("grid") or {})) * spec["replicates"] / facts["chunks"] >= two_threads_from("sweep_tasks") else 1


def sweep_spec(wildcards):
    """The sweep's config section (defaults filled)."""
    return config["sweeps"][wildcards.sweep]


def sweep_chunk_files(wildcards):
    return [f"results/sweeps/{wildcards.sweep}/chunks/{c}.tsv" for c in range(FACTS["sweeps"][wildcards.sweep]["chunks"])]


def sweep_grid_columns(wildcards):
    return FACTS["sweeps"][wildcards.sweep]["grid"]


def sweeps_with_2d_grid():
    """Sweeps over a 2-D grid: they get a heatmap of the mean difference."""
    return names_regex([s for s, facts in FACTS["sweeps"].items() if len(facts["grid"]) == 2])
