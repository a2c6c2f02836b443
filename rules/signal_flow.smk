# Signal flow: the hierarchy coordinate z of every node (L z = b), and how feedforward each graph is.


include: "helpers/signal_flow.smk"


rule signal_flow:
    input:
        graph="results/graphs/{graph}.npz",
        nodes="results/graphs/{graph}.nodes.tsv",
    output:
        nodes="results/signal_flow/{graph}/nodes.tsv",
        summary="results/signal_flow/{graph}/summary.tsv",
    params:
        options=signal_flow_options,
    log:
        "logs/signal_flow/{graph}.log",
    benchmark:
        "results/benchmarks/signal_flow/{graph}.tsv"
    threads: graph_threads
    resources:
        mem_mb=signal_flow_mem_mb,
        runtime=60,
    conda:
        "../envs/signal_flow.yaml"
    script:
        "../scripts/signal_flow.py"


rule plot_signal_flow:
    input:
        graph="results/graphs/{graph}.npz",
        nodes="results/signal_flow/{graph}/nodes.tsv",
        summary="results/signal_flow/{graph}/summary.tsv",
    output:
        **figure(
            "results/figures/signal_flow/{graph}.z_by_group",
            "signal_flow_groups.rst",
            "Signal flow",
            "{graph}",
            {"graph": "{graph}", "figure": "z by group"},
            name="groups",
        ),
        **figure(
            "results/figures/signal_flow/{graph}.adjacency_by_z",
            "signal_flow_adjacency.rst",
            "Signal flow",
            "{graph}",
            {"graph": "{graph}", "figure": "adjacency by z"},
            name="adjacency",
        ),
    params:
        seed=config["seed"],
        group_by=graph_group_by,
        max_bins=config["plotting"]["adjacency_bins"],
    log:
        "logs/plot_signal_flow/{graph}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    conda:
        "../envs/signal_flow.yaml"
    script:
        "../scripts/plot_signal_flow.py"


rule plot_signal_flow_blocks:
    input:
        nodes="results/signal_flow/{graph}/nodes.tsv",
    output:
        **figure(
            "results/figures/signal_flow/{graph}.block_means",
            "signal_flow_blocks.rst",
            "Signal flow",
            "{graph}",
            {"graph": "{graph}", "figure": "mean z per block"},
        ),
    wildcard_constraints:
        graph=simulated_graphs(),
    log:
        "logs/plot_signal_flow_blocks/{graph}.log",
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/signal_flow.yaml"
    script:
        "../scripts/plot_signal_flow_blocks.py"
