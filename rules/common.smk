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


def sbm_mem_mb(wildcards):
    """SBM memory: about 100 bytes per expected edge at peak (indices, weights, CSR)."""
    return int(1000 + 100 * expected_edges(config["graphs"][wildcards.graph]) / 1e6)


def signal_flow_options(wildcards):
    """Solver options of the signal_flow section, as keyword arguments of figureflow.signal_flow."""
    section = config["signal_flow"]
    return {
        "solver": section["solver"],
        "tol": section["tolerance"],
        "max_dense_nodes": section["max_dense_nodes"],
    }


def jacobian_options(wildcards):
    """Estimator settings of the jacobian section, with the map's own sample sizes where it sets them."""
    section = config["jacobian"]
    return {"estimators": section["estimators"], "scrambles": section["scrambles"], "sample_sizes": FACTS["jacobian"][wildcards.map]["sample_sizes"]}


def jacobian_mem_mb(wildcards):
    """Memory of the map's estimates job (figureflow.jacobian.measure.jacobian_memory_mb)."""
    return FACTS["jacobian"][wildcards.map]["mem_mb"]


def jacobian_map_spec(wildcards):
    return config["jacobian"]["maps"][wildcards.map]


def jacobian_map_code(wildcards):
    """The user's module behind a map (none for built-ins): editing it reruns what uses the map."""
    return FACTS["jacobian"][wildcards.map]["code"]


def jacobian_grid_options(wildcards):
    """Grid sizes of the jacobian section, as keyword arguments of figureflow.jacobian.measure.figure_grids."""
    section = config["jacobian"]
    return {k: section[k] for k in ("grid_size", "grid_extent", "image_grid_size", "image_curve_size")}


def jacobian_maps_into_3d():
    """Maps whose data space is 3-D: their latent grid's image is drawn as a surface or curve."""
    return names_regex([m for m, facts in FACTS["jacobian"].items() if facts["dims"][1] == 3])


def signal_flow_mem_mb(wildcards, input):
    """Signal-flow memory: the graph file (uncompressed CSR) about 6 times over (the matrix, its
    transpose, the node table, the CG vectors), and 1 GB for the interpreter and libraries."""
    return int(max(2000, 1000 + 6 * input.size_mb))


# ---------------------------------------------------------------- threads
# A job asks for two threads only when its work is large enough for the second thread to pay:
# a small job with two threads holds both of a laptop's cores for seconds in which one thread
# does most of the work, while small jobs side by side keep both cores busy. (In the demo, the
# second threads of such jobs claimed 200 of its 1,600 core-seconds.)
# No result depends on the number of threads. The sizes at which two threads start are config keys
# (two_threads_from, schemas/config.schema.yaml), so that a test config can run tiny jobs on two.


def two_threads_from(kind):
    return config["two_threads_from"][kind]


def signal_flow_threads(wildcards):
    """Two threads for a graph of a million edges or more, one for a smaller one (done in a
    second, while another job runs beside it)."""
    return 2 if expected_edges(config["graphs"][wildcards.graph]) >= two_threads_from("graph_edges") else 1


def dataset_matrix_threads(wildcards):
    """Simulation and preprocessing: two threads from 10^8 matrix entries (cells x genes)."""
    cells, genes = FACTS["data"]["datasets"][wildcards.dataset]["shape"]
    return 2 if cells * genes >= two_threads_from("matrix_entries") else 1


def aging_cell_type_threads(wildcards):
    """A cell type's bootstraps (three OT distances of n x n cells each): two threads from
    bootstraps x n_per_sample^2 of 10^8."""
    section = config["aging"]
    return 2 if section["bootstraps"] * section["n_per_sample"] ** 2 >= two_threads_from("transport") else 1


def jacobian_threads(wildcards):
    """Two threads for a map whose largest sample size is 2^21 or more."""
    return 2 if max(FACTS["jacobian"][wildcards.map]["sample_sizes"]) >= two_threads_from("jacobian_samples") else 1


