# The paper: one multi-panel journal figure per method, from the tables the method's rules wrote.


include: "helpers/paper.smk"


rule paper_provenance:
    output:
        "results/paper/provenance.json",
    params:
        record=paper_provenance_record,
    log:
        "logs/paper/provenance.log",
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/plotting.yaml"
    script:
        "../scripts/paper_provenance.py"


rule paper_figure:
    input:
        unpack(paper_inputs),
        provenance="results/paper/provenance.json",
    output:
        pdf=report(
            "results/paper/figure_{method}.pdf",
            caption="../report/paper_figure.rst",
            category="Paper",
            subcategory="{method}",
            labels={"method": "{method}", "file": "figure (PDF)"},
        ),
        png=report(
            "results/paper/figure_{method}.png",
            caption="../report/paper_figure.rst",
            category="Paper",
            subcategory="{method}",
            labels={"method": "{method}", "file": "figure (PNG, 600 dpi)"},
        ),
        legend_html=report(
            "results/paper/figure_{method}.legend.html",
            caption="../report/paper_legend.rst",
            category="Paper",
            subcategory="{method}",
            labels={"method": "{method}", "file": "legend"},
        ),
        legend="results/paper/figure_{method}.md",
        headlines="results/paper/figure_{method}.headlines.tsv",
        source_data="results/paper/source_data/figure_{method}.xlsx",
    params:
        options=paper_figure_options,
    wildcard_constraints:
        method=names_regex(FACTS["paper"]),
    log:
        "logs/paper/figure_{method}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/paper_figure.py"


rule paper_headlines:
    input:
        tables=expand("results/paper/figure_{method}.headlines.tsv", method=list(FACTS["paper"])),
        provenance="results/paper/provenance.json",
    output:
        table="results/paper/headlines.tsv",
        html=report(
            "results/paper/headlines.html",
            caption="../report/paper_headlines.rst",
            category="Paper",
            subcategory="headline numbers",
            labels={"file": "headline numbers"},
        ),
    log:
        "logs/paper/headlines.log",
    localrule: True
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/plotting.yaml"
    script:
        "../scripts/paper_headlines.py"


rule paper:
    input:
        paper_targets(),
    localrule: True
