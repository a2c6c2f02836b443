# Helpers for inputs, params, resources and targets. No rule lives here.
import re
import sys
from pathlib import Path

import numpy as np

# This workflow's own directory (the Snakefile's), also when another workflow imports it as a
# module (then workflow.basedir is the importer's): schema, captions, scripts and src live here.
FIGUREFLOW_DIR = Path(str(workflow.current_basedir)).parent

# The workflow's own figureflow, first on sys.path whether or not another copy is installed:
# the same module that every script imports first.
sys.path.insert(0, str(FIGUREFLOW_DIR / "scripts"))
import _figureflow_src  # noqa: F401

from figureflow.aging import aging_datasets, cell_type_job_mb
from figureflow.config import computed_node_columns, facts_cache, preflight, read_facts, write_facts
from figureflow.data.checks import expected_edges, ingested, processed, simulated
from figureflow.io import InputError
from figureflow.signal_flow import signal_flow_graphs
from figureflow.sweeps import grid_points

SCHEMA = FIGUREFLOW_DIR / "schemas" / "config.schema.yaml"

# dataset and graph names (the schema enforces the same pattern)
NAME_PATTERN = "[A-Za-z0-9][A-Za-z0-9_-]*"

# every figure is written in each of these formats (figureflow.plotting.style.save_figure)
FIGURE_FORMATS = ("png", "pdf")

def check_config(config):
    """Validate the config against its schema and check every input it names (figureflow.config.preflight).

    An InputError raised here stops snakemake before any job, with a message that names the
    key or file to fix and where it was set. Returns what the checks learnt (each Jacobian map's
    dimensions and user code). A training run's ``device`` is checked for its spelling only: whether
    the GPU of ``device: cuda`` exists is known where the jobs run (:func:`check_local_devices`).

    A job on a cluster node reads the facts that the main process learnt for the same config
    (figureflow.config.facts_cache) instead of checking every input again.
    """
    cache = facts_cache(config)
    known = read_facts(cache) if workflow.remote_exec else None
    try:
        facts = preflight(config, SCHEMA, workflow.configfiles, dict(workflow.config_settings.config), base=".", devices_here=False, known=known)
    except InputError as error:
        # a user's typo gets its sentence alone: snakemake prints an error raised while the
        # Snakefile is read with the frames of Snakefile and common.smk, which say nothing to fix
        print(f"figureflow: {error}", file=sys.stderr)
        sys.exit(1)
    if workflow.is_main_process:
        write_facts(cache, facts)
    return facts


def check_local_devices():
    """Before the first job of a local run: every training run's ``device`` is on this machine.
    A run submitted to a cluster (whose login node need not have a GPU) leaves it to each job."""
    if workflow.local_exec:
        from figureflow.generative.settings import check_devices
        from figureflow.io import InputError

        try:
            check_devices(config)
        except InputError as error:  # said as one line, like the checks while parsing
            raise WorkflowError(str(error)) from None


def check_cluster():
    """Before the first submission to SLURM: the status command can see jobs finish
    (figureflow.cluster.check_slurm_status_command), or the run stops with the profile key to set."""
    plugin = workflow.executor_plugin
    if plugin is None or plugin.name != "slurm":
        return
    from figureflow.cluster import check_slurm_status_command
    from figureflow.io import InputError

    try:
        check_slurm_status_command(getattr(workflow.executor_settings, "status_command", None))
    except InputError as error:  # said as one line, like the checks while parsing
        raise WorkflowError(str(error)) from None


def names_regex(names):
    """A wildcard regex matching exactly these names (and nothing when there are none)."""
    return "|".join(re.escape(n) for n in names) if names else "(?!x)x"


# ---------------------------------------------------------------- figures


def figure(stem, caption, category, subcategory, labels, name=None):
    """A figure's outputs in every format, each a report item: ``output: **figure(...)``.

    ``stem`` is the path without extension; ``caption`` names a file in ``report/``, checked
    here so that a figure without one stops the workflow while it parses. The outputs are named
    ``png`` and ``pdf``, or ``<name>_png`` and ``<name>_pdf`` for a rule that draws several.
    """
    path = FIGUREFLOW_DIR / "report" / caption
    if not path.is_file():
        raise ValueError(f"figure {stem}: caption file report/{caption} does not exist; write it (see report/)")
    prefix = f"{name}_" if name else ""
    return {
        f"{prefix}{fmt}": report(
            f"{stem}.{fmt}",
            caption=str(path),
            category=category,
            subcategory=subcategory,
            labels=dict(labels, format=fmt.upper()),
        )
        for fmt in FIGURE_FORMATS
    }


# ---------------------------------------------------------------- what every figure job asks for
# Each plot job draws from tables in seconds, on one thread, in the plotting env; one definition
# serves them all.
PLOT_THREADS = 1
PLOT_RESOURCES = {"mem_mb": 2000, "runtime": 10}
PLOT_ENV = "../envs/plotting.yaml"


# ---------------------------------------------------------------- threads
# A job asks for two threads only when its work is large enough for the second thread to pay:
# a small job with two threads holds both of a laptop's cores for seconds in which one thread
# does most of the work, while small jobs side by side keep both cores busy. (In the demo, the
# second threads of such jobs claimed 200 of its 1,600 core-seconds.)
# No result depends on the number of threads. The sizes at which two threads start are config keys
# (two_threads_from, schemas/config.schema.yaml), so that a test config can run tiny jobs on two.


