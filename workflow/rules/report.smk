# Report rules: one plan file per experiment (which cells, which runs, what was left out and
# why), one rule per table (CSV + PNG under results/tables/) and per figure (PNG + PDF + the
# plotted numbers as CSV under results/figures/), and results/reproduction.md comparing every
# paper cell with ours. All call `python -m mmdiffbench report ...` and run on the local
# machine (localrule). `snakemake --report report.html` collects them with their captions.


rule plan:
    output:
        "results/plan/{experiment}.json",
    log:
        "logs/plan/{experiment}.log",
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
        directory("results/case_study/{dataset}"),
    log:
        "logs/case_study/{dataset}.log",
    conda:
        "../../envs/cpu.yaml"
    params:
        run_dir=case_study_run,
        k=config.get("case_study_k", 5),
    shell:
        "python -m mmdiffbench case-study {params.run_dir} --out {output} --k {params.k} > {log} 2>&1"


for _name in TABLES:
    if _name not in PLAN.experiments:
        continue

    rule:
        name:
            f"table_{_name}"
        input:
            **experiment_inputs(_name),
        output:
            csv=report(
                f"results/tables/{_name}.csv",
                caption=f"../report/{_name}.rst",
                category="Tables",
                labels={"table": _name, "format": "CSV"},
            ),
            png=report(
                f"results/tables/{_name}.png",
                caption=f"../report/{_name}.rst",
                category="Tables",
                labels={"table": _name, "format": "PNG"},
            ),
        log:
            f"logs/report/{_name}.log",
        localrule: True
        conda:
            "../../envs/cpu.yaml"
        shell:
            "python -m mmdiffbench report {input.plan} --out-dir results/tables > {log} 2>&1"


for _name in FIGURES:
    if _name not in PLAN.experiments:
        continue

    rule:
        name:
            f"figure_{_name}"
        input:
            **experiment_inputs(_name),
        output:
            png=report(
                f"results/figures/{_name}.png",
                caption=f"../report/{_name}.rst",
                category="Figures",
                labels={"figure": _name, "format": "PNG"},
            ),
            pdf=f"results/figures/{_name}.pdf",
            csv=f"results/figures/{_name}.csv",
        log:
            f"logs/report/{_name}.log",
        localrule: True
        conda:
            "../../envs/cpu.yaml"
        shell:
            "python -m mmdiffbench report {input.plan} --out-dir results/figures > {log} 2>&1"


rule reproduction:
    input:
        plans=[f"results/plan/{name}.json" for name in PLAN.experiments],
        runs=sorted({p for e in PLAN.experiments.values() for p in e.metrics_paths()}),
    output:
        report(
            "results/reproduction.md",
            caption="../report/reproduction.rst",
            category="Reproduction",
        ),
    log:
        "logs/report/reproduction.log",
    localrule: True
    conda:
        "../../envs/cpu.yaml"
    shell:
        "python -m mmdiffbench report {input.plans} --reproduction {output} > {log} 2>&1"
