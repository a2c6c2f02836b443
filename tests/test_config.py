import copy
from pathlib import Path

import pytest
import yaml

from figureflow.config import ConfigSources, check_inputs, facts_cache, key_lines, preflight, read_facts, schema_errors, validate_config, write_facts
from figureflow.io import InputError

from conftest import REPO, SCHEMA, write_small_h5ad


def load(path):
    return yaml.safe_load(Path(path).read_text())


def test_demo_config_is_valid_and_gets_defaults():
    config = validate_config(load(REPO / "config.yaml"), SCHEMA)
    assert config["preprocess"]["target_sum"] == 10000
    assert config["plotting"]["max_points"] == 50000
    sim = config["datasets"]["aging_demo"]["simulate"]
    assert sim["dispersion"] == 5.0 and sim["n_cells"] == 8000
    edges = config["graphs"]["toy_circuit"]
    assert edges["source_column"] == "pre" and config["graphs"]["feedforward_perfect"]["weight_column"] is None  # "weight" if the file has it
    check_inputs(config, REPO)


def test_a_cluster_job_reads_the_facts_of_its_own_config_and_still_gets_defaults(tmp_path):
    config = {"seed": 1, "datasets": {"mine": {"h5ad": str(tmp_path / "mine.h5ad"), "cell_type_key": "celltype", "counts_layer": "counts"}}}
    write_small_h5ad(tmp_path / "mine.h5ad")
    facts = preflight(copy.deepcopy(config), SCHEMA)
    path = facts_cache(config, tmp_path / "cache")
    assert read_facts(path) is None
    write_facts(path, facts)
    assert read_facts(path) == facts
    # another value anywhere is another config, with its own file
    assert facts_cache({**config, "seed": 2}, tmp_path / "cache") != path
    assert facts_cache(copy.deepcopy(config), tmp_path / "cache") == path
    # given the facts, the job does not open the inputs again (the file is gone) but fills in defaults
    (tmp_path / "mine.h5ad").unlink()
    job_config = copy.deepcopy(config)
    assert preflight(job_config, SCHEMA, known=read_facts(path)) == facts
    assert job_config["preprocess"]["target_sum"] == 10000
    with pytest.raises(InputError, match="mine.h5ad"):
        preflight(copy.deepcopy(config), SCHEMA)


def test_test_config_is_valid():
    assert schema_errors(load(REPO / "tests" / "config.yaml"), load(SCHEMA)) == []


@pytest.mark.parametrize(
    "patch, message",
    [
        ({"sweep": {}}, "unknown config key 'sweep'; allowed keys at the top level: 'aging', 'cnf', 'datasets'"),
        ({"datasets": {"d": {"simulate": {"n_cels": 5}}}}, "unknown config key 'datasets.d.simulate.n_cels'"),
        ({"graphs": {"g": {"edges": "e.tsv", "weights_column": "w"}}}, "unknown config key 'graphs.g.weights_column'"),
        ({"graphs": {"g": {"nodes": "n.tsv"}}}, "config key graphs.g: expected exactly one of 'sbm' or 'edges'"),
        ({"datasets": {"d": {"simulate": {}, "h5ad": "x.h5ad"}}}, "expected exactly one of 'simulate' or 'h5ad'"),
        ({"seed": -3}, "config key seed: -3 is less than the minimum of 0"),
        ({"datasets": {"bad name": {"simulate": {}}}}, "name 'bad name' is not allowed"),
        ({"graphs": {"g": {"sbm": {"p_low": 2}}}}, "config key graphs.g.sbm.p_low: 2 is greater than the maximum of 1"),
    ],
)
def test_schema_errors_name_the_key(patch, message):
    config = {"seed": 1}
    config.update(copy.deepcopy(patch))
    with pytest.raises(InputError) as info:
        validate_config(config, SCHEMA)
    assert message in str(info.value)


def test_missing_seed_is_named():
    with pytest.raises(InputError, match="'seed' is a required property"):
        validate_config({"datasets": {}}, SCHEMA)


