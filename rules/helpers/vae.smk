# The helpers of rules/vae.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


VAE_REPLICATE_FILES = {"model": "pt", "history": "tsv", "metrics": "tsv", "latent": "npz"}


def vae_runs(source):
    """Runs whose data is a ``simulation`` or a ``dataset``."""
    return [r for r, facts in FACTS["vae"]["runs"].items() if facts["source"] == source]


def vae_simulation_spec(wildcards):
    return config["vae"]["simulations"][wildcards.simulation]


def vae_run_options(wildcards):
    """The run's config section (defaults filled by the schema)."""
    return config["vae"]["runs"][wildcards.run]


def vae_run_data(wildcards):
    facts = FACTS["vae"]["runs"][wildcards.run]
    if facts["source"] == "simulation":
        return f"results/vae/simulations/{facts['data']}.npz"
    return f"results/processed/{facts['data']}.h5ad"


def vae_figure_options(wildcards=None):
    section = config["vae"]
    return {k: section[k] for k in ("traversal_steps", "traversal_extent", "volume_samples")}


def vae_checkpoint(wildcards):
    """Where a replicate's per-epoch checkpoint lives (not an output: it survives an interrupted job)."""
    return f"results/vae/{wildcards.run}/checkpoints/replicate_{wildcards.replicate}.pt"


def vae_replicate_files(kind):
    """The function of the wildcards that lists every seed replicate's ``kind`` file of a run."""

    def files(wildcards):
        replicates = range(config["vae"]["runs"][wildcards.run]["replicates"])
        pattern = f"results/vae/{{run}}/replicate_{{replicate}}/{kind}.{VAE_REPLICATE_FILES[kind]}"
        return expand(pattern, run=wildcards.run, replicate=replicates)

    return files


def vae_replicate_outputs(wildcards):
    """Every seed replicate's outputs of a run, by kind, and the run's data (rule vae_gather)."""
    outputs = {kind: vae_replicate_files(kind)(wildcards) for kind in VAE_REPLICATE_FILES}
    return {**outputs, "data": vae_run_data(wildcards)}


def vae_runtime(wildcards):
    """SLURM's --time of one replicate's training (minutes): the run's ``runtime`` key."""
    return config["vae"]["runs"][wildcards.run]["runtime"]


def vae_mem_mb(wildcards):
    """What the run's data need (figureflow.generative.settings.vae_memory_mb), learnt by the checks."""
    return FACTS["vae"]["runs"][wildcards.run]["mem_mb"]


def vae_simulation_is_counts(wildcards):
    return config["vae"]["simulations"][wildcards.simulation]["simulator"] == "expression"


def vae_baseline_latent_dim(wildcards):
    """Baselines get as many components as the widest run on the simulation (at least 2)."""
    dims = [config["vae"]["runs"][r]["latent_dim"] for r in vae_runs("simulation") if FACTS["vae"]["runs"][r]["data"] == wildcards.simulation]
    return max(dims + [2])


def vae_compared_simulations():
    """Simulations that some run trains on (each gets baselines and a place in the comparison)."""
    return sorted({FACTS["vae"]["runs"][r]["data"] for r in vae_runs("simulation")})


def vae_comparison_inputs(wildcards):
    return {
        "metrics": expand("results/vae/{run}/metrics.tsv", run=vae_runs("simulation")),
        "baselines": expand("results/vae/baselines/{simulation}.tsv", simulation=vae_compared_simulations()),
    }


def vae_comparison_params(wildcards=None):
    return {
        "runs": vae_runs("simulation"),
        "run_data": {r: FACTS["vae"]["runs"][r]["data"] for r in vae_runs("simulation")},
        "simulations": vae_compared_simulations(),
    }
