# The helpers of rules/aging.smk (inputs, params, resources, threads), in a file of their own:
# Snakemake's linter keeps functions and rules apart. What every stage shares is in common.smk.


def aging_cell_type_threads(wildcards):
    """A cell type's bootstraps (three OT distances of n x n cells each): two threads from
    bootstraps x n_per_sample^2 of 10^8."""
    section = config["aging"]
    return 2 if section["bootstraps"] * section["n_per_sample"] ** 2 >= two_threads_from("transport") else 1


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