def test_signal_flow_graphs_must_exist():
    config = validate_config({"seed": 1, "graphs": {"g": {"sbm": {"n_blocks": 1, "block_size": 5, "p_low": 0, "p_within": 1, "p_forward": 0}}}, "signal_flow": {"graphs": ["g", "h"]}}, SCHEMA)
    assert config["signal_flow"]["solver"] == "auto" and config["signal_flow"]["tolerance"] == 1e-10
    with pytest.raises(InputError, match=r"signal_flow.graphs names 'h', which are not in graphs; graphs are 'g'"):
        check_inputs(config)


def test_check_inputs_wants_one_aging_shift_per_cell_type():
    config = validate_config({"seed": 1, "datasets": {"d": {"simulate": {"n_cell_types": 3, "aging_shift": [0, 1]}}}}, SCHEMA)
    with pytest.raises(InputError, match=r"datasets.d.simulate.aging_shift: expected 3 magnitudes .* found 2"):
        check_inputs(config)


def test_a_simulated_dataset_cannot_be_marked_processed():
    config = validate_config({"seed": 1, "datasets": {"d": {"simulate": {"n_cell_types": 2}, "processed": True}}}, SCHEMA)
    with pytest.raises(InputError, match=r"datasets.d.processed: a simulated dataset holds counts and is always preprocessed"):
        check_inputs(config)


def test_check_inputs_reads_h5ad_obs_and_edge_lists(tmp_path):
    write_small_h5ad(tmp_path / "x.h5ad")
    (tmp_path / "e.tsv").write_text("source\ttarget\na\tb\n")
    config = validate_config(
        {
            "seed": 1,
            "datasets": {
                "d": {"h5ad": "x.h5ad", "cell_type_key": "celltype", "age_key": "donor_age", "young": ["3m"], "old": ["24m"],
                      "counts_layer": "counts"}
            },
            "graphs": {"g": {"edges": "e.tsv"}},
        },
        SCHEMA,
    )
    check_inputs(config, tmp_path)
    config["datasets"]["d"]["old"] = ["99m"]
    with pytest.raises(InputError, match="'99m', which never occur"):
        check_inputs(config, tmp_path)


@pytest.mark.parametrize(
    "graph, message",
    [
        ({"sbm": {"n_blocks": 2, "block_size": 3, "p_low": 0, "p_within": 0, "p_forward": 1}, "group_by": "class"}, "found 'block'"),
        ({"edges": "e.tsv", "group_by": "class"}, r"found \(none\)"),
    ],
)
def test_group_by_must_be_a_node_table_column(tmp_path, graph, message):
    (tmp_path / "e.tsv").write_text("source\ttarget\na\tb\n")
    config = validate_config({"seed": 1, "graphs": {"g": graph}}, SCHEMA)
    with pytest.raises(InputError, match=message):
        check_inputs(config, tmp_path)


# ---------------------------------------------------------------- where a value was set