def sweep_chunk_threads(wildcards):
    """Two joblib workers for a chunk of 100 tasks or more."""
    facts, spec = FACTS["sweeps"][wildcards.sweep], config["sweeps"][wildcards.sweep]
    return 2 if len(grid_points(spec.get("grid") or {})) * spec["replicates"] / facts["chunks"] >= two_threads_from("sweep_tasks") else 1


def sbm_threads(wildcards):
    """Simulating a graph: two threads from a million expected edges."""
    return 2 if expected_edges(config["graphs"][wildcards.graph]) >= two_threads_from("graph_edges") else 1


def aging_cell_type_name(wildcards):
    """The cell type behind a {cell_type} wildcard (a file-name-safe form of its name)."""
    return FACTS["aging"][wildcards.dataset][wildcards.cell_type]


def aging_mem_mb(wildcards):
    """Memory of a dataset's aging jobs (figureflow.aging.cell_type_job_mb), from its number of cells."""
    return cell_type_job_mb(FACTS["data"]["datasets"][wildcards.dataset]["shape"][0])


def aging_cell_type_files(kind):
    """An input function: every cell type's per-type table of one dataset (kind: magnitude, bootstraps)."""

    def files(wildcards):
        return [f"results/aging/{wildcards.dataset}/cell_types/{slug}.{kind}.tsv" for slug in FACTS["aging"][wildcards.dataset]]

    return files


def sweep_spec(wildcards):
    """The sweep's config section (defaults filled)."""
    return config["sweeps"][wildcards.sweep]


def sweep_chunk_files(wildcards):
    return [f"results/sweeps/{wildcards.sweep}/chunks/{c}.tsv" for c in range(FACTS["sweeps"][wildcards.sweep]["chunks"])]


def sweep_grid_columns(wildcards):
    return FACTS["sweeps"][wildcards.sweep]["grid"]


def sweeps_with_2d_grid():
    """Sweeps over a 2-D grid: they get a heatmap of the mean difference."""
    return names_regex([s for s, facts in FACTS["sweeps"].items() if len(facts["grid"]) == 2])


# ---------------------------------------------------------------- targets
# Each method lists its outputs the same way: tables by expand(), figures by figure_targets().


# ---------------------------------------------------------------- vae


def training_gpus(section):
    """A training rule's ``gpu`` resource (figureflow.generative.settings.gpus_requested): the
    SLURM executor turns 1 into ``--gpus=1``."""
    from figureflow.generative.settings import gpus_requested

    def gpus(wildcards):
        return gpus_requested(config[section]["runs"][wildcards.run].get("device", "auto"))

    return gpus


def vae_runs(source):
    """Runs whose data is a ``simulation`` or a ``dataset``."""
    return [r for r, facts in FACTS["vae"]["runs"].items() if facts["source"] == source]


def vae_simulation_spec(wildcards):
    return config["vae"]["simulations"][wildcards.simulation]


def vae_run_options(wildcards):
    """The run's config section (defaults filled by the schema)."""
    return config["vae"]["runs"][wildcards.run]


def vae_run_data(wildcards):
    facts = FACTS["vae"]["runs"][wildcards.run]
    if facts["source"] == "simulation":
        return f"results/vae/simulations/{facts['data']}.npz"
    return f"results/processed/{facts['data']}.h5ad"


def vae_figure_options(wildcards=None):
    section = config["vae"]
    return {k: section[k] for k in ("traversal_steps", "traversal_extent", "volume_samples")}


def vae_checkpoint(wildcards):
    """Where a replicate's per-epoch checkpoint lives (not an output: it survives an interrupted job)."""
    return f"results/vae/{wildcards.run}/checkpoints/replicate_{wildcards.replicate}.pt"


VAE_REPLICATE_FILES = {"model": "pt", "history": "tsv", "metrics": "tsv", "latent": "npz"}


