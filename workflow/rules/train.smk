# train: one job per (dataset, model, run, seed), calling the library's CLI. A run is one
# resolved configuration (mmdiffbench.plan): cells with equal settings share it; its folder is
# named after the first of them (`variant` below).
# The run folder keeps checkpoint.pt across a kill or preemption (only metrics.json is a
# declared output, so Snakemake never deletes the checkpoint) and `--resume` continues from
# it. A checkpoint written with other settings (a scale's or variant's settings changed) is discarded
# first: the folder's workflow.sig records what the checkpoint was trained with.
# The data's stats.json is `ancient`: the data rule reruns whenever data_dir changes (a quick run
# with another data_dir than the paper run's), and a newer stats.json must not retrain another
# scale's runs. The release files are checksum-verified; what can change is the set of modalities
# (a feature file added), and that is a param, so it retrains the runs on that dataset.


rule train:
    input:
        data=ancient("resources/data/{dataset}/stats.json"),
    output:
        metrics=OUT + "/runs/{dataset}/{model}/{variant}/seed{seed}/metrics.json",
    log:
        OUT + "/logs/train/{dataset}/{model}/{variant}/seed{seed}.log",
    benchmark:  # wall time, CPU time, peak memory: `python -m mmdiffbench.costs refresh` reads them
        OUT + "/benchmarks/train/{dataset}/{model}/{variant}/seed{seed}.tsv"
    conda:
        "../../envs/cuda.yaml" if DEVICE == "cuda" else "../../envs/cpu.yaml"
    threads: TRAIN_THREADS
    resources:
        **GPU_RESOURCES,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    params:
        run_dir=OUT + "/runs/{dataset}/{model}/{variant}/seed{seed}",
        variant=train_library_variant,
        overrides=train_overrides,
        signature=train_signature,
        modalities=dataset_feature_files,
        device="cuda" if DEVICE == "cuda" else "cpu",
    shell:
        "mkdir -p {params.run_dir} && "
        "if [ -f {params.run_dir}/workflow.sig ] && [ \"$(cat {params.run_dir}/workflow.sig)\" != '{params.signature}' ]; "
        "then echo 'settings changed: discarding the old checkpoint' >> {log}; rm -f {params.run_dir}/checkpoint.pt; fi && "
        "echo '{params.signature}' > {params.run_dir}/workflow.sig && "
        "{PYTHON} -m mmdiffbench train --data resources/data/{wildcards.dataset} "
        "--model {wildcards.model} --variant {params.variant} --workflow-variant {wildcards.variant} {params.overrides} "
        "--seed {wildcards.seed} --out {params.run_dir} --resume "
        "--device {params.device} --threads {threads} >> {log} 2>&1"
