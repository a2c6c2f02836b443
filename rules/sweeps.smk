# Seeded sweeps: an experiment over replicates and a parameter grid, split into chunks and gathered.


include: "helpers/sweeps.smk"


rule sweep_chunk:
    output:
        "results/sweeps/{sweep}/chunks/{chunk}.tsv",
    params:
        seed=config["seed"],
        spec=sweep_spec,
    log:
        "logs/sweep_chunk/{sweep}/{chunk}.log",
    benchmark:
        "results/benchmarks/sweep_chunk/{sweep}/{chunk}.tsv"
    threads: sweep_chunk_threads
    resources:
        mem_mb=2000,
        runtime=60,
    conda:
        "../envs/sweeps.yaml"
    script:
        "../scripts/sweep_chunk.py"


rule sweep_gather:
    input:
        sweep_chunk_files,
    output:
        replicates="results/sweeps/{sweep}/replicates.tsv",
        summary="results/sweeps/{sweep}/summary.tsv",
        example="results/sweeps/{sweep}/example.npz",
    params:
        seed=config["seed"],
        spec=sweep_spec,
    log:
        "logs/sweep_gather/{sweep}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/sweeps.yaml"
    script:
        "../scripts/sweep_gather.py"


rule plot_sweep:
    input:
        replicates="results/sweeps/{sweep}/replicates.tsv",
        example="results/sweeps/{sweep}/example.npz",
    output:
        **figure(
            "results/figures/sweeps/{sweep}.distribution",
            "sweep_distribution.rst",
            "Seeded sweeps",
            "{sweep}",
            {"sweep": "{sweep}", "figure": "distribution of the difference"},
            name="distribution",
        ),
        **figure(
            "results/figures/sweeps/{sweep}.example",
            "sweep_example.rst",
            "Seeded sweeps",
            "{sweep}",
            {"sweep": "{sweep}", "figure": "example dataset"},
            name="example",
        ),
    params:
        grid=sweep_grid_columns,
    log:
        "logs/plot_sweep/{sweep}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/plot_sweep.py"


rule plot_sweep_grid:
    input:
        summary="results/sweeps/{sweep}/summary.tsv",
    output:
        **figure(
            "results/figures/sweeps/{sweep}.grid",
            "sweep_grid.rst",
            "Seeded sweeps",
            "{sweep}",
            {"sweep": "{sweep}", "figure": "mean difference over the grid"},
        ),
    params:
        grid=sweep_grid_columns,
    wildcard_constraints:
        sweep=sweeps_with_2d_grid(),
    log:
        "logs/plot_sweep_grid/{sweep}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/plot_sweep_grid.py"
