# train: one job per (dataset, model, variant, seed), calling the library's CLI.
# The run folder keeps checkpoint.pt across a kill or preemption (only metrics.json is a
# declared output, so Snakemake never deletes the checkpoint) and `--resume` continues from
# it. A checkpoint written with other settings (the scale or variant changed) is discarded
# first: the folder's workflow.sig records what the checkpoint was trained with.


rule train:
    input:
        data="resources/data/{dataset}/stats.json",
    output:
        metrics="results/runs/{dataset}/{model}/{variant}/seed{seed}/metrics.json",
    log:
        "logs/train/{dataset}/{model}/{variant}/seed{seed}.log",
    benchmark:
        "benchmarks/train/{dataset}/{model}/{variant}/seed{seed}.tsv"
    conda:
        "../../envs/cuda.yaml" if DEVICE == "cuda" else "../../envs/cpu.yaml"
    threads: TRAIN_THREADS
    resources:
        **GPU_RESOURCES,
        mem_mb=train_mem_mb,
        runtime=train_runtime,
    params:
        run_dir="results/runs/{dataset}/{model}/{variant}/seed{seed}",
        variant=train_library_variant,
        overrides=train_overrides,
        signature=train_signature,
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
