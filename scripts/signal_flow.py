"""Signal flow z of every node, trophic incoherence and downhill fraction of a graph (rule signal_flow)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)

from figureflow.io import read_graph_files, write_table
from figureflow.runtime import job
from figureflow.signal_flow import nodes_frame, signal_flow, summary_frame

with job(snakemake) as log:
    adjacency, nodes = read_graph_files(snakemake.input.graph, snakemake.input.nodes)
    log.info("%d nodes, %d edges; solver %s", adjacency.shape[0], adjacency.nnz, snakemake.params.options["solver"])
    result = signal_flow(adjacency, name=f"graph '{snakemake.wildcards.graph}'", log=log, n_threads=snakemake.threads, **snakemake.params.options)
    log.info(
        "solver %s (%s): %d iterations, residual %.2e, %.2f s; %d components, %d isolated nodes",
        result.solver, result.method, result.iterations, result.residual, result.seconds, result.n_components, result.n_isolated,
    )
    log.info("trophic incoherence %.4f, downhill fraction %.4f", result.trophic_incoherence, result.downhill_fraction)
    write_table(nodes_frame(result, nodes), snakemake.output.nodes)
    write_table(summary_frame(result), snakemake.output.summary)
