"""The paper target on the test config's tables: one journal figure per method, at its declared
width, with 5-7 pt text in one family, lettered panels, source data equal to what is drawn, and
the run's provenance; and figureflow.paper's config checks."""

import copy
import importlib
import json
import subprocess
import sys
from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import REPO, SCHEMA, pdf_facts
from figureflow.config import facts_cache, read_facts, validate_config
from figureflow.io import InputError
from figureflow.paper import PAPER_DEFAULTS, PAPER_METHODS, check_config, paper_inputs
from figureflow.plotting.paper import LETTER_PT, TEXT_PT, drawn_texts, layout_problems, paper_style
from figureflow.provenance import config_digest, git_commit

pytestmark = pytest.mark.workflow

CONFIG = REPO / "tests" / "config.yaml"


@pytest.fixture(scope="module")
def workdir(runs):
    return runs["2"]


@pytest.fixture(scope="module")
def facts(workdir):
    raw = yaml.safe_load(CONFIG.read_text())
    known = read_facts(facts_cache(raw, root=workdir / ".snakemake" / "figureflow"))
    assert known is not None, "the workflow left no facts for the test config"
    return known


def compose(workdir, method, options):
    """The method's paper figure drawn again, in this process, from the workflow's tables."""
    inputs = {k: ([str(workdir / p) for p in v] if isinstance(v, list) else str(workdir / v)) for k, v in paper_inputs(method, options).items()}
    with paper_style():
        figure = importlib.import_module(f"figureflow.plotting.{method}").paper_figure(SimpleNamespace(**inputs), dict(options))
        figure.finish()
    return figure


def test_the_test_config_gets_all_six_figures_with_legend_workbook_and_provenance(workdir, facts):
    assert list(facts["paper"]) == list(PAPER_METHODS)
    paper = workdir / "results" / "paper"
    for method in PAPER_METHODS:
        for name in (f"figure_{method}.pdf", f"figure_{method}.png", f"figure_{method}.md", f"figure_{method}.legend.html",
                     f"source_data/figure_{method}.xlsx"):
            assert (paper / name).stat().st_size > 0, name
    assert (paper / "provenance.json").is_file()


@pytest.mark.parametrize("method", PAPER_METHODS)
def test_the_pdf_is_the_declared_width_with_truetype_text_and_the_runs_provenance(workdir, method):
    facts = pdf_facts(workdir / "results" / "paper" / f"figure_{method}.pdf")
    assert abs(facts["width_mm"] - PAPER_DEFAULTS[method]["width_mm"]) < 0.5
    assert abs(facts["height_mm"] - PAPER_DEFAULTS[method]["height_mm"]) < 0.5
    assert "Type3" not in facts["subtypes"]
    record = json.loads(facts["Subject"])
    assert record == json.loads((workdir / "results" / "paper" / "provenance.json").read_text())
    assert record["commit"] == git_commit(REPO)
    effective = validate_config(yaml.safe_load(CONFIG.read_text()), SCHEMA)  # the config with the schema's defaults, as the workflow ran it
    assert record["config_sha256"] == config_digest(effective)
    assert record["seed"] == 7


@pytest.mark.parametrize("method", PAPER_METHODS)
def test_text_sizes_letters_and_overlaps_as_a_journal_checks_them(workdir, facts, method):
    figure = compose(workdir, method, facts["paper"][method])
    fig = figure.fig
    assert layout_problems(fig) == []
    texts = drawn_texts(fig)
    letters = [t for t in texts if t.get_text() in figure.letters and t.get_fontweight() in ("bold", 700)]
    assert sorted(t.get_text() for t in letters) == figure.letters
    assert {t.get_fontsize() for t in letters} == {LETTER_PT}
    others = [t.get_fontsize() for t in texts if t not in letters]
    assert others and TEXT_PT[0] <= min(others) and max(others) <= TEXT_PT[1]
    plt.close(fig)


def read_back(method, figure):
    """One panel's numbers read back from what matplotlib drew, and the source-data column they must equal."""
    if method == "jacobian":
        line = figure["a"].get_lines()[0]  # plain Monte Carlo's |error|
        return line.get_ydata(), ("a", "abs_error", lambda sheet: sheet[sheet["estimator"] == "Monte Carlo"])
    if method == "signal_flow":
        return [p.get_width() for p in figure["c"].patches], ("c", "trophic_incoherence", None)
    if method == "aging":
        return figure["a"].containers[0].lines[0].get_xdata(), ("a", "magnitude", None)
    if method == "vae":
        return [p.get_height() for p in figure["a"].patches], ("a", "mean", lambda sheet: sheet[sheet["mean"].notna()])
    if method == "cnf":
        cnf = next(c for c in figure["d"].collections if c.get_label() == "CNF")
        return cnf.get_offsets()[:, 0], ("d", "CNF", None)
    if method == "sweeps":
        return [p.get_height() for p in figure["b"].containers[0]], ("b", "replicates", None)  # the histogram's bars (not the interval's span)
    raise KeyError(method)


