# The data layer: simulated or ingested single-cell data and graphs, preprocessing, overviews.


include: "helpers/data.smk"


rule simulate_scrna:
    output:
        "results/data/{dataset}.h5ad",
    params:
        seed=config["seed"],
        spec=dataset_spec,
    wildcard_constraints:
        dataset=simulated_datasets(),
    log:
        "logs/simulate_scrna/{dataset}.log",
    benchmark:
        "results/benchmarks/simulate_scrna/{dataset}.tsv"
    threads: dataset_matrix_threads
    priority: 50  # the head of the longest chains (aging, the embedding's CNF and VAE): above the sum of the CNFs' priorities (10 each), so it starts before them
    resources:
        mem_mb=scrna_mem_mb,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/simulate_scrna.py"


rule ingest_h5ad:
    input:
        h5ad_file,
    output:
        "results/data/{dataset}.h5ad",
    params:
        spec=dataset_spec,
    wildcard_constraints:
        dataset=ingested_datasets(),
    log:
        "logs/ingest_h5ad/{dataset}.log",
    benchmark:
        "results/benchmarks/ingest_h5ad/{dataset}.tsv"
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/ingest_h5ad.py"


rule preprocess_scrna:
    input:
        "results/data/{dataset}.h5ad",
    output:
        h5ad="results/processed/{dataset}.h5ad",
        qc="results/processed/{dataset}.qc.tsv",
    wildcard_constraints:
        dataset=count_datasets(),
    params:
        seed=config["seed"],
        options=config["preprocess"],
    log:
        "logs/preprocess_scrna/{dataset}.log",
    benchmark:
        "results/benchmarks/preprocess_scrna/{dataset}.tsv"
    threads: dataset_matrix_threads
    priority: 50
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/preprocess_scrna.py"


rule keep_processed:
    input:
        "results/data/{dataset}.h5ad",
    output:
        "results/processed/{dataset}.h5ad",
    wildcard_constraints:
        dataset=processed_datasets(),
    log:
        "logs/keep_processed/{dataset}.log",
    threads: 1
    resources:
        mem_mb=8000,
        runtime=15,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/keep_processed.py"


rule plot_embedding:
    input:
        "results/processed/{dataset}.h5ad",
    output:
        **figure(
            "results/figures/data/{dataset}.embedding",
            "embedding.rst",
            "Data",
            "Single-cell datasets",
            {"dataset": "{dataset}", "figure": "embedding"},
        ),
    params:
        seed=config["seed"],
        max_points=config["plotting"]["max_points"],
    log:
        "logs/plot_embedding/{dataset}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/plot_embedding.py"


rule simulate_sbm:
    output:
        graph="results/graphs/{graph}.npz",
        nodes="results/graphs/{graph}.nodes.tsv",
    params:
        seed=config["seed"],
        spec=graph_spec,
    wildcard_constraints:
        graph=simulated_graphs(),
    log:
        "logs/simulate_sbm/{graph}.log",
    benchmark:
        "results/benchmarks/simulate_sbm/{graph}.tsv"
    threads: graph_threads
    resources:
        mem_mb=sbm_mem_mb,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/simulate_sbm.py"


rule ingest_edges:
    input:
        unpack(edge_list_files),
    output:
        graph="results/graphs/{graph}.npz",
        nodes="results/graphs/{graph}.nodes.tsv",
    params:
        spec=graph_spec,
        computed=node_columns_computed,
    wildcard_constraints:
        graph=ingested_graphs(),
    log:
        "logs/ingest_edges/{graph}.log",
    threads: 1
    resources:
        mem_mb=8000,
        runtime=30,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/ingest_edges.py"


rule graph_overview:
    input:
        graph="results/graphs/{graph}.npz",
        nodes="results/graphs/{graph}.nodes.tsv",
    output:
        groups="results/graphs/{graph}.groups.tsv",
        **figure(
            "results/figures/data/{graph}.adjacency",
            "adjacency.rst",
            "Data",
            "Graphs",
            {"graph": "{graph}", "figure": "adjacency"},
        ),
    params:
        spec=graph_spec,
        group_by=graph_group_by,
        max_bins=config["plotting"]["adjacency_bins"],
    log:
        "logs/graph_overview/{graph}.log",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/graph_overview.py"
