"""The conda envs, pyproject pins and rule declarations agree with what the code needs."""

import ast
import json
import re
import shutil
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

from conftest import REPO, prepare_workdir

# PyPI distribution -> conda-forge package, where the names differ
CONDA_NAME = {"torch": "pytorch"}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def rule_blocks():
    """{rule name: (file, text of the rule)} for every rule in rules/*.smk and the Snakefile."""
    blocks = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"^rule (\w+):", text, flags=re.M)]
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            blocks[name] = (path, text[start:end])
    return blocks


COMMON = (REPO / "rules" / "common.smk").read_text()


def shared_value(name: str):
    """The value of a constant that rules share, defined in rules/common.smk (``PLOT_ENV = ...``)."""
    match = re.search(rf"^{name} = (.+)$", COMMON, flags=re.M)
    assert match, f"{name} is not defined in rules/common.smk"
    return ast.literal_eval(match.group(1))


def directive(block: str, name: str):
    match = re.search(rf"^    {name}:\s*\n?\s*(\S.*)$", block, flags=re.M)
    if not match:
        return None
    value = match.group(1).strip().rstrip(",")
    return shared_value(value) if re.fullmatch(r"[A-Z_]+", value) else value.strip('"')


def helpers_of(path: Path) -> str:
    """The helper functions a rule file may use: its own helpers file (rules/helpers/<stage>.smk) and common.smk."""
    own = REPO / "rules" / "helpers" / path.name
    return COMMON + (own.read_text() if own.is_file() else "")


def imports_of(path: Path, seen: set) -> set:
    """Top-level third-party modules imported by ``path`` and, through figureflow, by what it imports."""
    if path in seen:
        return set()
    seen.add(path)
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            top = name.split(".")[0]
            if top == "figureflow":
                parts = name.split(".")
                for k in range(1, len(parts) + 1):
                    module = REPO / "src" / Path(*parts[:k])
                    for candidate in (module.with_suffix(".py"), module / "__init__.py"):
                        if candidate.is_file():
                            found |= imports_of(candidate, seen)
            elif top not in sys.stdlib_module_names and top not in ("_figureflow_src", "__future__"):
                found.add(top)
    return found


def env_packages(env_file: Path) -> dict:
    """{normalized package: version or None} of a conda env file (pip entries included)."""
    spec = yaml.safe_load(env_file.read_text())
    packages = {}
    for entry in spec["dependencies"]:
        items = entry["pip"] if isinstance(entry, dict) else [entry]
        for item in items:
            name, _, version = re.split(r"(==|=)", item, maxsplit=1) if "=" in item else (item, None, None)
            packages[normalize(name)] = version
    return packages


def pyproject_pins() -> dict:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    pins = {}
    for requirement in data["project"]["dependencies"] + sum(data["project"]["optional-dependencies"].values(), []):
        name, version = requirement.split("==")
        pins[normalize(name)] = version
    return pins


RULES = rule_blocks()
DISTRIBUTIONS = packages_distributions()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_declares_log_threads_resources_and_env(rule):
    path, block = RULES[rule]
    if not re.search(r"^    (output|script|shell|run):", block, flags=re.M):  # a target (all, paper): only inputs, nothing runs
        assert re.search(r"^    input:", block, flags=re.M), f"rule {rule} in {path.name} has neither outputs nor inputs"
        return
    assert re.search(r"^    log:", block, flags=re.M), f"rule {rule} in {path.name} has no log:"
    threads = re.search(r"^    threads: (\d+|[a-z_]+|[A-Z_]+)\b", block, flags=re.M)
    assert threads, f"rule {rule} has no threads:"
    if threads.group(1).isupper():  # a constant that rules share
        assert isinstance(shared_value(threads.group(1)), int)
    elif not threads.group(1).isdigit():  # a function of the wildcards, beside the rule's other helpers
        assert re.search(rf"^def {threads.group(1)}\(wildcards\):", helpers_of(path), flags=re.M), (
            f"rule {rule}: threads function {threads.group(1)} is not defined in rules/helpers/{path.name} or rules/common.smk"
        )
    resources = re.search(r"^    resources:\n((?:        .*\n)+)", block, flags=re.M)
    assert resources, f"rule {rule} has no resources:"
    shared = re.fullmatch(r"\s*\*\*([A-Z_]+),?\s*", resources.group(1))
    declared = set(shared_value(shared.group(1))) if shared else {k for k in ("mem_mb", "runtime") if f"{k}=" in resources.group(1)}
    assert {"mem_mb", "runtime"} <= declared, f"rule {rule} lacks mem_mb/runtime"
    assert directive(block, "conda"), f"rule {rule} has no conda env"


# Prints every output of a workflow's rules with its report() flag, as Snakemake itself parsed them.
LIST_OUTPUTS = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings()) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(), config_settings=ConfigSettings(), snakefile=Path(sys.argv[1]), workdir=Path(sys.argv[2])
    )._workflow
    records = []
    for rule in workflow.rules:
        for path in rule.output:
            flag = path.flags.get("report")
            records.append({
                "rule": rule.name,
                "path": str(path),
                "report": flag is not None,
                "caption": None if flag is None or flag.caption is None else str(flag.caption),
                "category": None if flag is None else flag.category,
            })
    print("OUTPUTS" + json.dumps(records))
