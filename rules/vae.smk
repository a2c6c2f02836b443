# beta-VAE: data with known factors, training (each seed replicate of a run its own job, gathered per run), baselines,
# the disentanglement comparison and the figures drawn from their tables.


include: "helpers/vae.smk"


rule vae_simulate:
    output:
        "results/vae/simulations/{simulation}.npz",
    params:
        seed=config["seed"],
        spec=vae_simulation_spec,
    log:
        "logs/vae_simulate/{simulation}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/vae.yaml"
    script:
        "../scripts/vae_simulate.py"


rule vae_train:
    input:
        data=vae_run_data,
    output:
        model="results/vae/{run}/replicate_{replicate}/model.pt",
        history="results/vae/{run}/replicate_{replicate}/history.tsv",
        metrics="results/vae/{run}/replicate_{replicate}/metrics.tsv",
        latent="results/vae/{run}/replicate_{replicate}/latent.npz",
    params:
        seed=config["seed"],
        options=vae_run_options,
        figures=vae_figure_options,
        checkpoint=vae_checkpoint,
    wildcard_constraints:
        run=names_regex(list(FACTS["vae"]["runs"])),
        replicate=r"\d+",
    log:
        "logs/vae_train/{run}/replicate_{replicate}.log",
    benchmark:
        "results/benchmarks/vae_train/{run}/replicate_{replicate}.tsv"
    threads: 1  # small models: one thread each, replicates and runs side by side
    resources:
        mem_mb=vae_mem_mb,
        runtime=vae_runtime,
        gpu=training_gpus("vae"),
    conda:
        "../envs/vae.yaml"
    script:
        "../scripts/vae_train.py"


rule vae_gather:
    input:
        unpack(vae_replicate_outputs),
    output:
        model="results/vae/{run}/model.pt",
        history="results/vae/{run}/history.tsv",
        metrics="results/vae/{run}/metrics.tsv",
        latent="results/vae/{run}/latent.npz",
    params:
        options=vae_run_options,
    wildcard_constraints:
        run=names_regex(vae_runs("simulation")),
    log:
        "logs/vae_gather/{run}.log",
    threads: 1
    resources:
        mem_mb=vae_mem_mb,
        runtime=10,
    conda:
        "../envs/vae.yaml"
    script:
        "../scripts/vae_gather.py"


use rule vae_gather as vae_gather_dataset with:
    output:
        model="results/vae/{run}/model.pt",
        history="results/vae/{run}/history.tsv",
        metrics="results/vae/{run}/metrics.tsv",
        latent="results/vae/{run}/latent.npz",
        latent_h5ad="results/vae/{run}/latent.h5ad",
    wildcard_constraints:
        run=names_regex(vae_runs("dataset")),
    log:
        "logs/vae_gather_dataset/{run}.log",


rule vae_baselines:
    input:
        "results/vae/simulations/{simulation}.npz",
    output:
        "results/vae/baselines/{simulation}.tsv",
    params:
        seed=config["seed"],
        baselines=config["vae"]["baselines"],
        replicates=config["vae"]["baseline_replicates"],
        latent_dim=vae_baseline_latent_dim,
        counts=vae_simulation_is_counts,
    log:
        "logs/vae_baselines/{simulation}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=20,
    conda:
        "../envs/vae.yaml"
    script:
        "../scripts/vae_baselines.py"


rule vae_comparison:
    input:
        unpack(vae_comparison_inputs),
    output:
        scores="results/vae/scores.tsv",
        summary="results/vae/comparison.tsv",
    params:
        **vae_comparison_params(),
    log:
        "logs/vae_comparison/comparison.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/vae.yaml"
    script:
        "../scripts/vae_comparison.py"


rule plot_vae_run:
    input:
        history="results/vae/{run}/history.tsv",
        metrics="results/vae/{run}/metrics.tsv",
        latent="results/vae/{run}/latent.npz",
        replicates=vae_replicate_files("latent"),
    output:
        **figure(
            "results/figures/vae/{run}.training",
            "vae_training.rst",
            "beta-VAE",
            "{run}",
            {"run": "{run}", "figure": "training curves"},
            name="training",
        ),
        **figure(
            "results/figures/vae/{run}.traversal",
            "vae_traversal.rst",
            "beta-VAE",
            "{run}",
            {"run": "{run}", "figure": "latent traversals"},
            name="traversal",
        ),
        **figure(
            "results/figures/vae/{run}.latent",
            "vae_latent.rst",
            "beta-VAE",
            "{run}",
            {"run": "{run}", "figure": "latent space"},
            name="latent",
        ),
    log:
        "logs/plot_vae_run/{run}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/plot_vae_run.py"


rule plot_vae_comparison:
    input:
        scores="results/vae/scores.tsv",
    output:
        **figure(
            "results/figures/vae/comparison",
            "vae_comparison.rst",
            "beta-VAE",
            "comparison",
            {"figure": "disentanglement comparison"},
        ),
    log:
        "logs/plot_vae_comparison/comparison.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/plotting.yaml"
    script:
        "../scripts/plot_vae_comparison.py"
