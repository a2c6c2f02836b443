import numpy as np
import pandas as pd
import pytest

from figureflow.io import InputError, node_groups, read_nodes, write_table


def test_node_groups_defaults_to_the_first_column_after_node_and_results():
    nodes = pd.DataFrame({"node": ["a", "b", "c"], "z": [1.0, 0.0, -1.0], "component": [0, 0, 0], "class": ["s", "i", "m"], "x": [1, 2, 3]})
    name, groups = node_groups(nodes)
    assert name == "class" and groups.tolist() == ["s", "i", "m"]
    assert node_groups(nodes, "x")[1].tolist() == [1, 2, 3]


def test_node_groups_without_annotation_is_none_and_missing_values_are_named():
    assert node_groups(pd.DataFrame({"node": ["a"], "z": [0.0], "component": [0]})) == (None, None)
    name, groups = node_groups(pd.DataFrame({"node": ["a", "b"], "class": ["s", None]}))
    assert groups.tolist() == ["s", "(none)"]


def test_node_groups_refuses_an_absent_column():
    with pytest.raises(InputError, match=r"group_by is 'kind', which is not a node-table column; columns are 'node', 'class'"):
        node_groups(pd.DataFrame({"node": ["a"], "class": ["s"]}), "kind")


def test_read_nodes_keeps_names_as_text_and_empty_cells_as_missing(tmp_path):
    frame = pd.DataFrame({"node": ["007", "NA", "x"], "z": [1.5, np.nan, -1.5], "block": [0, 1, 1]})
    write_table(frame, tmp_path / "n.tsv")
    back = read_nodes(tmp_path / "n.tsv")
    assert back["node"].tolist() == ["007", "NA", "x"]  # not 7, not NaN
    assert np.isnan(back["z"].iloc[1]) and back["z"].iloc[2] == -1.5 and back["block"].tolist() == [0, 1, 1]
