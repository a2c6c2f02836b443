"""The workflow itself: lint, dry run of the demo, a real run of tests/config.yaml, bad inputs."""

import filecmp
import re
import shutil
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from conftest import (
    EXPECTED_TABLES,
    REPO,
    assert_same_tables,
    prepare_demo,
    prepare_workdir,
    run_snakemake,
    write_counts_failing_in_the_job,
    write_small_h5ad,
)

pytestmark = pytest.mark.workflow


def test_lint_is_clean(tmp_path):
    result = run_snakemake(REPO, "--lint")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Congratulations, your workflow is in a good condition!" in result.stdout + result.stderr


def test_demo_dry_run_plans_every_target(tmp_path):
    result = run_snakemake(prepare_demo(tmp_path), "--dry-run", "--cores", "2")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    for rule, count in [
        ("simulate_sbm", 3), ("graph_overview", 4), ("simulate_scrna", 1), ("signal_flow", 4), ("plot_signal_flow_blocks", 3),
        ("jacobian_estimates", 5), ("jacobian_grid", 5), ("plot_jacobian", 5), ("plot_jacobian_image", 4),
        ("aging_cell_type", 8), ("aging_magnitudes", 1), ("aging_trajectories", 1), ("plot_aging", 1),
        ("sweep_chunk", 3), ("sweep_gather", 2), ("plot_sweep", 2), ("plot_sweep_grid", 1),
        ("vae_simulate", 2), ("vae_train", 7), ("vae_gather", 6), ("vae_gather_dataset", 1), ("vae_baselines", 2),
        ("vae_comparison", 1), ("plot_vae_run", 7), ("plot_vae_comparison", 1), ("cnf_train", 1), ("plot_cnf_run", 1),
        ("paper_provenance", 1), ("paper_figure", 6), ("paper_headlines", 1),
    ]:
        assert re.search(rf"^{rule}\s+{count}$", out, flags=re.M), (rule, out[-1500:])
    assert not (tmp_path / "results").exists()
    # only the demo's one graph of a million edges gets two threads: every other job is small enough
    # that one thread beside another job uses the two cores better
    assert planned_threads(out) == {("simulate_sbm", "graph=feedforward_noisy_10"): 2, ("signal_flow", "graph=feedforward_noisy_10"): 2}


def planned_threads(dry_run: str) -> dict:
    """``{(rule, wildcards): threads}`` of the jobs a dry run plans with more than one thread."""
    out = {}
    for block in re.split(r"\n\s*\n", dry_run):
        rule, threads = re.search(r"^(?:local)?rule (\w+):", block, flags=re.M), re.search(r"^\s+threads: (\d+)$", block, flags=re.M)
        if rule and threads and int(threads.group(1)) > 1:
            wildcards = re.search(r"^\s+wildcards: (.+)$", block, flags=re.M)
            out[(rule.group(1), wildcards.group(1) if wildcards else "")] = int(threads.group(1))
    return out


LARGE_WORK = """seed: 1
datasets:
  big: {{simulate: {{n_cells: {cells}, n_genes: 2000, n_cell_types: 2}}}}
aging: {{bootstraps: {bootstraps}, n_per_sample: 500}}
jacobian:
  maps: {{toy: {{map: toy}}}}
  sample_sizes: [1024, {samples}]
sweeps:
  post: {{experiment: gmm_vs_kmeans, replicates: {replicates}}}
"""


def test_large_work_gets_two_threads_and_one_step_below_one(tmp_path):
    sizes = {"cells": 50000, "bootstraps": 400, "samples": 2**21, "replicates": 100}
    (tmp_path / "large.yaml").write_text(LARGE_WORK.format(**sizes))
    result = run_snakemake(tmp_path, "--dry-run", "--cores", "2", configfile=tmp_path / "large.yaml")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert planned_threads(out) == {
        ("simulate_scrna", "dataset=big"): 2, ("preprocess_scrna", "dataset=big"): 2,
        ("aging_cell_type", "dataset=big, cell_type=type_0"): 2, ("aging_cell_type", "dataset=big, cell_type=type_1"): 2,
        ("jacobian_estimates", "map=toy"): 2, ("sweep_chunk", "sweep=post, chunk=0"): 2,
    }
    below = {"cells": 49999, "bootstraps": 399, "samples": 2**20, "replicates": 99}
    (tmp_path / "below.yaml").write_text(LARGE_WORK.format(**below))
    result = run_snakemake(tmp_path, "--dry-run", "--cores", "2", configfile=tmp_path / "below.yaml")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-3000:]
    assert planned_threads(out) == {}


def test_tiny_run_makes_every_table_and_figure(runs):
    workdir = runs["2"]
    for table in EXPECTED_TABLES:
        assert (workdir / table).stat().st_size > 0, table
    for name in ("tiny_sim.embedding", "tiny_h5ad.embedding", "tiny_sbm.adjacency", "tiny_edges.adjacency"):
        for suffix in (".png", ".pdf"):
            assert (workdir / "results/figures/data" / f"{name}{suffix}").stat().st_size > 1000
    for log in ("simulate_scrna/tiny_sim", "ingest_h5ad/tiny_h5ad", "simulate_sbm/tiny_sbm", "ingest_edges/tiny_edges"):
        assert "done in" in (workdir / "logs" / f"{log}.log").read_text()
    for name in ("toy.error_vs_n", "toy.volume", "toy.image", "swirl.error_vs_n", "swirl.volume", "swirl.image"):
        for suffix in (".png", ".pdf"):
            assert (workdir / "results/figures/jacobian" / f"{name}{suffix}").stat().st_size > 1000
    for name in ("tiny_beta.training", "tiny_beta.traversal", "tiny_beta.latent", "tiny_atlas.latent", "comparison"):
        assert (workdir / "results/figures/vae" / f"{name}.png").stat().st_size > 1000
    for run in ("tiny_moons", "tiny_cells"):
        for figure in ("density", "samples", "trajectories", "training"):
            for suffix in (".png", ".pdf"):
                assert (workdir / "results/figures/cnf" / f"{run}.{figure}{suffix}").stat().st_size > 1000