"""


def rule_outputs(snakefile: Path, workdir: Path) -> list[dict]:
    """Every rule output of the workflow at ``snakefile``, with its report flag, caption and category."""
    result = subprocess.run(
        [sys.executable, "-c", LIST_OUTPUTS, str(snakefile), str(workdir)], capture_output=True, text=True, cwd=workdir, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.split("OUTPUTS", 1)[1])


def figure_problems(outputs: list[dict]) -> list[str]:
    """Figures (outputs under results/figures/) that are not report items with a caption file and a category."""
    problems = []
    for out in outputs:
        if not out["path"].startswith("results/figures/"):
            continue
        where = f"{out['path']} (rule {out['rule']})"
        if not out["report"]:
            problems.append(f"{where} is not marked with report()")
        elif not out["caption"] or not Path(out["caption"]).is_file():
            problems.append(f"{where} has no caption file")
        elif not out["category"]:
            problems.append(f"{where} has no report category")
    return problems


def test_every_figure_is_a_report_item_with_a_caption_in_both_formats():
    outputs = rule_outputs(REPO / "Snakefile", REPO)
    figures = [o for o in outputs if o["path"].startswith("results/figures/")]
    assert len(figures) >= 16
    assert figure_problems(outputs) == []
    stems = {}
    for out in figures:
        stem, _, fmt = out["path"].rpartition(".")
        stems.setdefault((out["rule"], stem), set()).add(fmt)
    assert all(formats == {"png", "pdf"} for formats in stems.values()), stems


def test_the_figure_check_fails_on_a_figure_without_report_or_caption(tmp_path):
    (tmp_path / "Snakefile").write_text(
        "rule unmarked:\n    output: 'results/figures/a.png'\n    shell: 'touch {output}'\n\n"
        "rule uncaptioned:\n    output: report('results/figures/b.png', category='C')\n    shell: 'touch {output}'\n\n"
        "rule table:\n    output: 'results/t.tsv'\n    shell: 'touch {output}'\n"
    )
    problems = figure_problems(rule_outputs(tmp_path / "Snakefile", tmp_path))
    assert problems == [
        "results/figures/a.png (rule unmarked) is not marked with report()",
        "results/figures/b.png (rule uncaptioned) has no caption file",
    ]


def test_a_figure_whose_caption_file_is_missing_stops_the_workflow_before_any_job(tmp_path):
    # a copy of the workflow in which one caption was never written
    copy = tmp_path / "workflow"
    for part in ("rules", "report", "schemas", "scripts"):
        shutil.copytree(REPO / part, copy / part)
    for part in ("Snakefile", "config.yaml"):
        shutil.copy(REPO / part, copy / part)
    (copy / "report" / "jacobian_image.rst").unlink()
    config = prepare_workdir(tmp_path / "run")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(copy / "Snakefile"), "--configfile", str(config), "--dry-run"],
        capture_output=True, text=True, cwd=tmp_path / "run", timeout=300,
    )
    assert result.returncode != 0
    message = "figure results/figures/jacobian/{map}.image: caption file report/jacobian_image.rst does not exist"
    assert message in result.stdout + result.stderr
    assert not (tmp_path / "run" / "results").exists()


@pytest.mark.parametrize("rule", sorted(r for r in RULES if directive(RULES[r][1], "script")))
def test_env_lists_every_package_the_script_imports(rule):
    path, block = RULES[rule]
    script = (path.parent / directive(block, "script")).resolve()
    env_file = (path.parent / directive(block, "conda")).resolve()
    listed = env_packages(env_file)
    needed = set()
    for module in imports_of(script, set()):
        dists = DISTRIBUTIONS.get(module)
        assert dists, f"{script.name} imports {module}, which no installed distribution provides"
        needed.add(normalize(CONDA_NAME.get(dists[0], dists[0])))
    missing = sorted(needed - set(listed))
    assert not missing, f"{env_file.name} (rule {rule}) lacks {missing}, imported by {script.name}"


@pytest.mark.parametrize("env_file", sorted((REPO / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_env_versions_agree_with_pyproject(env_file):
    pins = pyproject_pins()
    conda_to_pypi = {normalize(v): normalize(k) for k, v in CONDA_NAME.items()}
    for name, version in env_packages(env_file).items():
        if name == "python":
            assert version == "3.11"
            continue
        pypi = conda_to_pypi.get(name, name)
        assert pypi in pins, f"{env_file.name} lists {name}, which pyproject.toml does not pin"
        assert version == pins[pypi], f"{env_file.name}: {name}={version} but pyproject.toml pins {pins[pypi]}"


def test_installed_versions_match_the_pins():
    from importlib.metadata import version

    for name, pinned in pyproject_pins().items():
        if name in ("snakemake-executor-plugin-slurm", "pytest"):
            continue  # optional extras
        installed = version(name).split("+")[0]  # a local label (torch's +cpu build) is the same release
        assert installed == pinned, f"installed {name} {version(name)} differs from the pin {pinned}"


def test_the_slurm_profile_groups_only_small_rules_that_exist():
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.yaml").read_text())
    grouped = profile["groups"]
    assert set(grouped) <= set(RULES), f"profiles/slurm groups rules the workflow lacks: {sorted(set(grouped) - set(RULES))}"
    assert set(grouped.values()) == set(profile["group-components"])
    # training, simulation, bootstrap, sweep-chunk and per-graph work stay one SLURM job each
    assert not [r for r in grouped if re.search(r"train|chunk|cell_type|trajectories|scrna|sbm|ingest|estimates|^signal_flow$", r)]
    assert profile["executor"] == "slurm" and profile["rerun-incomplete"] is True
    # default-resources in the workflow profile would replace the cluster profile's as a whole
    assert "default-resources" not in (yaml.safe_load((REPO / "profiles" / "default" / "config.yaml").read_text()) or {})
