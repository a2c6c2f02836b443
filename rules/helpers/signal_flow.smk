# The helpers of rules/signal_flow.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


def signal_flow_options(wildcards):
    """Solver options of the signal_flow section, as keyword arguments of figureflow.signal_flow."""
    section = config["signal_flow"]
    return {
        "solver": section["solver"],
        "tol": section["tolerance"],
        "max_dense_nodes": section["max_dense_nodes"],
    }


def signal_flow_mem_mb(wildcards, input):
    """Signal-flow memory: the graph file (uncompressed CSR) about 6 times over (the matrix, its
    transpose, the node table, the CG vectors), and 1 GB for the interpreter and libraries."""
    return int(max(2000, 1000 + 6 * input.size_mb))