def test_vae_runs_score_every_seed_and_the_decoder_is_a_jacobian_map(runs):
    import torch

    from figureflow.generative.vae import load_model
    from figureflow.jacobian.torch_maps import torch_volume_elements

    workdir = runs["2"]
    metrics = pd.read_csv(workdir / "results/vae/tiny_beta/metrics.tsv", sep="\t")
    assert metrics["replicate"].tolist() == [0, 1] and metrics[["mig_binned", "sap"]].apply(lambda c: c.between(0, 1)).all().all()
    assert metrics["mig_dlib"].isna().all()  # continuous factors: no classes to score as disentanglement_lib does
    # each replicate was its own job; the run's tables are theirs stacked
    for r in (0, 1):
        own = pd.read_csv(workdir / f"results/vae/tiny_beta/replicate_{r}/metrics.tsv", sep="\t")
        pd.testing.assert_frame_equal(own, metrics.iloc[[r]].reset_index(drop=True))
        assert "done in" in (workdir / f"logs/vae_train/tiny_beta/replicate_{r}.log").read_text()
    saved = torch.load(workdir / "results/vae/tiny_beta/model.pt", weights_only=False)
    assert len(saved["replicates"]) == 2 and saved["options"]["beta"] == 4
    own = torch.load(workdir / "results/vae/tiny_beta/replicate_1/model.pt", weights_only=False)
    assert all(torch.equal(own["replicates"][0][k], v) for k, v in saved["replicates"][1].items())
    scores = pd.read_csv(workdir / "results/vae/scores.tsv", sep="\t")
    assert scores["method"].tolist() == ["tiny_beta", "tiny_beta", "tiny_sprites_tc", "pca", "fastica", "fastica", "pca", "fastica", "fastica"]
    # sprites: dSprites' classes give the disentanglement_lib MIG; the flags and the kept epoch are recorded
    sprites = pd.read_csv(workdir / "results/vae/tiny_sprites_tc/metrics.tsv", sep="\t")
    assert sprites["mig_dlib"].between(0, 1).all() and sprites["keep"].tolist() == ["best"]
    assert sprites["active_units"].between(0, 4).all() and sprites["traversal_contrast"].between(0, 1).all()
    plot_log = (workdir / "logs/plot_vae_run/tiny_sprites_tc.log").read_text()
    assert ("learned nothing" in plot_log) == bool(sprites["learned_nothing"].iloc[0])
    atlas = ad.read_h5ad(workdir / "results/vae/tiny_atlas/latent.h5ad")
    processed = ad.read_h5ad(workdir / "results/processed/tiny_sim.h5ad")
    assert atlas.obsm["X_vae"].shape == (processed.n_obs, 2) and list(atlas.obs_names) == list(processed.obs_names)
    # the sampler's estimate of the trained decoder agrees with the volume elements computed here
    from figureflow.generative.vae import decoder_function

    estimates = pd.read_csv(workdir / "results/jacobian/tiny_decoder/estimates.tsv", sep="\t")
    model = load_model(workdir / "results/vae/tiny_beta/model.pt")
    values = torch_volume_elements(decoder_function(model), np.random.default_rng(0).standard_normal((20000, 3)))
    for quantity, sample in (("D", values), ("log_D", np.log(values))):
        reference, reference_se = sample.mean(), sample.std() / np.sqrt(sample.size)
        rows = estimates[(estimates["estimator"] == "mc") & (estimates["quantity"] == quantity)]
        largest = rows.sort_values("n_samples").iloc[-1]
        assert largest["status"] == "ok" and abs(largest["estimate"] - reference) < 4 * np.hypot(largest["std_error"], reference_se), quantity


def test_cnf_runs_score_against_truth_and_a_mixture_and_the_flow_is_a_jacobian_map(runs):
    from figureflow.generative.cnf import FlowMap, load_model, sample, standard_normal_log_density
    from figureflow.generative.toys import toy_log_density
    import torch

    workdir = runs["1"]
    metrics = pd.read_csv(workdir / "results/cnf/tiny_moons/metrics.tsv", sep="\t").iloc[0]
    assert metrics["data"] == "moons" and metrics["trace"] == "hutchinson" and metrics["iterations"] == 40
    arrays = np.load(workdir / "results/cnf/tiny_moons/figure_data.npz")
    field, saved = load_model(workdir / "results/cnf/tiny_moons/model.pt")
    held = arrays["held_out"]
    true = -toy_log_density("moons", held, 0.05, saved["standardization"]["shift"], saved["standardization"]["scale"]).mean()
    assert metrics["true_nll"] == pytest.approx(true, rel=1e-12) and metrics["gap"] == pytest.approx(metrics["held_out_nll"] - true, rel=1e-12)
    assert np.isfinite(metrics["gmm_nll"]) and arrays["log_density"].shape == (24, 24) and arrays["samples"].shape == (200, 2)
    cells = pd.read_csv(workdir / "results/cnf/tiny_cells/metrics.tsv", sep="\t").iloc[0]
    assert cells["dims"] == 3 and np.isnan(cells["true_nll"]) and np.isfinite(cells["held_out_nll"]) and np.isfinite(cells["gmm_nll"])
    # the Jacobian sampler's E[|det J|] of the flow map against exp(integrated trace) on fresh prior draws
    estimates = pd.read_csv(workdir / "results/jacobian/tiny_flow/estimates.tsv", sep="\t")
    assert sorted(set(estimates["n_samples"])) == [256, 2048]  # the map's own sample sizes, not the section's
    log = (workdir / "logs/jacobian_estimates/tiny_flow.log").read_text()
    gap = float(re.search(r"log\|det J\| agrees with the flow's integrated trace to (\S+) nats at 64 check points", log).group(1))
    assert gap <= 1000 * 1e-4  # the check's bound at the run's nll_rtol 1e-4
    flow = FlowMap(field, saved["options"])
    Z = torch.as_tensor(np.random.default_rng(0).standard_normal((20000, 2)))
    with torch.no_grad():
        _, logp = sample(flow.field, Z, [0.0, 1.0], flow.solver)
    logs = (standard_normal_log_density(Z) - logp[-1]).numpy()
    # E[log |det J|], light-tailed whatever the flow, always has an interval; E[|det J|] where its tail allows one
    for quantity, sample in (("log_D", logs), ("D", np.exp(logs))):
        reference, reference_se = sample.mean(), sample.std() / np.sqrt(sample.size)
        largest = estimates[(estimates["estimator"] == "mc") & (estimates["quantity"] == quantity)].sort_values("n_samples").iloc[-1]
        if quantity == "log_D":
            assert largest["status"] == "ok"
        if largest["status"] == "ok":
            assert abs(largest["estimate"] - reference) < 4 * np.hypot(largest["std_error"], reference_se), quantity
        else:
            assert np.isnan(largest["std_error"]) and largest["pareto_k"] >= 0.5