def two_threads_from(kind):
    return config["two_threads_from"][kind]


def graph_threads(wildcards):
    """Simulating a graph and its signal flow (both stages): two threads from a million expected edges (each
    solver step is a pass over them); one for a smaller graph (done in a second, while another job
    runs beside it)."""
    return 2 if expected_edges(config["graphs"][wildcards.graph]) >= two_threads_from("graph_edges") else 1


# ---------------------------------------------------------------- training on a GPU


def training_gpus(section):
    """A training rule's ``gpu`` resource (figureflow.generative.settings.gpus_requested): the
    SLURM executor turns 1 into ``--gpus=1``."""
    from figureflow.generative.settings import gpus_requested

    def gpus(wildcards):
        return gpus_requested(config[section]["runs"][wildcards.run].get("device", "auto"))

    return gpus


# ---------------------------------------------------------------- targets
# Each method lists its outputs the same way: tables by expand(), figures by figure_targets().


def figure_targets(stem, **wildcards):
    """Every format of the figures ``stem`` (a pattern without extension) for the wildcard values."""
    return expand(f"{stem}.{{format}}", format=FIGURE_FORMATS, **wildcards)


def data_targets():
    datasets, graphs = list(config["datasets"]), list(config["graphs"])
    with_counts = [d for d in datasets if d not in processed(config)]
    return (
        expand("results/processed/{dataset}.h5ad", dataset=datasets)
        + expand("results/processed/{dataset}.qc.tsv", dataset=with_counts)
        + figure_targets("results/figures/data/{dataset}.embedding", dataset=datasets)
        + expand(["results/graphs/{graph}.npz", "results/graphs/{graph}.nodes.tsv", "results/graphs/{graph}.groups.tsv"], graph=graphs)
        + figure_targets("results/figures/data/{graph}.adjacency", graph=graphs)
    )


def signal_flow_targets():
    graphs = signal_flow_graphs(config)
    sbm_graphs = [g for g in graphs if g in simulated(config, "graphs")]
    return (
        expand(["results/signal_flow/{graph}/nodes.tsv", "results/signal_flow/{graph}/summary.tsv"], graph=graphs)
        + figure_targets("results/figures/signal_flow/{graph}.{figure}", graph=graphs, figure=["z_by_group", "adjacency_by_z"])
        + figure_targets("results/figures/signal_flow/{graph}.block_means", graph=sbm_graphs)
    )


def jacobian_targets():
    maps = list(FACTS["jacobian"])
    into_3d = [m for m in maps if FACTS["jacobian"][m]["dims"][1] == 3]
    return (
        expand(["results/jacobian/{map}/estimates.tsv", "results/jacobian/{map}/grid.npz"], map=maps)
        + figure_targets("results/figures/jacobian/{map}.{figure}", map=maps, figure=["error_vs_n", "volume"])
        + figure_targets("results/figures/jacobian/{map}.image", map=into_3d)
    )


def aging_targets():
    datasets = list(FACTS["aging"])
    return expand(
        ["results/aging/{dataset}/magnitudes.tsv", "results/aging/{dataset}/bootstraps.tsv", "results/aging/{dataset}/trajectories.tsv"],
        dataset=datasets,
    ) + figure_targets("results/figures/aging/{dataset}.{figure}", dataset=datasets, figure=["magnitudes", "transport_plan", "trajectories"])


def sweep_targets():
    sweeps = list(FACTS["sweeps"])
    grids = [s for s in sweeps if len(FACTS["sweeps"][s]["grid"]) == 2]
    return (
        expand(["results/sweeps/{sweep}/replicates.tsv", "results/sweeps/{sweep}/summary.tsv"], sweep=sweeps)
        + figure_targets("results/figures/sweeps/{sweep}.{figure}", sweep=sweeps, figure=["distribution", "example"])
        + figure_targets("results/figures/sweeps/{sweep}.grid", sweep=grids)
    )


def vae_targets():
    runs = list(FACTS["vae"]["runs"])
    targets = expand("results/vae/{run}/{file}", run=runs, file=["model.pt", "history.tsv", "metrics.tsv"])
    targets += expand("results/vae/{run}/latent.h5ad", run=vae_runs("dataset"))
    targets += figure_targets("results/figures/vae/{run}.{figure}", run=runs, figure=["training", "traversal", "latent"])
    if vae_runs("simulation"):
        targets += ["results/vae/comparison.tsv", "results/vae/scores.tsv"] + figure_targets("results/figures/vae/comparison")
    return targets


def cnf_targets():
    runs = list(FACTS["cnf"]["runs"])
    targets = expand("results/cnf/{run}/{file}", run=runs, file=["model.pt", "history.tsv", "metrics.tsv"])
    targets += figure_targets("results/figures/cnf/{run}.{figure}", run=runs, figure=["density", "samples", "trajectories", "training"])
    return targets


def paper_targets():
    methods = list(FACTS["paper"])
    return (
        expand("results/paper/figure_{method}.{ext}", method=methods, ext=["pdf", "png", "md", "legend.html"])
        + expand("results/paper/source_data/figure_{method}.xlsx", method=methods)
        + (["results/paper/provenance.json", "results/paper/headlines.tsv", "results/paper/headlines.html"] if methods else [])
    )


def all_targets():
    """The final targets of the workflow; each method adds its own here."""
    return (
        data_targets() + signal_flow_targets() + jacobian_targets() + aging_targets() + sweep_targets() + vae_targets() + cnf_targets()
        + paper_targets()
    )
