# The helpers of rules/data.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


def simulated_datasets():
    return names_regex(simulated(config, "datasets"))


def ingested_datasets():
    return names_regex(ingested(config, "datasets"))


def processed_datasets():
    return names_regex(processed(config))


def count_datasets():
    return names_regex([d for d in config.get("datasets", {}) if d not in processed(config)])


def simulated_graphs():
    return names_regex(simulated(config, "graphs"))


def ingested_graphs():
    return names_regex(ingested(config, "graphs"))


def dataset_spec(wildcards):
    """The dataset's config section (defaults filled)."""
    return config["datasets"][wildcards.dataset]


def h5ad_file(wildcards):
    return config["datasets"][wildcards.dataset]["h5ad"]


def graph_spec(wildcards):
    """The graph's config section (defaults filled)."""
    return config["graphs"][wildcards.graph]


def edge_list_files(wildcards):
    spec = config["graphs"][wildcards.graph]
    files = {"edges": spec["edges"]}
    if spec.get("nodes"):
        files["nodes"] = spec["nodes"]
    return files


def node_columns_computed(wildcards):
    """Per-node columns that methods compute, which a node table may not carry."""
    return computed_node_columns()


def graph_group_by(wildcards):
    """The graph's group_by (None: figureflow.io.node_groups picks the node table's first column)."""
    return config["graphs"][wildcards.graph].get("group_by")


def scrna_mem_mb(wildcards):
    """Simulation memory: about 24 bytes per matrix entry at peak, plus the interpreter."""
    sim = config["datasets"][wildcards.dataset]["simulate"]
    return int(1000 + 24 * sim["n_cells"] * sim["n_genes"] / 1e6)


def sbm_mem_mb(wildcards):
    """SBM memory: about 100 bytes per expected edge at peak (indices, weights, CSR)."""
    return int(1000 + 100 * expected_edges(config["graphs"][wildcards.graph]) / 1e6)


def dataset_matrix_threads(wildcards):
    """Simulation and preprocessing: two threads from 10^8 matrix entries (cells x genes)."""
    cells, genes = FACTS["data"]["datasets"][wildcards.dataset]["shape"]
    return 2 if cells * genes >= two_threads_from("matrix_entries") else 1
