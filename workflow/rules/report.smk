# Report rules: one plan file per experiment (which cells, which runs, what was left out and
# why), one rule per experiment of the registry (src/mmdiffbench/experiments.yaml): a table
# (CSV + PNG under results/<scale>/tables/) or a figure (PNG + PDF + the plotted numbers as CSV
# under results/<scale>/figures/), named by its registry key, and results/<scale>/reproduction.md
# comparing every paper cell with ours. All call `python -m mmdiffbench report ...` and run on the local machine
# (localrule). `snakemake --report report.html` collects them with the registry's captions.


rule plan:
    output:
        OUT + "/plan/{experiment}.json",
    log:
        OUT + "/logs/plan/{experiment}.log",
    localrule: True
    params:
        plan=plan_json,
    run:
        Path(output[0]).write_text(params.plan)
        Path(log[0]).write_text(f"wrote {output[0]}\n")


rule case_study:
    input:
        metrics=case_study_metrics,
    output:
        directory(OUT + "/case_study/{dataset}"),
    log:
        OUT + "/logs/case_study/{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        run_dir=case_study_run,
        k=config.get("case_study_k", 5),
    shell:
        "{PYTHON} -m mmdiffbench case-study {params.run_dir} --out {output} --k {params.k} > {log} 2>&1"


for _name in PLAN.experiments:
    _entry = experiment(_name)
    _labels = {"experiment": _name, "title": _entry.title}

    rule:
        name:
            rule_name(_name)
        input:
            **experiment_inputs(_name),
        output:
            [  # in the HTML report: a table's CSV and PNG, a figure's PNG
                report(
                    path,
                    caption="../report/experiment.rst",
                    category="Figures" if _entry.is_figure else "Tables",
                    labels={**_labels, "format": path.rsplit(".", 1)[1].upper()},
                )
                if path.endswith(".png") or not _entry.is_figure
                else path
                for path in experiment_outputs(_name)
            ],
        log:
            f"{OUT}/logs/report/{_name}.log",
        localrule: True
        conda:
            "../../envs/cpu.yaml"
        params:
            key=_name,
            caption=lambda wildcards, text=_entry.caption: text,  # a function: braces are not wildcards
            out_dir=lambda wildcards, output: Path(output[0]).parent,
        shell:
            "{PYTHON} -m mmdiffbench report {input.plan} --out-dir {params.out_dir} > {log} 2>&1"


rule reproduction:
    input:
        plans=[f"{OUT}/plan/{name}.json" for name in PLAN.experiments],
        runs=sorted({p for e in PLAN.experiments.values() for p in e.metrics_paths()}),
    output:
        report(
            f"{OUT}/reproduction.md",
            caption="../report/reproduction.rst",
            category="Reproduction",
        ),
    log:
        f"{OUT}/logs/report/reproduction.log",
    localrule: True
    conda:
        "../../envs/cpu.yaml"
    shell:
        "{PYTHON} -m mmdiffbench report {input.plans} --reproduction {output} > {log} 2>&1"
