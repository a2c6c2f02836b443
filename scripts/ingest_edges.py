"""Read and validate an edge list (and node table) into a sparse graph (rule ingest_edges)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
from figureflow.data.ingest import read_graph
from figureflow.io import write_graph
from figureflow.runtime import job

with job(snakemake) as log:
    spec = dict(snakemake.params.spec, edges=snakemake.input.edges, nodes=snakemake.input.get("nodes"))
    adjacency, nodes = read_graph(spec, snakemake.wildcards.graph, snakemake.params.computed)
    log.info("%d nodes, %d distinct edges (duplicates summed)", adjacency.shape[0], adjacency.nnz)
    loops = int((adjacency.diagonal() != 0).sum())
    if loops:
        log.info("%d self-loop(s): kept in the graph, left out of signal flow and of groups.tsv", loops)
    write_graph(adjacency, nodes, snakemake.output.graph, snakemake.output.nodes)
