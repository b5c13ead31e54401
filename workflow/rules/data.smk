# data: make resources/data/<dataset>/ a complete, verified dataset folder. A source dataset
# (config `datasets.<key>`, DiffMM release or MMRec layout): files present in data_dir/<dataset>/
# are checksum-verified and linked; absent ones are downloaded from the URLs in config.yaml and
# verified (a mismatch stops the rule naming the file). A derived dataset (`derived_from`, e.g.
# LD4MRec's noisy training) is written from its source's folder by `mmdiffbench data noisy`.
# Each rule's output is the dataset's statistics (paper Table 5 layout), which the trainer's
# input waits on.


rule data:
    input:
        local_release_files,
    output:
        stats="resources/data/{dataset}/stats.json",
    log:
        "logs/data/{dataset}.log",
    wildcard_constraints:
        dataset=dataset_pattern(derived=False),
    localrule: True
    conda:
        "../../envs/cpu.yaml"
    params:
        source=data_source,
        files=release_file_args,
        layout=dataset_layout,
    shell:
        "{PYTHON} -m mmdiffbench.data.download --dest resources/data/{wildcards.dataset} "
        "--source {params.source} --layout {params.layout} {params.files} > {log} 2>&1 && "
        "{PYTHON} -m mmdiffbench data stats resources/data/{wildcards.dataset} --layout {params.layout} --json "
        "> {output.stats} 2>> {log}"


rule noisy_data:
    input:
        source_stats=derived_source_stats,
    output:
        stats="resources/data/{dataset}/stats.json",
    log:
        "logs/data/{dataset}.log",
    wildcard_constraints:
        dataset=dataset_pattern(derived=True),
    localrule: True
    conda:
        "../../envs/cpu.yaml"
    params:
        source=derived_source_dir,
        transform=derived_transform_args,
    shell:
        "{PYTHON} -m mmdiffbench data noisy {params.source} resources/data/{wildcards.dataset} "
        "{params.transform} > {log} 2>&1 && "
        "{PYTHON} -m mmdiffbench data stats resources/data/{wildcards.dataset} --layout release --json "
        "> {output.stats} 2>> {log}"