def test_aging_jobs_per_cell_type_give_the_tables_of_one_call_over_all(runs, tmp_path):
    from figureflow.aging import dataset_magnitudes, gather_magnitudes, planted_shifts
    from figureflow.io import write_table

    workdir = runs["2"]
    adata = ad.read_h5ad(workdir / "results/processed/tiny_sim.h5ad")
    options = {"n_per_sample": 50, "bootstraps": 10, "n_dims": 5}
    magnitudes, bootstraps = dataset_magnitudes(adata, "tiny_sim", 7, options, n_threads=1)
    write_table(gather_magnitudes([magnitudes], planted_shifts(adata)), tmp_path / "m.tsv")
    write_table(bootstraps, tmp_path / "b.tsv")
    # byte for byte, timing aside: there is no timing column
    assert (tmp_path / "m.tsv").read_bytes() == (workdir / "results/aging/tiny_sim/magnitudes.tsv").read_bytes()
    assert (tmp_path / "b.tsv").read_bytes() == (workdir / "results/aging/tiny_sim/bootstraps.tsv").read_bytes()
    table = pd.read_csv(workdir / "results/aging/tiny_sim/magnitudes.tsv", sep="\t")
    assert table["planted_shift"].tolist() == [0.0, 1.0, 2.0] and (table["status"] == "ok").all()
    skipped = pd.read_csv(workdir / "results/aging/tiny_h5ad/magnitudes.tsv", sep="\t")
    assert skipped["status"].str.startswith("skipped:").all() and skipped["magnitude"].isna().all()
    trajectories = pd.read_csv(workdir / "results/aging/tiny_sim/trajectories.tsv", sep="\t")
    assert len(trajectories) == 3 and trajectories["cosine"].between(-1, 1).all()
    assert np.isnan(trajectories["planted_cosine"].iloc[0])  # type_0 has no planted shift: no trajectory
    for name in ("magnitudes", "transport_plan", "trajectories"):
        for dataset in ("tiny_sim", "tiny_h5ad"):
            assert (workdir / f"results/figures/aging/{dataset}.{name}.png").stat().st_size > 1000
    # each aging job used less memory than it asked SLURM for
    from figureflow.aging import cell_type_job_mb

    peaks = [pd.read_csv(f, sep="\t")["max_rss"].iloc[-1] for f in (workdir / "results/benchmarks/aging_cell_type/tiny_sim").glob("*.tsv")]
    assert len(peaks) == 3 and 0 < max(peaks) < cell_type_job_mb(adata.n_obs)


def test_a_sweep_in_three_chunk_jobs_gives_the_table_of_one_serial_call(runs, tmp_path):
    from figureflow.io import write_table
    from figureflow.sweeps import gather_chunks, run_sweep

    grid = {"cluster_std": [1.0, 2.5], "shear": [0.0, 1.0]}
    serial = gather_chunks([run_sweep("gmm_vs_kmeans", grid, 3, 7, "tiny_grid", {"n_samples": 120, "n_init": 3})])
    write_table(serial, tmp_path / "r.tsv")
    for cores in ("1", "2"):  # 3 chunk jobs, each on the job's threads
        assert (tmp_path / "r.tsv").read_bytes() == (runs[cores] / "results/sweeps/tiny_grid/replicates.tsv").read_bytes()
    assert list(serial.columns) == ["cluster_std", "shear", "replicate", "seed", "ari_gmm", "ari_kmeans", "ari_diff"]
    for name in ("distribution", "example", "grid"):
        assert (runs["2"] / f"results/figures/sweeps/tiny_grid.{name}.png").stat().st_size > 1000


def test_jacobian_figures_are_drawn_from_grids_computed_once(runs):
    workdir = runs["1"]
    # the grid sizes come from the config (tests/config.yaml: grid_size 31; image size: the schema's 61)
    with np.load(workdir / "results/jacobian/toy/grid.npz") as grid:
        assert grid["volume"].shape == (31, 31) and grid["image_points"].shape == (61, 61, 3)
        z1, z2 = np.meshgrid(grid["axis"], grid["axis"])
        np.testing.assert_allclose(grid["volume"], z1**2 + z2**2, rtol=1e-12, atol=1e-14)  # D = |z|^2 for toy
    assert "D over the 31-point grid" in (workdir / "logs/jacobian_grid/toy.log").read_text()


def test_each_threaded_kind_of_job_ran_on_two_threads_with_2_cores_and_on_one_with_1(runs):
    """What makes the --cores comparison below a comparison of one thread with two."""
    two = {"signal_flow/tiny_sbm", "simulate_sbm/tiny_sbm", "preprocess_scrna/tiny_sim", "jacobian_estimates/toy",
           "jacobian_estimates/swirl", "sweep_chunk/tiny_grid/0"}
    for job in two:
        log = runs["2"] / "logs" / f"{job}.log"
        assert re.search(r"threads 2$", log.read_text().splitlines()[0]), (job, log.read_text().splitlines()[0])
        one = runs["1"] / "logs" / f"{job}.log"
        if one.exists():  # the --cores 1 run makes the tables and data files only
            assert re.search(r"threads 1$", one.read_text().splitlines()[0]), job


def test_tables_are_byte_identical_for_1_and_2_cores(runs):
    assert_same_tables(runs["1"], runs["2"], "--cores 1", "--cores 2")