def test_a_key_repeated_in_a_config_file_is_refused_naming_both_lines(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\ngraphs:\n  g:\n    edges: a.tsv\n  h:\n    edges: b.tsv\n  g:\n    edges: c.tsv\n")
    with pytest.raises(InputError, match=r"config file '.*c.yaml', line 7: key 'graphs.g' appears a second time \(first on line 3\)"):
        key_lines(path)
    path.write_text("seed: 1\nseed: 2\n")
    with pytest.raises(InputError, match=r"line 2: key 'seed' appears a second time \(first on line 1\)"):
        key_lines(path)


def test_key_lines_maps_every_key_and_item_to_its_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\njacobian:\n  sample_sizes:\n    - 32\n    - 64\n  maps: {}\n")
    assert key_lines(path) == {
        ("seed",): 1, ("jacobian",): 2, ("jacobian", "sample_sizes"): 3,
        ("jacobian", "sample_sizes", 0): 4, ("jacobian", "sample_sizes", 1): 5, ("jacobian", "maps"): 6,
    }


def test_schema_errors_say_which_file_and_line_or_the_command_line(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("seed: 1\nplotting:\n  max_points: 10\n  adjacency_bins: 50\n")
    config = load(path)
    with pytest.raises(InputError, match=r"^in config file '.*c.yaml', line 3: config key plotting.max_points: 10 is less than the minimum of 100"):
        validate_config(copy.deepcopy(config), SCHEMA, ConfigSources([path]))
    # the same key given on the command line (--config) wins over the file, and is named so
    cli = {"plotting": {"max_points": 5}}
    merged = copy.deepcopy(config)
    merged["plotting"]["max_points"] = 5
    with pytest.raises(InputError, match=r"^in --config: config key plotting.max_points: 5 is less than"):
        validate_config(merged, SCHEMA, ConfigSources([path], cli))
    # an unknown key is located at its own line
    path.write_text("seed: 1\nplotting:\n  max_points: 500\n  colour: red\n")
    with pytest.raises(InputError, match=r"^in config file '.*c.yaml', line 4: unknown config key 'plotting.colour'"):
        validate_config(load(path), SCHEMA, ConfigSources([path]))


def test_preflight_prints_input_warnings_on_one_line_each(tmp_path):
    import io

    (tmp_path / "e.tsv").write_text("source\ttarget\na \tb\n")
    config = {"seed": 1, "graphs": {"g": {"edges": "e.tsv"}}}
    stream = io.StringIO()
    preflight(config, SCHEMA, base=tmp_path, stream=stream)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("figureflow: warning: edge list") and "'a '" in lines[0]


def test_check_inputs_refuses_ragged_sbm_matrices_and_reversed_weights():
    config = validate_config({"seed": 1, "graphs": {"g": {"sbm": {"block_sizes": [3, 3], "block_probabilities": [[0.1, 0.1], [0.2]]}}}}, SCHEMA)
    with pytest.raises(InputError, match=r"graphs.g.sbm.block_probabilities: row 1 must have 2 entries"):
        check_inputs(config)


def test_an_unknown_sweep_experiment_or_parameter_is_named_before_any_job():
    config = validate_config({"seed": 1, "sweeps": {"s": {"experiment": "gmm_vs_kmeans", "grid": {"cluster_sd": [1, 2]}}}}, SCHEMA)
    assert config["sweeps"]["s"]["replicates"] == 40 and config["sweeps"]["s"]["chunks"] == 1  # schema defaults
    with pytest.raises(InputError, match=r"sweeps.s.grid names 'cluster_sd', which experiment 'gmm_vs_kmeans' does not take"):
        check_inputs(config)


def test_checking_the_demo_config_imports_no_heavy_library():
    # Every snakemake call (and every SLURM job) parses the workflow and checks its config; that
    # check must not pay for torch, scikit-learn, anndata, POT or scipy.stats (seconds of imports).
    import subprocess
    import sys

    code = (
        "import sys, yaml\n"
        "from figureflow.config import check_inputs, validate_config\n"
        f"config = validate_config(yaml.safe_load(open({str(REPO / 'config.yaml')!r})), {str(SCHEMA)!r})\n"
        f"facts = check_inputs(config, base={str(REPO)!r})\n"
        "assert facts['jacobian'] and facts['sweeps'] and facts['vae'], facts.keys()\n"
        "heavy = ['torch', 'sklearn', 'anndata', 'ot', 'scipy.stats', 'scipy.integrate', 'scipy.optimize']\n"
        "print(' '.join(name for name in heavy if name in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == ""


def test_expected_edges_sizes_a_graph_job_before_the_graph_exists(tmp_path):
    from figureflow.data.checks import EDGE_LINE_BYTES, expected_edges

    # feedforward chain of 2 blocks of 10: within 0.2, forward 0.5, backward (p_low) 0.1
    spec = {"sbm": {"n_blocks": 2, "block_size": 10, "p_low": 0.1, "p_within": 0.2, "p_forward": 0.5}}
    assert expected_edges(spec) == pytest.approx(10 * 10 * (0.2 + 0.5 + 0.1 + 0.2), rel=1e-12)
    (tmp_path / "e.tsv").write_text("a\tb\n" * 40)
    assert expected_edges({"edges": "e.tsv"}, base=tmp_path) == 160 / EDGE_LINE_BYTES
