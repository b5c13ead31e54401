# mmdiffbench: from the DiffMM data release to every DiffMM table and figure.
#   snakemake --cores 2 --config data_dir=../shared/datasets scale=quick   # quick, CPU
#   snakemake --cores 8 --resources gpu=2 --config device=cuda             # a 2-GPU machine
#   snakemake --workflow-profile profiles/slurm                            # a SLURM cluster
# Outputs: results/<scale>/ (one tree per scale). See docs/workflow.md. Configuration: config.yaml (checked against
# workflow/schemas/config.schema.yaml before anything runs).


configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"


report: "workflow/report/workflow.rst"


rule all:
    default_target: True
    input:
        all_outputs(),
    localrule: True