@pytest.mark.parametrize("method", PAPER_METHODS)
def test_the_workbook_holds_a_sheet_per_panel_with_exactly_the_numbers_drawn(workdir, facts, method):
    figure = compose(workdir, method, facts["paper"][method])
    sheets = pd.read_excel(workdir / "results" / "paper" / "source_data" / f"figure_{method}.xlsx", sheet_name=None)
    assert sorted(sheets) == figure.letters
    for letter in figure.letters:  # the workflow's workbook equals this process's drawing
        expected = figure.data[letter]
        assert [str(c) for c in sheets[letter].columns] == [str(c) for c in expected.columns]  # a matrix's integer headers come back as numbers
        assert len(sheets[letter]) == len(expected)
    drawn, (letter, column, select) = read_back(method, figure)
    sheet = sheets[letter] if select is None else select(sheets[letter])
    np.testing.assert_allclose(sheet[column].to_numpy(dtype=float), np.asarray(drawn, dtype=float), rtol=1e-14, atol=0)
    plt.close(figure.fig)


def test_the_figures_import_neither_torch_nor_numba_nor_pot(workdir, facts):
    script = (
        "import importlib, json, sys\n"
        "from types import SimpleNamespace\n"
        "from figureflow.paper import paper_inputs\n"
        "from figureflow.plotting.paper import paper_style\n"
        f"options = json.loads({json.dumps(json.dumps(facts['paper']))})\n"
        "for method, o in options.items():\n"
        "    inputs = {k: v for k, v in paper_inputs(method, o).items()}\n"
        "    with paper_style():\n"
        "        importlib.import_module(f'figureflow.plotting.{method}').paper_figure(SimpleNamespace(**inputs), o).finish()\n"
        "print(sorted(m for m in ('torch', 'numba', 'ot') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_a_panel_naming_something_the_config_does_not_make_is_refused_before_any_job(facts):
    config = yaml.safe_load(CONFIG.read_text())
    for key, value, expected in (("jacobian", {"map": "nope"}, "paper.jacobian.map is 'nope'"),
                                 ("signal_flow", {"graph": "nope"}, "paper.signal_flow.graph is 'nope'"),
                                 ("aging", {"dataset": "nope"}, "paper.aging.dataset is 'nope'"),
                                 ("vae", {"run": "tiny_atlas"}, "paper.vae.run is 'tiny_atlas', which is not a VAE run on a simulation"),
                                 ("cnf", {"run": "nope"}, "paper.cnf.run is 'nope'"),
                                 ("sweeps", {"grid_sweep": "tiny_post"}, "paper.sweeps.grid_sweep is 'tiny_post'")):
        bad = copy.deepcopy(config)
        bad["paper"] = {key: value}
        with pytest.raises(InputError, match=expected.replace(".", r"\.").replace("(", r"\(")):
            check_config(bad, facts)


def test_a_workflow_importing_figureflow_as_a_module_builds_the_paper_figures_in_its_own_directory(tmp_path):
    (tmp_path / "config.yaml").write_text(
        "figureflow:\n  seed: 3\n  jacobian:\n    maps:\n      toy: {map: toy}\n    sample_sizes: [1024, 4096]\n"
    )
    (tmp_path / "Snakefile").write_text(
        'configfile: "config.yaml"\n\n\n'
        "module figureflow:\n"
        f'    snakefile:\n        "{REPO / "Snakefile"}"\n'
        '    config:\n        config["figureflow"]\n\n\n'
        "use rule * from figureflow as figureflow_*\n"
    )
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "figureflow_paper"], cwd=tmp_path, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    paper = tmp_path / "results" / "paper"
    facts = pdf_facts(paper / "figure_jacobian.pdf")
    assert abs(facts["width_mm"] - 183.0) < 0.5
    record = json.loads(facts["Subject"])
    assert record["commit"] == git_commit(REPO) and record["seed"] == 3
    assert (paper / "source_data" / "figure_jacobian.xlsx").is_file() and (paper / "headlines.html").is_file()


@pytest.mark.parametrize("method, option, value", [
    ("aging", "dataset", "tiny_h5ad"),  # ingested: no planted shift, cell counts instead
    ("vae", "run", "tiny_beta"),  # expression: the genes' traversal instead of images
    ("cnf", "run", "tiny_cells"),  # 3-D: held-out points by log-density instead of a grid
    ("jacobian", "map", "tiny_flow"),  # into 2-D: no image to draw
    ("signal_flow", "graph", "tiny_edges"),  # an edge list grouped by its node classes
])
def test_each_kind_of_featured_subject_draws_without_layout_problems(workdir, facts, method, option, value):
    figure = compose(workdir, method, {**facts["paper"][method], option: value})
    assert layout_problems(figure.fig) == []
    assert sorted(figure.data) == figure.letters and all(figure.sentences[k] for k in figure.letters)
    assert value in " ".join(figure.sentences.values())
    plt.close(figure.fig)
