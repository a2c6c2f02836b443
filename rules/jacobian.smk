# The Jacobian measure sampler: E[sqrt(det(J^T J))] of maps from latent to data space.


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
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    conda:
        "../envs/jacobian.yaml"
    script:
        "../scripts/jacobian_estimates.py"


rule plot_jacobian:
    input:
        estimates="results/jacobian/{map}/estimates.tsv",
        code=jacobian_map_code,
    output:
        error_png=report(
            "results/figures/jacobian/{map}.error_vs_n.png",
            caption="../report/jacobian_error.rst",
            category="Jacobian measure",
            subcategory="{map}",
            labels={"map": "{map}", "figure": "error vs n", "format": "PNG"},
        ),
        error_pdf=report(
            "results/figures/jacobian/{map}.error_vs_n.pdf",
            caption="../report/jacobian_error.rst",
            category="Jacobian measure",
            subcategory="{map}",
            labels={"map": "{map}", "figure": "error vs n", "format": "PDF"},
        ),
        volume_png=report(
            "results/figures/jacobian/{map}.volume.png",
            caption="../report/jacobian_volume.rst",
            category="Jacobian measure",
            subcategory="{map}",
            labels={"map": "{map}", "figure": "D(z) over the latent grid", "format": "PNG"},
        ),
        volume_pdf=report(
            "results/figures/jacobian/{map}.volume.pdf",
            caption="../report/jacobian_volume.rst",
            category="Jacobian measure",
            subcategory="{map}",
            labels={"map": "{map}", "figure": "D(z) over the latent grid", "format": "PDF"},
        ),
    params:
        seed=config["seed"],
        spec=jacobian_map_spec,
        grid_size=config["jacobian"]["grid_size"],
        grid_extent=config["jacobian"]["grid_extent"],
    log:
        "logs/plot_jacobian/{map}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/jacobian.yaml"
    script:
        "../scripts/plot_jacobian.py"


rule plot_jacobian_image:
    input:
        code=jacobian_map_code,
    output:
        png=report(
            "results/figures/jacobian/{map}.image.png",
            caption="../report/jacobian_image.rst",
            category="Jacobian measure",
            subcategory="{map}",
            labels={"map": "{map}", "figure": "image coloured by D", "format": "PNG"},
        ),
        pdf=report(
            "results/figures/jacobian/{map}.image.pdf",
            caption="../report/jacobian_image.rst",
            category="Jacobian measure",
            subcategory="{map}",
            labels={"map": "{map}", "figure": "image coloured by D", "format": "PDF"},
        ),
    params:
        seed=config["seed"],
        spec=jacobian_map_spec,
        grid_extent=config["jacobian"]["grid_extent"],
    wildcard_constraints:
        map=jacobian_maps_into_3d(),
    log:
        "logs/plot_jacobian_image/{map}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/jacobian.yaml"
    script:
        "../scripts/plot_jacobian_image.py"
