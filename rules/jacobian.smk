# The Jacobian measure sampler: E[sqrt(det(J^T J))] of maps from latent to data space.


include: "helpers/jacobian.smk"


rule jacobian_estimates:
    input:
        code=jacobian_map_code,
    output:
        "results/jacobian/{map}/estimates.tsv",
    params:
        seed=config["seed"],
        spec=jacobian_map_spec,
        options=jacobian_options,
    log:
        "logs/jacobian_estimates/{map}.log",
    benchmark:
        "results/benchmarks/jacobian_estimates/{map}.tsv"
    threads: jacobian_threads
    resources:
        mem_mb=jacobian_mem_mb,
        runtime=30,
    conda:
        "../envs/jacobian.yaml"
    script:
        "../scripts/jacobian_estimates.py"


rule jacobian_grid:
    input:
        code=jacobian_map_code,
    output:
        "results/jacobian/{map}/grid.npz",
    params:
        seed=config["seed"],
        spec=jacobian_map_spec,
        grid=jacobian_grid_options,
    log:
        "logs/jacobian_grid/{map}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/jacobian.yaml"
    script:
        "../scripts/jacobian_grid.py"


rule plot_jacobian:
    input:
        estimates="results/jacobian/{map}/estimates.tsv",
        grid="results/jacobian/{map}/grid.npz",
    output:
        **figure(
            "results/figures/jacobian/{map}.error_vs_n",
            "jacobian_error.rst",
            "Jacobian measure",
            "{map}",
            {"map": "{map}", "figure": "error vs n"},
            name="error",
        ),
        **figure(
            "results/figures/jacobian/{map}.volume",
            "jacobian_volume.rst",
            "Jacobian measure",
            "{map}",
            {"map": "{map}", "figure": "D(z) over the latent grid"},
            name="volume",
        ),
    log:
        "logs/plot_jacobian/{map}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/plot_jacobian.py"


rule plot_jacobian_image:
    input:
        grid="results/jacobian/{map}/grid.npz",
    output:
        **figure(
            "results/figures/jacobian/{map}.image",
            "jacobian_image.rst",
            "Jacobian measure",
            "{map}",
            {"map": "{map}", "figure": "image coloured by D"},
        ),
    wildcard_constraints:
        map=jacobian_maps_into_3d(),
    log:
        "logs/plot_jacobian_image/{map}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/plot_jacobian_image.py"
