"""Draw a directed stochastic block model in O(edges) (rule simulate_sbm)."""

import _figureflow_src  # noqa: F401  (this workflow's src/ first on sys.path)
import pandas as pd

from figureflow.data.sbm import sbm_parameters, simulate_sbm
from figureflow.io import write_graph
from figureflow.runtime import job, wildcards_dict
from figureflow.seeding import seed_sequence

with job(snakemake) as log:
    spec = snakemake.params.spec["sbm"]
    sizes, P = sbm_parameters(spec, snakemake.wildcards.graph)
    weights = (spec["weights"]["low"], spec["weights"]["high"]) if "weights" in spec else None
    stream = seed_sequence(snakemake.params.seed, snakemake.rule, wildcards_dict(snakemake))
    adjacency, blocks = simulate_sbm(sizes, P, stream, weights=weights, n_threads=snakemake.threads)
    log.info("%d nodes in %d blocks, %d edges", adjacency.shape[0], sizes.size, adjacency.nnz)
    nodes = pd.DataFrame({"node": range(adjacency.shape[0]), "block": blocks})
    write_graph(adjacency, nodes, snakemake.output.graph, snakemake.output.nodes)