def test_data_files_are_identical_for_1_and_2_cores(runs):
    one, two = runs["1"], runs["2"]
    for grid in ("toy", "swirl"):
        assert filecmp.cmp(one / f"results/jacobian/{grid}/grid.npz", two / f"results/jacobian/{grid}/grid.npz", shallow=False)
    for graph in ("tiny_sbm", "tiny_edges"):
        a, b = (sp.load_npz(d / f"results/graphs/{graph}.npz") for d in (one, two))
        assert (a != b).nnz == 0
    for dataset in ("tiny_sim", "tiny_h5ad"):
        a, b = (ad.read_h5ad(d / f"results/processed/{dataset}.h5ad") for d in (one, two))
        assert (a.layers["counts"] != b.layers["counts"]).nnz == 0
        np.testing.assert_array_equal(a.obsm["X_pca"], b.obsm["X_pca"])
        assert a.obs.equals(b.obs)


def test_outputs_carry_the_planted_and_ingested_annotations(runs):
    workdir = runs["1"]
    sim = ad.read_h5ad(workdir / "results/data/tiny_sim.h5ad")
    np.testing.assert_array_equal(sim.uns["truth"]["aging_shift"], [0.0, 1.0, 2.0])
    ingested = ad.read_h5ad(workdir / "results/data/tiny_h5ad.h5ad")
    assert set(ingested.obs["age"].dropna()) == {"young", "old"}
    nodes = pd.read_csv(workdir / "results/graphs/tiny_edges.nodes.tsv", sep="\t")
    assert list(nodes.columns) == ["node", "class"] and nodes["node"].iloc[0] == "SEN00"
    groups = pd.read_csv(workdir / "results/graphs/tiny_sbm.groups.tsv", sep="\t")
    assert list(groups.columns) == ["source_group", "target_group", "n_possible", "n_edges", "weight", "density", "p_planted"]
    assert groups["n_possible"].tolist()[:3] == [40 * 39, 1600, 1600]


def test_edge_list_with_classes_gives_per_class_z_and_figure(runs):
    workdir = runs["2"]
    nodes = pd.read_csv(workdir / "results/signal_flow/tiny_edges/nodes.tsv", sep="\t")
    assert list(nodes.columns) == ["node", "z", "component", "class"]
    means = nodes.groupby("class")["z"].mean()
    assert means["sensory"] > means["inter"] > means["motor"]  # the example circuit runs sensory -> inter -> motor
    summary = pd.read_csv(workdir / "results/signal_flow/tiny_edges/summary.tsv", sep="\t").iloc[0]
    n_nodes = len(pd.read_csv(REPO / "examples/toy_circuit.nodes.tsv", sep="\t"))
    assert summary.n_nodes == n_nodes and summary.solver == "sparse" and summary.residual <= 1e-10
    for suffix in (".z_by_group.png", ".z_by_group.pdf", ".adjacency_by_z.png"):
        assert (workdir / "results/figures/signal_flow" / f"tiny_edges{suffix}").stat().st_size > 1000
    assert (workdir / "results/figures/signal_flow/tiny_sbm.block_means.png").exists()
    assert not (workdir / "results/figures/signal_flow/tiny_edges.block_means.png").exists()


def test_jacobian_estimates_for_builtin_and_user_maps(runs):
    workdir = runs["2"]
    table = pd.read_csv(workdir / "results/jacobian/toy/estimates.tsv", sep="\t")
    toy, toy_log = table[table["quantity"] == "D"], table[table["quantity"] == "log_D"]
    assert toy["exact"].eq(2.0).all() and len(toy) == 6 == len(toy_log) and (table["status"] == "ok").all()
    assert ((toy["estimate"] - 2.0).abs() <= 4 * toy["std_error"]).all()
    assert np.allclose(toy_log["exact"], np.log(2.0) - np.euler_gamma, rtol=1e-14, atol=0) and ((toy_log["estimate"] - toy_log["exact"]).abs() <= 4 * toy_log["std_error"]).all()
    swirl = pd.read_csv(workdir / "results/jacobian/swirl/estimates.tsv", sep="\t")
    swirl = swirl[swirl["quantity"] == "D"]
    assert swirl["exact"].isna().all() and (swirl["std_error"] > 0).all()
    # E[sqrt(0.25 + (1 + 0.5 z1)^2)] by quadrature: the user map's estimates agree with it
    from scipy import integrate, stats

    value = integrate.quad(lambda t: np.sqrt(0.25 + (1 + 0.5 * t) ** 2) * stats.norm.pdf(t), -12, 12)[0]
    assert ((swirl["estimate"] - value).abs() <= 4 * swirl["std_error"]).all()
    for name in ("toy.error_vs_n.png", "toy.volume.pdf", "toy.image.png", "swirl.image.pdf"):
        assert (workdir / "results/figures/jacobian" / name).stat().st_size > 1000


def test_rerun_has_nothing_to_do_and_report_builds(runs):
    workdir = runs["2"]
    config = REPO / "tests" / "config.yaml"
    again = run_snakemake(workdir, "--cores", "1", configfile=config)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr
    report = run_snakemake(workdir, "--report", "results/report.html", configfile=config)
    assert report.returncode == 0, report.stdout + report.stderr
    html = (workdir / "results/report.html").read_text()
    for name in ("tiny_sim.embedding.png", "tiny_edges.adjacency.png", "tiny_sbm.adjacency.pdf", "tiny_edges.z_by_group.png", "tiny_sbm.block_means.png"):
        assert name in html


