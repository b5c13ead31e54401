# data: make resources/data/<dataset>/ a complete, verified release folder. Files present in
# data_dir/<dataset>/ are checksum-verified and linked; absent ones are downloaded from the
# URLs in config.yaml and verified (a mismatch stops the rule naming the file). The rule's
# output is the dataset's statistics (paper Table 5 layout), which the trainer's input waits on.


rule data:
    input:
        local_release_files,
    output:
        stats="resources/data/{dataset}/stats.json",
    log:
        "logs/data/{dataset}.log",
    localrule: True
    conda:
        "../../envs/cpu.yaml"
    params:
        source=data_source,
        files=release_file_args,
    shell:
        "{PYTHON} -m mmdiffbench.data.download --dest resources/data/{wildcards.dataset} "
        "--source {params.source} {params.files} > {log} 2>&1 && "
        "{PYTHON} -m mmdiffbench data stats resources/data/{wildcards.dataset} --json "
        "> {output.stats} 2>> {log}"
