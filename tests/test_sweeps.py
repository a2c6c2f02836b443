"""Seeded sweeps: tables independent of workers and chunks, replicates reproducible alone, the post's result."""

import re
from pathlib import Path

import numpy as np
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



def _bad_values(parameter):
    """Values the declaration must refuse: the wrong type, and just outside each bound or choice."""
    bad = ["wide", True, None] if parameter.kind is not str else [3, None]
    if parameter.kind is int:
        bad.append(2.5)
    if parameter.kind is float:
        bad.append(float("nan"))
    if parameter.low is not None:
        bad.append(parameter.low if parameter.low_open else parameter.low - 1)
    if parameter.high is not None:
        bad.append(parameter.high + 1)
    if parameter.choices is not None:
        bad.append("not-" + parameter.choices[0])
    return bad


def test_every_value_outside_an_experiments_declaration_is_refused_naming_sweep_parameter_and_value():
    from figureflow.sweeps import PARAMETERS

    for experiment, declared in PARAMETERS.items():
        for name, parameter in declared.items():
            for value in _bad_values(parameter):
                for part, entry in (("grid", [parameter.default, value]), ("params", value)):
                    where = f"sweeps.s.{part}.{name}" + ("[1]" if part == "grid" else "")
                    with pytest.raises(InputError, match=re.escape(f"config key {where} is {value!r}; parameter '{name}' must be")):
                        check_sweep("s", {"experiment": experiment, part: {name: entry}})


def test_the_issues_grid_values_are_refused_before_any_job():
    with pytest.raises(InputError, match=r"sweeps.s.grid.n_init\[0\] is -1; parameter 'n_init' must be an integer >= 1"):
        check_sweep("s", {"experiment": "gmm_vs_kmeans", "grid": {"n_init": [-1]}})
    with pytest.raises(InputError, match=r"sweeps.s.grid.cluster_std\[0\] is 'wide'; parameter 'cluster_std' must be a number > 0"):
        check_sweep("s", {"experiment": "gmm_vs_kmeans", "grid": {"cluster_std": ["wide"]}})
    with pytest.raises(InputError, match=r"sweep 's' \(config key sweeps.s\) at grid point \{'centers': 20\}: n_samples \(30\) must be at least twice centers"):
        check_sweep("s", {"experiment": "gmm_vs_kmeans", "grid": {"centers": [2, 20]}, "params": {"n_samples": 30}})


def test_every_boundary_a_declaration_allows_runs():
    """The declaration is no looser than the experiment: each parameter at each allowed bound and
    choice (others at their defaults, n_samples raised to what centers requires) runs to numbers."""
    from figureflow.sweeps import PARAMETERS, REQUIREMENTS

    for experiment, declared in PARAMETERS.items():
        defaults = {n: p.default for n, p in declared.items()}
        for name, parameter in declared.items():
            values = list(parameter.choices or [])
            if parameter.low is not None:
                values.append(parameter.low + (1e-3 if parameter.low_open else 0))
            if parameter.high is not None:
                values.append(parameter.high)
            for value in values:
                params = {**defaults, "n_init": 1, name: value}
                if name == "centers":
                    params["n_samples"] = max(params["n_samples"], 2 * value)
                check_sweep("s", {"experiment": experiment, "params": params, "replicates": 1})
                assert experiment not in REQUIREMENTS or REQUIREMENTS[experiment](params) is None
                row = run_replicate(experiment, 0, "s", {}, 0, params)
                assert np.isfinite([row["ari_gmm"], row["ari_kmeans"]]).all(), (name, value)


def test_more_chunks_than_replicates_is_refused_with_the_largest_allowed():
    check_sweep("s", {"experiment": "gmm_vs_kmeans", "grid": {"shear": [0.0, 1.0]}, "replicates": 3, "chunks": 6})
    with pytest.raises(InputError, match=r"sweeps.s.chunks is 7, but the sweep has only 6 replicate\(s\) in all \(2 grid point\(s\) x 3 replicates\), so 1 job\(s\) would be empty; set chunks to at most 6"):
        check_sweep("s", {"experiment": "gmm_vs_kmeans", "grid": {"shear": [0.0, 1.0]}, "replicates": 3, "chunks": 7})


def test_the_schema_documents_each_experiment_from_its_declaration():
    import yaml

    from figureflow.sweeps import experiment_documentation

    schema = yaml.safe_load((Path(__file__).resolve().parents[1] / "schemas" / "config.schema.yaml").read_text())
    assert schema["$defs"]["sweep"]["properties"]["experiment"]["description"] == experiment_documentation()