def vae_replicate_files(kind):
    """The function of the wildcards that lists every seed replicate's ``kind`` file of a run."""

    def files(wildcards):
        replicates = range(config["vae"]["runs"][wildcards.run]["replicates"])
        pattern = f"results/vae/{{run}}/replicate_{{replicate}}/{kind}.{VAE_REPLICATE_FILES[kind]}"
        return expand(pattern, run=wildcards.run, replicate=replicates)

    return files


def vae_replicate_outputs(wildcards):
    """Every seed replicate's outputs of a run, by kind, and the run's data (rule vae_gather)."""
    outputs = {kind: vae_replicate_files(kind)(wildcards) for kind in VAE_REPLICATE_FILES}
    return {**outputs, "data": vae_run_data(wildcards)}


def vae_runtime(wildcards):
    """SLURM's --time of one replicate's training (minutes): the run's ``runtime`` key."""
    return config["vae"]["runs"][wildcards.run]["runtime"]


def vae_mem_mb(wildcards):
    """What the run's data need (figureflow.generative.settings.vae_memory_mb), learnt by the checks."""
    return FACTS["vae"]["runs"][wildcards.run]["mem_mb"]


def cnf_mem_mb(wildcards):
    """What the run's solves may keep and its embedding (figureflow.generative.settings.check_cnf_config)."""
    return FACTS["cnf"]["runs"][wildcards.run]["mem_mb"]


def vae_simulation_is_counts(wildcards):
    return config["vae"]["simulations"][wildcards.simulation]["simulator"] == "expression"


def vae_baseline_latent_dim(wildcards):
    """Baselines get as many components as the widest run on the simulation (at least 2)."""
    dims = [config["vae"]["runs"][r]["latent_dim"] for r in vae_runs("simulation") if FACTS["vae"]["runs"][r]["data"] == wildcards.simulation]
    return max(dims + [2])


def vae_compared_simulations():
    """Simulations that some run trains on (each gets baselines and a place in the comparison)."""
    return sorted({FACTS["vae"]["runs"][r]["data"] for r in vae_runs("simulation")})


def vae_comparison_inputs(wildcards):
    return {
        "metrics": expand("results/vae/{run}/metrics.tsv", run=vae_runs("simulation")),
        "baselines": expand("results/vae/baselines/{simulation}.tsv", simulation=vae_compared_simulations()),
    }


def vae_comparison_params(wildcards=None):
    return {
        "runs": vae_runs("simulation"),
        "run_data": {r: FACTS["vae"]["runs"][r]["data"] for r in vae_runs("simulation")},
        "simulations": vae_compared_simulations(),
    }


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


def cnf_run_options(wildcards):
    """The run's config section (defaults filled by the schema)."""
    return config["cnf"]["runs"][wildcards.run]


def cnf_run_data(wildcards):
    """A dataset run reads its processed h5ad; a toy is drawn inside the job (no input)."""
    facts = FACTS["cnf"]["runs"][wildcards.run]
    return {"h5ad": f"results/processed/{facts['data']}.h5ad"} if facts["source"] == "dataset" else {}


def cnf_figure_options(wildcards=None):
    section = config["cnf"]
    return {k: section[k] for k in ("grid_size", "grid_extent", "samples", "trajectory_times")}


def cnf_checkpoint(wildcards):
    """The run's checkpoint (not an output: it survives an interrupted job, which resumes from it)."""
    return f"results/cnf/{wildcards.run}/checkpoint.pt"


def cnf_targets():
    runs = list(FACTS["cnf"]["runs"])
    targets = expand("results/cnf/{run}/{file}", run=runs, file=["model.pt", "history.tsv", "metrics.tsv"])
    targets += figure_targets("results/figures/cnf/{run}.{figure}", run=runs, figure=["density", "samples", "trajectories", "training"])
    return targets


# ---------------------------------------------------------------- the paper


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
