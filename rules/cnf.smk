# Continuous normalizing flows: one job trains and scores a run (toys are drawn inside it, seeded),
# writing what its figures draw; the figure rule only reads.


include: "helpers/cnf.smk"


rule cnf_train:
    input:
        unpack(cnf_run_data),
    output:
        model="results/cnf/{run}/model.pt",
        history="results/cnf/{run}/history.tsv",
        metrics="results/cnf/{run}/metrics.tsv",
        arrays="results/cnf/{run}/figure_data.npz",
    params:
        seed=config["seed"],
        options=cnf_run_options,
        figures=cnf_figure_options,
        checkpoint=cnf_checkpoint,
    log:
        "logs/cnf_train/{run}.log",
    benchmark:
        "results/benchmarks/cnf_train/{run}.tsv"
    threads: 1  # small fields: a second thread makes a step only 1.4x faster; jobs side by side use the cores better
    priority: 10  # the longest jobs of the demo start first, so that the short ones fill the other cores around them
    resources:
        mem_mb=cnf_mem_mb,
        runtime=60,
        gpu=training_gpus("cnf"),
    conda:
        "../envs/cnf.yaml"
    script:
        "../scripts/cnf_train.py"


rule plot_cnf_run:
    input:
        history="results/cnf/{run}/history.tsv",
        metrics="results/cnf/{run}/metrics.tsv",
        arrays="results/cnf/{run}/figure_data.npz",
    output:
        **figure(
            "results/figures/cnf/{run}.density",
            "cnf_density.rst",
            "CNF",
            "{run}",
            {"run": "{run}", "figure": "learned density"},
            name="density",
        ),
        **figure(
            "results/figures/cnf/{run}.samples",
            "cnf_samples.rst",
            "CNF",
            "{run}",
            {"run": "{run}", "figure": "samples"},
            name="samples",
        ),
        **figure(
            "results/figures/cnf/{run}.trajectories",
            "cnf_trajectories.rst",
            "CNF",
            "{run}",
            {"run": "{run}", "figure": "trajectories"},
            name="trajectories",
        ),
        **figure(
            "results/figures/cnf/{run}.training",
            "cnf_training.rst",
            "CNF",
            "{run}",
            {"run": "{run}", "figure": "training curve"},
            name="training",
        ),
    log:
        "logs/plot_cnf_run/{run}.log",
    threads: PLOT_THREADS
    resources:
        **PLOT_RESOURCES,
    conda:
        PLOT_ENV
    script:
        "../scripts/plot_cnf_run.py"
