"""Seeded sweeps: tables independent of workers and chunks, replicates reproducible alone, the post's result."""

import pandas as pd
import pytest

from figureflow.io import InputError, write_table
from figureflow.sweeps import EXPERIMENTS, check_sweep, gather_chunks, grid_points, run_replicate, run_sweep, summarize

SMALL = {"n_samples": 120, "n_init": 3}
GRID = {"cluster_std": [1.0, 2.5], "shear": [0.0, 1.0]}


def test_grid_points_are_the_product_in_config_order():
    assert grid_points({"a": [1, 2], "b": ["x", "y"]}) == [
        {"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 2, "b": "x"}, {"a": 2, "b": "y"},
    ]
    assert grid_points({}) == [{}]


def test_the_table_is_the_same_for_any_number_of_workers_or_chunks_and_on_rerun(tmp_path):
    def written(table, name):
        write_table(gather_chunks([table]), tmp_path / name)
        return (tmp_path / name).read_bytes()

    one = run_sweep("gmm_vs_kmeans", GRID, 3, 5, "s", SMALL, n_jobs=1)
    assert len(one) == 4 * 3 and list(one.columns[:4]) == ["task", "cluster_std", "shear", "replicate"]
    reference = written(one, "one.tsv")
    for n_jobs in (2, 4):
        assert written(run_sweep("gmm_vs_kmeans", GRID, 3, 5, "s", SMALL, n_jobs=n_jobs), f"{n_jobs}.tsv") == reference
    assert written(run_sweep("gmm_vs_kmeans", GRID, 3, 5, "s", SMALL, n_jobs=1), "rerun.tsv") == reference
    chunks = [run_sweep("gmm_vs_kmeans", GRID, 3, 5, "s", SMALL, chunk=c, chunks=4) for c in range(4)]
    write_table(gather_chunks(chunks), tmp_path / "chunks.tsv")
    assert (tmp_path / "chunks.tsv").read_bytes() == reference


def test_a_replicate_alone_equals_its_row_and_other_seeds_differ():
    table = run_sweep("gmm_vs_kmeans", GRID, 2, 5, "s", SMALL)
    alone = run_replicate("gmm_vs_kmeans", 5, "s", {"cluster_std": 2.5, "shear": 1.0}, 1, SMALL)
    row = table[(table.cluster_std == 2.5) & (table.shear == 1.0) & (table.replicate == 1)].iloc[0]
    assert {k: row[k] for k in alone} == alone
    other = run_sweep("gmm_vs_kmeans", GRID, 2, 6, "s", SMALL)
    assert not other["ari_diff"].equals(table["ari_diff"]) and not other["seed"].equals(table["seed"])
    assert table["seed"].nunique() == len(table)  # every replicate its own stream


def test_on_the_posts_setting_the_mixture_wins_on_average():
    # 300 points, 3 blobs with cluster_std 2.5, sheared; 20 inits each; 40 replicates
    table = run_sweep("gmm_vs_kmeans", {}, 40, 1, "post", n_jobs=2)
    summary = summarize(table, [], seed=1, sweep="post").iloc[0]
    assert summary["mean_ari_diff"] > 0 and summary["ci_low"] > 0
    assert summary["fraction_positive"] > 0.5 and summary["replicates"] == 40


def test_summary_gives_each_grid_points_mean_interval_and_win_fraction():
    table = pd.DataFrame({"g": [1, 1, 1, 2, 2], "ari_diff": [0.1, -0.1, 0.3, 0.0, 0.2]})
    summary = summarize(table, ["g"], n_boot=500)
    assert summary["g"].tolist() == [1, 2] and summary["replicates"].tolist() == [3, 2]
    assert summary["mean_ari_diff"].tolist() == pytest.approx([0.1, 0.1])
    assert summary["fraction_positive"].tolist() == pytest.approx([2 / 3, 0.5])
    assert (summary["ci_low"] <= summary["mean_ari_diff"]).all() and (summary["mean_ari_diff"] <= summary["ci_high"]).all()


def test_unknown_experiments_and_parameters_are_named():
    assert "gmm_vs_kmeans" in EXPERIMENTS
    check_sweep("ok", {"experiment": "gmm_vs_kmeans", "grid": {"cluster_std": [1, 2]}})
    with pytest.raises(InputError, match=r"sweeps.x.experiment is 'gmm'; experiments are 'gmm_vs_kmeans'"):
        check_sweep("x", {"experiment": "gmm"})
    with pytest.raises(InputError, match=r"sweeps.x.grid names 'std', which experiment 'gmm_vs_kmeans' does not take; its parameters are"):
        check_sweep("x", {"experiment": "gmm_vs_kmeans", "grid": {"std": [1]}})

