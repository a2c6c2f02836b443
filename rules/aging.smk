# Aging magnitudes: per cell type, bootstrapped OT distance between old and young cells over a null.


include: "helpers/aging.smk"


rule aging_cell_type:
    input:
        "results/processed/{dataset}.h5ad",
    output:
        magnitude="results/aging/{dataset}/cell_types/{cell_type}.magnitude.tsv",
        bootstraps="results/aging/{dataset}/cell_types/{cell_type}.bootstraps.tsv",
    params:
        seed=config["seed"],
        options=config["aging"],
        cell_type=aging_cell_type_name,
    log:
        "logs/aging_cell_type/{dataset}/{cell_type}.log",
    benchmark:
        "results/benchmarks/aging_cell_type/{dataset}/{cell_type}.tsv"
    threads: aging_cell_type_threads
    resources:
        mem_mb=aging_mem_mb,
        runtime=60,
    conda:
        "../envs/aging.yaml"
    script:
        "../scripts/aging_cell_type.py"


rule aging_magnitudes:
    input:
        h5ad="results/processed/{dataset}.h5ad",
        magnitudes=aging_cell_type_files("magnitude"),
        bootstraps=aging_cell_type_files("bootstraps"),
    output:
        magnitudes="results/aging/{dataset}/magnitudes.tsv",
        bootstraps="results/aging/{dataset}/bootstraps.tsv",
        plan="results/aging/{dataset}/transport_plan.npz",
    params:
        seed=config["seed"],
        options=config["aging"],
    log:
        "logs/aging_magnitudes/{dataset}.log",
    benchmark:
        "results/benchmarks/aging_magnitudes/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=aging_mem_mb,
        runtime=15,
    conda:
        "../envs/aging.yaml"
    script:
        "../scripts/aging_magnitudes.py"


rule aging_trajectories:
    input:
        "results/processed/{dataset}.h5ad",
    output:
        "results/aging/{dataset}/trajectories.tsv",
    params:
        seed=config["seed"],
        options=config["aging"],
    log:
        "logs/aging_trajectories/{dataset}.log",
    benchmark:
        "results/benchmarks/aging_trajectories/{dataset}.tsv"
    threads: 1  # the NMF runs BLAS on one thread, so that its programs do not depend on the thread count
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/aging.yaml"
    script:
        "../scripts/aging_trajectories.py"


rule plot_aging:
    input:
        magnitudes="results/aging/{dataset}/magnitudes.tsv",
        plan="results/aging/{dataset}/transport_plan.npz",
        trajectories="results/aging/{dataset}/trajectories.tsv",
    output:
        **figure(
            "results/figures/aging/{dataset}.magnitudes",
            "aging_magnitudes.rst",
            "Aging",
            "{dataset}",
            {"dataset": "{dataset}", "figure": "magnitudes"},
            name="magnitudes",
        ),
        **figure(
            "results/figures/aging/{dataset}.transport_plan",
            "aging_transport_plan.rst",
            "Aging",
            "{dataset}",
            {"dataset": "{dataset}", "figure": "transport plan"},
            name="plan",
        ),
        **figure(
            "results/figures/aging/{dataset}.trajectories",
            "aging_trajectories.rst",
            "Aging",
            "{dataset}",
            {"dataset": "{dataset}", "figure": "trajectory cosines"},
            name="trajectories",
        ),
    log:
        "logs/plot_aging/{dataset}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/plot_aging.py"
