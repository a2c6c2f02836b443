# The helpers of rules/paper.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


def paper_provenance_record(wildcards=None):
    """What made the paper figures (figureflow.provenance): this workflow's commit, the effective config's digest."""
    from figureflow.provenance import git_commit, provenance

    return provenance(config, git_commit(FIGUREFLOW_DIR))


def paper_figure_options(wildcards):
    """The method's paper options (figureflow.paper.paper_options), as checked before any job."""
    return FACTS["paper"][wildcards.method]


def paper_inputs(wildcards):
    """The tables a method's paper figure is drawn from (figureflow.paper.paper_inputs)."""
    from figureflow.paper import paper_inputs as inputs

    return inputs(wildcards.method, FACTS["paper"][wildcards.method])
