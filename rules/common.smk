# Helpers for inputs, params, resources and targets. No rule lives here.
import re
import sys
from pathlib import Path

import numpy as np

# The workflow's own figureflow, first on sys.path whether or not another copy is installed:
# the same module that every script imports first.
sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))
import _figureflow_src  # noqa: F401

from figureflow.config import (
    computed_node_columns,
    ingested,
    preflight,
    signal_flow_graphs,
    simulated,
)

SCHEMA = Path(workflow.basedir) / "schemas" / "config.schema.yaml"

# dataset and graph names (the schema enforces the same pattern)
NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9_-]*"

def check_config(config):
    """Validate the config against its schema and check every input it names (figureflow.config.preflight).

    An InputError raised here stops snakemake before any job, with a message that names the
    key or file to fix and where it was set. Returns what the checks learnt (each Jacobian map's
    dimensions and user code).
    """
    return preflight(config, SCHEMA, workflow.configfiles, dict(workflow.config_settings.config), base=".")


def names_regex(names):
    """A wildcard regex matching exactly these names (and nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


def simulated_datasets():
    return names_regex(simulated(config, "datasets"))


def ingested_datasets():
    return names_regex(ingested(config, "datasets"))


def simulated_graphs():
    return names_regex(simulated(config, "graphs"))


def ingested_graphs():
    return names_regex(ingested(config, "graphs"))


# ---------------------------------------------------------------- inputs and params


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


# ---------------------------------------------------------------- resources


def scrna_mem_mb(wildcards):
    """Simulation memory: about 24 bytes per matrix entry at peak, plus the interpreter."""
    sim = config["datasets"][wildcards.dataset]["simulate"]
    return int(1000 + 24 * sim["n_cells"] * sim["n_genes"] / 1e6)


def sbm_expected_edges(spec):
    from figureflow.data.sbm import sbm_parameters

    sizes, P = sbm_parameters(spec["sbm"], "graph")
    return float((np.outer(sizes, sizes) * P).sum())


def sbm_mem_mb(wildcards):
    """SBM memory: about 100 bytes per expected edge at peak (indices, weights, CSR)."""
    return int(1000 + 100 * sbm_expected_edges(config["graphs"][wildcards.graph]) / 1e6)


def signal_flow_options(wildcards):
    """Solver options of the signal_flow section, as keyword arguments of figureflow.signal_flow."""
    section = config["signal_flow"]
    return {
        "solver": section["solver"],
        "tol": section["tolerance"],
        "max_dense_nodes": section["max_dense_nodes"],
    }


def jacobian_options(wildcards):
    """Estimator settings of the jacobian section."""
    section = config["jacobian"]
    return {k: section[k] for k in ("estimators", "sample_sizes", "scrambles")}


def jacobian_map_spec(wildcards):
    return config["jacobian"]["maps"][wildcards.map]


def jacobian_map_code(wildcards):
    """The user's module behind a map (none for built-ins): editing it reruns what uses the map."""
    return FACTS["jacobian"][wildcards.map]["code"]


def jacobian_maps_into_3d():
    """Maps whose data space is 3-D: their latent grid's image is drawn as a surface or curve."""
    return names_regex([m for m, facts in FACTS["jacobian"].items() if facts["dims"][1] == 3])


def signal_flow_mem_mb(wildcards, input):
    """Signal-flow memory: ~60x the compressed graph file (CSR, transpose, Laplacian, CG vectors)."""
    return int(max(2000, 1000 + 60 * input.size_mb))


# ---------------------------------------------------------------- targets


def data_targets():
    targets = []
    for dataset in config.get("datasets", {}):
        targets += [
            f"results/processed/{dataset}.h5ad",
            f"results/processed/{dataset}.qc.tsv",
            f"results/figures/data/{dataset}.embedding.png",
            f"results/figures/data/{dataset}.embedding.pdf",
        ]
    for graph in config.get("graphs", {}):
        targets += [
            f"results/graphs/{graph}.npz",
            f"results/graphs/{graph}.nodes.tsv",
            f"results/graphs/{graph}.groups.tsv",
            f"results/figures/data/{graph}.adjacency.png",
            f"results/figures/data/{graph}.adjacency.pdf",
        ]
    return targets


def signal_flow_targets():
    targets = []
    sbm_graphs = set(simulated(config, "graphs"))
    for graph in signal_flow_graphs(config):
        targets += [
            f"results/signal_flow/{graph}/nodes.tsv",
            f"results/signal_flow/{graph}/summary.tsv",
            f"results/figures/signal_flow/{graph}.z_by_group.png",
            f"results/figures/signal_flow/{graph}.z_by_group.pdf",
            f"results/figures/signal_flow/{graph}.adjacency_by_z.png",
            f"results/figures/signal_flow/{graph}.adjacency_by_z.pdf",
        ]
        if graph in sbm_graphs:
            targets += [
                f"results/figures/signal_flow/{graph}.block_means.png",
                f"results/figures/signal_flow/{graph}.block_means.pdf",
            ]
    return targets


def jacobian_targets():
    targets = []
    for name, facts in FACTS["jacobian"].items():
        D = facts["dims"][1]
        targets += [f"results/jacobian/{name}/estimates.tsv"]
        figures = ["error_vs_n", "volume"] + (["image"] if D == 3 else [])
        for figure in figures:
            targets += [f"results/figures/jacobian/{name}.{figure}.png", f"results/figures/jacobian/{name}.{figure}.pdf"]
    return targets


def all_targets():
    """The final targets of the workflow; each method adds its own here."""
    return data_targets() + signal_flow_targets() + jacobian_targets()