BAD_CONFIGS = {
    "unknown key": ("seed: 1\nsweep: {}\n", "unknown config key 'sweep'"),
    "missing h5ad": ("seed: 1\ndatasets:\n  d: {h5ad: inputs/none.h5ad}\n", "h5ad file 'inputs/none.h5ad' (config key datasets.d.h5ad) does not exist"),
    "age key absent": (
        "seed: 1\ndatasets:\n  d: {h5ad: inputs/tiny.h5ad, cell_type_key: celltype, age_key: age, young: ['3m'], old: ['24m']}\n",
        "config key datasets.d.age_key is 'age', which is not an obs column; obs columns are 'celltype', 'donor_age'",
    ),
    "young label absent": (
        "seed: 1\ndatasets:\n  d: {h5ad: inputs/tiny.h5ad, cell_type_key: celltype, age_key: donor_age, young: ['1m'], old: ['24m']}\n",
        "config key datasets.d.young lists '1m', which never occur in obs column 'donor_age'",
    ),
    "empty edge list": ("seed: 1\ngraphs:\n  g: {edges: inputs/empty.tsv}\n", "has a header but no edges"),
    "unknown signal-flow graph": ("seed: 1\nsignal_flow: {graphs: [nope]}\n", "signal_flow.graphs names 'nope'"),
    "map path that does not import": (
        "seed: 1\njacobian:\n  maps:\n    m: {map: 'no_such_module:f', latent_dim: 2, data_dim: 3}\n",
        "config key jacobian.maps.m.map: module 'no_such_module' does not import",
    ),
    "map with NaN output": (
        "seed: 1\njacobian:\n  maps:\n    m: {map: 'user_maps:not_a_number', latent_dim: 2, data_dim: 3}\n",
        "map 'm' left output entries [1] unset or NaN",
    ),
    "map writing past data_dim": (
        "seed: 1\njacobian:\n  maps:\n    m: {map: 'user_maps:too_long', latent_dim: 2, data_dim: 3}\n",
        "writes more than 3 output values",
    ),
    "negative weight": (
        "seed: 1\ngraphs:\n  g: {edges: inputs/neg.tsv}\n",
        "edge list 'inputs/neg.tsv', line 3: column 'weight' must be >= 0, found -2",
    ),
    # what hardening added: each used to run to the end, or to fail inside a job or a library
    "graph named twice": (
        "seed: 1\ngraphs:\n  g: {edges: inputs/neg.tsv}\n  g: {edges: inputs/empty.tsv}\n",
        "line 4: key 'graphs.g' appears a second time (first on line 3)",
    ),
    "node table carrying z": (
        "seed: 1\ngraphs:\n  g: {edges: inputs/ok.tsv, nodes: inputs/xyz.tsv}\n",
        "node table 'inputs/xyz.tsv' (config key graphs.g.nodes): column 'z' has the name of a per-node column",
    ),
    "node column twice": (
        "seed: 1\ngraphs:\n  g: {edges: inputs/ok.tsv, nodes: inputs/twice.tsv}\n",
        "column name(s) 'node' appear more than once in the header",
    ),
    "extra field": ("seed: 1\ngraphs:\n  g: {edges: inputs/extra.tsv}\n", "edge list file 'inputs/extra.tsv', line 3: too many fields (4; the header has 3)"),
    "weight column absent": (
        "seed: 1\ngraphs:\n  g: {edges: inputs/ok.tsv, weight_column: synapses}\n",
        "config key graphs.g.weight_column is 'synapses', which is not a column; columns are 'source', 'target'",
    ),
    "ragged block matrix": (
        "seed: 1\ngraphs:\n  g: {sbm: {block_sizes: [3, 3], block_probabilities: [[0.1, 0.2], [0.3]]}}\n",
        "graphs.g.sbm.block_probabilities: row 1 must have 2 entries",
    ),
    "weights low above high": (
        "seed: 1\ngraphs:\n  g: {sbm: {n_blocks: 2, block_size: 3, p_low: 0, p_within: 0, p_forward: 1, weights: {low: 2, high: 1}}}\n",
        "graphs.g.sbm.weights: expected 0 <= low <= high, found low = 2, high = 1",
    ),
    "map NaN for z1 below 0": (
        "seed: 1\njacobian:\n  maps:\n    m: {map: 'user_maps:nan_below_zero', latent_dim: 2, data_dim: 3}\n",
        "map 'm' returned [",
    ),
    "map using abs": (
        "seed: 1\njacobian:\n  maps:\n    m: {map: 'user_maps:uses_abs', latent_dim: 2, data_dim: 3}\n",
        "likely cause is a non-analytic operation on z",
    ),
    "log-normalized X": (
        "seed: 1\ndatasets:\n  d: {h5ad: inputs/tiny.h5ad, cell_type_key: celltype}\n",
        "X must hold raw counts (whole numbers)",
    ),
    "no cell types": (
        "seed: 1\ndatasets:\n  d: {h5ad: inputs/untyped.h5ad, cell_type_key: empty, counts_layer: counts}\n",
        "obs column 'empty' (datasets.d.cell_type_key) has no values",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_input_gives_one_clear_error_and_starts_no_job(tmp_path, case):
    text, message = BAD_CONFIGS[case]
    write_small_h5ad(tmp_path / "inputs" / "tiny.h5ad")
    write_small_h5ad(tmp_path / "inputs" / "untyped.h5ad", empty=[np.nan] * 120)
    inputs = tmp_path / "inputs"
    (inputs / "neg.tsv").write_text("source\ttarget\tweight\na\tb\t1\nb\tc\t-2\n")
    (inputs / "empty.tsv").write_text("source\ttarget\tweight\n")
    (inputs / "ok.tsv").write_text("source\ttarget\na\tb\nb\tc\n")
    (inputs / "extra.tsv").write_text("source\ttarget\tweight\na\tb\t1\nb\tc\t2\t7\n")
    (inputs / "xyz.tsv").write_text("node\tx\ty\tz\na\t0.1\t0.2\t0.3\n")
    (inputs / "twice.tsv").write_text("node\tclass\tnode\na\ts\ta\n")
    shutil.copy(REPO / "tests" / "data" / "user_maps.py", tmp_path / "user_maps.py")
    (tmp_path / "bad.yaml").write_text(text)
    result = run_snakemake(tmp_path, "--cores", "1", configfile=tmp_path / "bad.yaml")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert message in out
    # the sentence alone: no exception name, no frames of Snakefile, common.smk or figureflow
    said = [line for line in out.splitlines() if line.startswith("figureflow: ")]
    assert len(said) == 1 and message in said[0], out
    assert "InputError" not in out and "Traceback" not in out and 'File "' not in out, out
    assert "Select jobs to execute" not in out and "rule " not in out
    assert not (tmp_path / "results").exists()


def test_counts_that_fail_in_a_job_leave_no_output_behind(tmp_path):
    # the check before any job reads a sample of the matrix; a bad entry past it is seen in the job
    write_counts_failing_in_the_job(tmp_path)
    result = run_snakemake(tmp_path, "--cores", "1", configfile=tmp_path / "c.yaml")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert "figureflow: error in rule ingest_h5ad: h5ad file 'inputs/neg.h5ad': X must hold non-negative counts, found minimum -4" in out
    assert not list((tmp_path / "results").rglob("*.h5ad"))
    assert "non-negative counts" in (tmp_path / "logs/ingest_h5ad/d.log").read_text()


def test_a_bad_command_line_value_is_named_as_such(tmp_path):
    (tmp_path / "c.yaml").write_text("seed: 1\nplotting: {max_points: 500}\n")
    result = run_snakemake(tmp_path, "-n", "--config", "plotting={max_points: 5}", configfile=tmp_path / "c.yaml")
    out = result.stdout + result.stderr
    assert result.returncode != 0
    # the file's own max_points (500) is valid: the message names the command line, not c.yaml
    assert "figureflow: in --config: config key plotting.max_points:" in out and "c.yaml" not in out.split("figureflow: ")[1]


def test_config_values_merge_into_the_demo(tmp_path):
    result = run_snakemake(prepare_demo(tmp_path), "-n", "--config", "signal_flow={graphs: [toy_circuit]}")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert re.search(r"^signal_flow\s+1$", out, flags=re.M) and re.search(r"^jacobian_estimates\s+5$", out, flags=re.M)


def test_input_warnings_reach_the_console_before_any_job(tmp_path):
    (tmp_path / "e.tsv").write_text("source\ttarget\na \tb\nb\tc\n")
    (tmp_path / "c.yaml").write_text("seed: 1\ngraphs:\n  g: {edges: e.tsv}\n")
    result = run_snakemake(tmp_path, "-n", configfile=tmp_path / "c.yaml")
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "figureflow: warning: edge list 'e.tsv': 1 name(s) in column 'source' had leading or trailing whitespace" in out


def test_outputs_are_readable_as_the_umask_allows_and_no_temporary_is_left(runs):
    import os

    umask = os.umask(0o022)
    os.umask(umask)
    files = [p for p in (runs["2"] / "results").rglob("*") if p.is_file()]
    assert len(files) > 40
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o666 & ~umask, (path, oct(path.stat().st_mode))
    assert not [p for p in (runs["2"] / "results").rglob(".*") if p.is_file()]


def test_jobs_log_the_workflows_own_figureflow(runs):
    log = (runs["1"] / "logs/signal_flow/tiny_sbm.log").read_text()
    import figureflow

    assert f"figureflow {figureflow.__version__} from {REPO / 'src' / 'figureflow'}" in log


def test_a_job_imports_the_workflows_copy_even_when_another_is_installed(tmp_path):
    # a copy of the workflow whose library differs from the installed one (this checkout's, editable)
    copy = tmp_path / "workflow"
    copy.mkdir()
    for part in ("Snakefile", "config.yaml", "rules", "scripts", "schemas", "report", "envs", "profiles", "src"):
        source = REPO / part
        (shutil.copytree if source.is_dir() else shutil.copy)(source, copy / part, **({"ignore": shutil.ignore_patterns("*.egg-info", "__pycache__")} if source.is_dir() else {}))
    import figureflow

    init = copy / "src/figureflow/__init__.py"
    marked = f"{figureflow.__version__}+copy"
    text = init.read_text()
    assert f'__version__ = "{figureflow.__version__}"' in text
    init.write_text(text.replace(f'__version__ = "{figureflow.__version__}"', f'__version__ = "{marked}"'))
    (tmp_path / "run").mkdir()
    (tmp_path / "run/c.yaml").write_text("seed: 1\ngraphs:\n  g: {sbm: {n_blocks: 2, block_size: 5, p_low: 0, p_within: 0, p_forward: 1}}\n")
    command = [sys.executable, "-m", "snakemake", "-s", str(copy / "Snakefile"), "--directory", str(tmp_path / "run"),
               "--configfile", str(tmp_path / "run/c.yaml"), "--cores", "1", "results/graphs/g.npz"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, cwd=tmp_path / "run")
    assert result.returncode == 0, result.stdout + result.stderr
    log = (tmp_path / "run/logs/simulate_sbm/g.log").read_text()
    assert f"figureflow {marked} from {copy / 'src' / 'figureflow'}" in log


def test_editing_a_user_map_module_reruns_what_uses_it(runs):
    workdir = runs["2"]
    config = REPO / "tests" / "config.yaml"
    module = workdir / "user_maps.py"
    text = module.read_text()
    try:
        module.write_text(text + "\n# edited\n")
        plan = run_snakemake(workdir, "-n", "--cores", "1", configfile=config)
        out = plan.stdout + plan.stderr
        assert plan.returncode == 0, out
        assert re.search(r"^jacobian_estimates\s+1$", out, flags=re.M), out[-2000:]
        assert "wildcards: map=swirl" in out and "wildcards: map=toy" not in out
    finally:
        module.write_text(text)


def test_an_edited_helper_reruns_the_maps_jobs_with_its_new_value_and_an_unrelated_edit_reruns_nothing(tmp_path, monkeypatch):
    """The issue's case: my_maps.lin calls my_helpers.stretch (numba cache=True) from another file.
    Editing the helper reruns the estimates on a plain rerun and a forced rerun gives the new value
    too (the kernel cache is keyed by every file the map reaches); an unrelated file reruns nothing."""
    from test_map_code import HELPER, write_user_code

    monkeypatch.setenv("FIGUREFLOW_KERNEL_CACHE", str(tmp_path / "kernels"))
    write_user_code(tmp_path, 2.0)
    (tmp_path / "unrelated.py").write_text("X = 1\n")
    config = tmp_path / "c.yaml"
    config.write_text("seed: 3\njacobian:\n  maps:\n    lin: {map: 'my_maps:lin', latent_dim: 2, data_dim: 2}\n  sample_sizes: [4096]\n")
    table = tmp_path / "results/jacobian/lin/estimates.tsv"
    target = "results/jacobian/lin/estimates.tsv"

    def estimates(*args):
        result = run_snakemake(tmp_path, "--cores", "1", target, *args, configfile=config)
        assert result.returncode == 0, result.stdout + result.stderr
        rows = pd.read_csv(table, sep="\t")
        return sorted(set(rows.loc[rows["quantity"] == "D", "estimate"].round(12))), result.stdout + result.stderr

    assert estimates()[0] == [2.0]
    (tmp_path / "my_helpers.py").write_text(HELPER.format(value="3.0"))
    values, out = estimates()
    assert values == [3.0] and "Updated input files: my_helpers.py" in out
    (tmp_path / "my_helpers.py").write_text(HELPER.format(value="5.0"))
    assert estimates("--forcerun", "jacobian_estimates")[0] == [5.0]
    (tmp_path / "unrelated.py").write_text("X = 2\n")
    plan = run_snakemake(tmp_path, "-n", "--cores", "1", target, configfile=config)
    assert plan.returncode == 0 and "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout + plan.stderr


@pytest.fixture
def pbmc_workdir(tmp_path):
    """scanpy's pbmc68k_reduced copied byte for byte as scanpy ships it (anndata's oldest layout):
    X scaled, no counts, X_pca and X_umap, no age column."""
    from conftest import SHIPPED_PBMC

    (tmp_path / "inputs").mkdir()
    shutil.copyfile(SHIPPED_PBMC, tmp_path / "inputs/pbmc.h5ad")
    return tmp_path


def test_a_processed_atlas_without_counts_or_ages_is_ingested_embedded_and_drawn(pbmc_workdir):
    config = pbmc_workdir / "c.yaml"
    config.write_text("seed: 1\ndatasets:\n  pbmc: {h5ad: inputs/pbmc.h5ad, cell_type_key: bulk_labels, processed: true}\n")
    result = run_snakemake(pbmc_workdir, "--cores", "2", configfile=config)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = ad.read_h5ad(pbmc_workdir / "results/processed/pbmc.h5ad")
    original = ad.read_h5ad(pbmc_workdir / "inputs/pbmc.h5ad")
    np.testing.assert_array_equal(kept.obsm["X_umap"], original.obsm["X_umap"])  # its own embedding, not recomputed
    assert (pbmc_workdir / "results/figures/data/pbmc.embedding.png").stat().st_size > 1000
    assert not (pbmc_workdir / "results/processed/pbmc.qc.tsv").exists() and not (pbmc_workdir / "results/aging").exists()


def test_aging_on_the_shipped_file_without_ages_is_refused_before_any_job(pbmc_workdir):
    config = pbmc_workdir / "c.yaml"
    config.write_text(
        "seed: 1\ndatasets:\n  pbmc: {h5ad: inputs/pbmc.h5ad, cell_type_key: bulk_labels, age_key: age_group, "
        "young: ['3m'], old: ['24m'], processed: true}\n"
    )
    result = run_snakemake(pbmc_workdir, "--cores", "2", configfile=config)
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "config key datasets.pbmc.age_key is 'age_group', which is not an obs column; obs columns are 'bulk_labels'" in out, out[-3000:]
    assert not (pbmc_workdir / "results").exists()


def test_aging_on_a_scaled_processed_atlas_is_refused_before_any_job(tmp_path):
    import scanpy as sc

    (tmp_path / "inputs").mkdir()
    adata = sc.datasets.pbmc68k_reduced()
    adata.obs["age_group"] = np.where(np.arange(adata.n_obs) % 2, "24m", "3m")
    adata.write_h5ad(tmp_path / "inputs/pbmc.h5ad")
    config = tmp_path / "c.yaml"
    config.write_text(
        "seed: 1\ndatasets:\n  pbmc: {h5ad: inputs/pbmc.h5ad, cell_type_key: bulk_labels, age_key: age_group, "
        "young: ['3m'], old: ['24m'], processed: true}\n"
    )
    result = run_snakemake(tmp_path, "--cores", "2", configfile=config)
    assert result.returncode != 0
    assert "dataset 'pbmc' is processed with a scaled X" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_a_users_h5ad_with_its_own_key_names_and_age_labels_gets_magnitudes(tmp_path):
    # obs 'celltype' and 'donor_age' with labels 3m / 12m / 24m: only the config names them
    write_small_h5ad(tmp_path / "inputs/atlas.h5ad", n_cells=900, n_genes=60)
    config = tmp_path / "c.yaml"
    config.write_text(
        "seed: 3\ndatasets:\n  atlas: {h5ad: inputs/atlas.h5ad, cell_type_key: celltype, age_key: donor_age, "
        "young: ['3m'], old: ['24m'], counts_layer: counts}\n"
        "preprocess: {n_top_genes: 40, n_pcs: 8, umap: false}\naging: {bootstraps: 10, n_per_sample: 100}\n"
    )
    result = run_snakemake(tmp_path, "--cores", "2", configfile=config)
    assert result.returncode == 0, result.stdout + result.stderr
    table = pd.read_csv(tmp_path / "results/aging/atlas/magnitudes.tsv", sep="\t")
    assert table["cell_type"].tolist() == ["B", "NK", "T"] and (table["status"] == "ok").all()
    assert (table["n_young"] == 100).all() and (table["n_old"] == 100).all() and (table["n_per_sample"] == 50).all()
    # Poisson noise with no planted change: every type scores about 1
    assert table["magnitude"].between(0.85, 1.15).all()


def test_the_shipped_pbmc68k_reduced_unchanged_runs_through_the_vae_and_the_cnf(pbmc_workdir):
    config = pbmc_workdir / "c.yaml"
    config.write_text(
        "seed: 1\ndatasets:\n  pbmc: {h5ad: inputs/pbmc.h5ad, cell_type_key: bulk_labels, processed: true}\n"
        "vae:\n  runs:\n    pbmc_vae: {data: pbmc, likelihood: gaussian, latent_dim: 4, hidden: [64], epochs: 5, replicates: 1}\n"
        "cnf:\n  runs:\n    pbmc_cnf: {data: pbmc, n_dims: 2, hidden: [32, 32], objective: flow_matching, iterations: 300, batch_size: 128}\n"
    )
    result = run_snakemake(pbmc_workdir, "--cores", "2", configfile=config)
    assert result.returncode == 0, result.stdout + result.stderr
    latent = ad.read_h5ad(pbmc_workdir / "results/vae/pbmc_vae/latent.h5ad")
    original = ad.read_h5ad(pbmc_workdir / "inputs/pbmc.h5ad")
    assert latent.obsm["X_vae"].shape == (original.n_obs, 4) and list(latent.obs_names) == list(original.obs_names)
    history = pd.read_csv(pbmc_workdir / "results/vae/pbmc_vae/history.tsv", sep="\t")
    assert len(history) == 5 and history["held_out_loss"].iloc[-1] < history["held_out_loss"].iloc[0]
    assert (pbmc_workdir / "results/figures/vae/pbmc_vae.latent.png").stat().st_size > 1000
    # the CNF on the file's own first two PCs: finite held-out NLL, better than the Gaussian of its
    # standardization (log(2 pi) + 1 = 2.838 nats for two standardized dimensions)
    metrics = pd.read_csv(pbmc_workdir / "results/cnf/pbmc_cnf/metrics.tsv", sep="\t")
    assert np.isfinite(metrics["held_out_nll"].iloc[0]) and metrics["held_out_nll"].iloc[0] < np.log(2 * np.pi) + 1
    assert (pbmc_workdir / "results/figures/cnf/pbmc_cnf.density.png").stat().st_size > 1000


def test_nb_on_a_processed_atlas_without_counts_is_refused_before_any_job(pbmc_workdir):
    config = pbmc_workdir / "c.yaml"
    config.write_text(
        "seed: 1\ndatasets:\n  pbmc: {h5ad: inputs/pbmc.h5ad, cell_type_key: bulk_labels, processed: true}\n"
        "vae:\n  runs:\n    pbmc_nb: {data: pbmc, likelihood: nb}\n"
    )
    result = run_snakemake(pbmc_workdir, "--cores", "2", configfile=config)
    assert result.returncode != 0
    assert "vae.runs.pbmc_nb.likelihood is 'nb', which needs counts, but dataset 'pbmc' is processed" in result.stdout + result.stderr
    assert not (pbmc_workdir / "results").exists()


def test_a_cuda_training_run_asks_a_cluster_for_a_gpu_and_a_local_run_without_one_stops_first(tmp_path):
    import torch

    config = tmp_path / "c.yaml"
    config.write_text(
        "seed: 1\ncnf:\n  runs:\n    on_gpu: {data: moons, size: 200, objective: flow_matching, iterations: 5, device: cuda}\n"
        "    on_cpu: {data: moons, size: 200, objective: flow_matching, iterations: 5}\n"
    )
    # planned for SLURM from a login node without a GPU: the job asks for one, nothing else does
    plan = run_snakemake(tmp_path, "--dry-run", "--profile", str(REPO / "profiles" / "slurm"), configfile=config)
    out = plan.stdout + plan.stderr
    assert plan.returncode == 0, out
    blocks = re.findall(r"rule cnf_train:\n(.*?)Shell command", out, flags=re.S)
    gpus = {re.search(r"wildcards: run=(\w+)", b)[1]: re.search(r"resources: .*\bgpu=(\d)", b)[1] for b in blocks}
    assert gpus == {"on_gpu": "1", "on_cpu": "0"}
    local = run_snakemake(tmp_path, "--cores", "1", configfile=config)
    out = local.stdout + local.stderr
    if torch.cuda.is_available():  # the GPU half: the cuda run trains on the GPU, the other on the CPU
        assert local.returncode == 0, out
        assert re.search(r"on_gpu: 5 iterations in [\d.]+ s on cuda", (tmp_path / "logs/cnf_train/on_gpu.log").read_text())
        assert re.search(r"on_cpu: 5 iterations in [\d.]+ s on cuda", (tmp_path / "logs/cnf_train/on_cpu.log").read_text())  # auto
        return
    assert local.returncode != 0
    assert "config key cnf.runs.on_gpu.device is 'cuda', but torch sees no CUDA device here; use 'auto' or 'cpu'" in out
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_a_diverged_training_stops_the_job_with_a_sentence_and_writes_nothing(tmp_path):
    """The issue's runs: a VAE at learning_rate 10 (its second replicate diverging too) and a CNF at
    learning_rate 500 exit non-zero, say why on the console, and leave no model, metrics or checkpoint."""
    config = tmp_path / "c.yaml"
    config.write_text(
        "seed: 1\nvae:\n  simulations:\n    expr: {simulator: expression, n_cells: 300, n_genes: 30, n_factors: 2}\n"
        "  baselines: []\n  runs:\n"
        "    wild_vae: {data: expr, likelihood: nb, latent_dim: 3, hidden: [16], epochs: 4, replicates: 2, learning_rate: 10}\n"
        "cnf:\n  runs:\n    wild_cnf: {data: moons, size: 600, objective: flow_matching, learning_rate: 500, hidden: [32, 32], "
        "iterations: 60, evaluate_every: 20, batch_size: 128, solver: rk4, step_size: 0.05}\n"
    )
    result = run_snakemake(tmp_path, "--cores", "2", "--keep-going", configfile=config)
    out = result.stdout + result.stderr
    assert result.returncode != 0
    assert re.search(r"figureflow: error in rule vae_train: VAE run wild_vae, replicate 0: training diverged at epoch 1 .*lower learning_rate \(now 10\)", out), out[-4000:]
    assert re.search(r"figureflow: error in rule cnf_train: CNF run wild_cnf: training diverged at epoch \d+ .*lower learning_rate \(now 500\)", out), out[-4000:]
    for run in ("vae/wild_vae", "cnf/wild_cnf"):  # no file: no model, metrics or checkpoint of either replicate
        files = [p for p in (tmp_path / "results" / run).rglob("*") if p.is_file()]
        assert not files, files
