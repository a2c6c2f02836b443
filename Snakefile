# figureflow: from a blog-post analysis to a figure in a paper.
# This file is the table of contents; each stage lives in rules/<stage>.smk.
from snakemake.utils import min_version

min_version("9.0")


# The built-in demo; `--configfile my.yaml` replaces it (rather than merging into it), while
# `--config key=value` changes single values of whichever config is in use.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "rules/common.smk"


wildcard_constraints:
    dataset=NAME_PATTERN,
    graph=NAME_PATTERN,
    map=NAME_PATTERN,
    cell_type=NAME_PATTERN,
    sweep=NAME_PATTERN,
    chunk="[0-9]+",
    run=NAME_PATTERN,
    simulation=NAME_PATTERN,
    method=NAME_PATTERN,



# Config files read for repeated keys, schema check (defaults filled, unknown keys rejected, the
# file and line or --config named), input checks: all before any job.
FACTS = check_config(config)


report: "report/workflow.rst"


onstart:
    check_local_devices()
    check_cluster()


include: "rules/data.smk"
include: "rules/signal_flow.smk"
include: "rules/jacobian.smk"
include: "rules/aging.smk"
include: "rules/sweeps.smk"
include: "rules/vae.smk"
include: "rules/cnf.smk"
include: "rules/paper.smk"


rule all:
    input:
        all_targets(),
    default_target: True
