# The helpers of rules/cnf.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


def cnf_mem_mb(wildcards):
    """What the run's solves may keep and its embedding (figureflow.generative.settings.check_cnf_config)."""
    return FACTS["cnf"]["runs"][wildcards.run]["mem_mb"]


def cnf_run_options(wildcards):
    """The run's config section (defaults filled by the schema)."""
    return config["cnf"]["runs"][wildcards.run]


def cnf_run_data(wildcards):
    """A dataset run reads its processed h5ad; a toy is drawn inside the job (no input)."""
    facts = FACTS["cnf"]["runs"][wildcards.run]
    return {"h5ad": f"results/processed/{facts['data']}.h5ad"} if facts["source"] == "dataset" else {}


def cnf_figure_options(wildcards=None):
    section = config["cnf"]
    return {k: section[k] for k in ("grid_size", "grid_extent", "samples", "trajectory_times")}


def cnf_checkpoint(wildcards):
    """The run's checkpoint (not an output: it survives an interrupted job, which resumes from it)."""
    return f"results/cnf/{wildcards.run}/checkpoint.pt"
