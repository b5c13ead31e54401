# Helpers shared by the rules: config validation, the plan (which runs each experiment
# needs), and the input/param functions the rules name. The planning logic itself lives in
# the library (mmdiffbench.plan) so it is tested without Snakemake.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from mmdiffbench.data.download import EXTRAS
from mmdiffbench.experiments import RegistryError, experiment
from mmdiffbench.jobs import release_files
from mmdiffbench.plan import build_plan
from mmdiffbench.plan_types import PlanError, left_out_summary
from mmdiffbench.workflow_datasets import is_derived, layout, source_of, transform_args

validate(config, schema="../schemas/config.schema.yaml")

try:
    PLAN = build_plan(config)
except (PlanError, RegistryError) as err:
    raise WorkflowError(f"config error: {err}") from None

LEFT_OUT_SHOWN = 5  # the rest is in results/reproduction.md, section "Cells left out"
if PLAN.skipped:
    print(f"mmdiffbench: {len(PLAN.skipped)} cell(s) left out; the full list: results/reproduction.md", file=sys.stderr)
    for line in left_out_summary(PLAN.skipped, LEFT_OUT_SHOWN):
        print(f"  - {line}", file=sys.stderr)

RUN_SETTINGS = {
    (cell.dataset, cell.model, cell.variant): cell
    for exp_plan in PLAN.experiments.values()
    for cell in exp_plan.cells
}
DEVICE = config["device"]
TRAIN_THREADS = int(config.get("train_threads", 1))
# gpu=1 only when training on CUDA: counted against `--resources gpu=N` locally and
# turned into `--gpus=1` by the SLURM executor plugin.
GPU_RESOURCES = {"gpu": 1} if DEVICE == "cuda" else {}
# Every job runs this checkout's library: its src/ first on PYTHONPATH. With
# --software-deployment-method conda the environment (envs/) then needs only the dependencies;
# a `pip: -e ../` line there would resolve against Snakemake's copy of the env file, not the checkout.
PYTHON = f"env PYTHONPATH='{Path(workflow.basedir) / 'src'}' python"


wildcard_constraints:
    dataset="[a-z0-9_]+",
    model="[a-z0-9_]+",
    variant="[A-Za-z0-9_.-]+",
    seed=r"\d+",


def rule_name(name):
    """`diffmm.table1` -> `table_diffmm_table1` (figures: `figure_...`)."""
    kind = "figure" if experiment(name).is_figure else "table"
    return f"{kind}_{name.replace('.', '_')}"


def experiment_outputs(name):
    if not experiment(name).is_figure:
        return [f"results/tables/{name}.csv", f"results/tables/{name}.png"]
    return [f"results/figures/{name}.{suffix}" for suffix in ("png", "pdf", "csv")]


def all_outputs():
    outputs = [path for name in PLAN.experiments for path in experiment_outputs(name)]
    return outputs + ["results/reproduction.md"]


def release_file_args(wildcards):
    """--file NAME URL CHECKSUM triples for the download module (checksums: the package's)."""
    files = release_files(config, wildcards.dataset)
    return " ".join(f"--file {name} {url or '-'} {checksum}" for name, url, checksum in files)


def local_release_files(wildcards):
    """The files of the local copy in data_dir (tracked for changes); none when absent."""
    folder = Path(config["data_dir"]) / wildcards.dataset
    names = set(config["datasets"][wildcards.dataset].get("files") or {})
    extras = EXTRAS[layout(config, wildcards.dataset)]  # what the data rule links besides the configured files
    names |= {p.name for pattern in extras for p in folder.glob(pattern)} if folder.is_dir() else set()
    return sorted(str(folder / name) for name in names if (folder / name).is_file())


def _cell(wildcards):
    key = (wildcards.dataset, wildcards.model, wildcards.variant)
    if key not in RUN_SETTINGS:
        raise WorkflowError(f"no experiment needs the run {'/'.join(key)}")
    return RUN_SETTINGS[key]


def train_library_variant(wildcards):
    return _cell(wildcards).library_variant


def train_overrides(wildcards):
    return " ".join(f"--set {o}" for o in _cell(wildcards).overrides)


def train_signature(wildcards):
    """What the run's checkpoint must have been trained with to be resumed."""
    cell = _cell(wildcards)
    return f"{cell.library_variant} {' '.join(cell.overrides)}".strip().replace("'", "")


def train_runtime(wildcards, attempt):
    """Minutes (the model's declared hint); each retry (SLURM profile: retries) gets proportionally more."""
    return _cell(wildcards).resources["runtime"] * attempt


def train_mem_mb(wildcards, attempt):
    return _cell(wildcards).resources["mem_mb"] + 2000 * (attempt - 1)


def experiment_inputs(name):
    """The plan file and every metrics.json the experiment's table or figure reads."""
    plan = PLAN.experiments[name]
    inputs = {"plan": f"results/plan/{name}.json", "runs": plan.metrics_paths()}
    inputs["stats"] = [info["stats"] for d, info in plan.datasets.items() if d in PLAN.data_datasets]
    if plan.kind == "case_study":
        inputs["case"] = [f"results/case_study/{cell.dataset}" for cell in plan.cells]
    return inputs


def plan_json(wildcards):
    return PLAN.experiments[wildcards.experiment].to_json()


def case_study_cells():
    """The DiffMM runs the case studies read: the first case-study cell of each dataset."""
    cells = {}
    for plan in PLAN.experiments.values():
        if plan.kind == "case_study":
            for cell in plan.cells:
                cells.setdefault(cell.dataset, cell)
    return cells


def case_study_run(wildcards):
    return case_study_cells()[wildcards.dataset].run_dirs[0]


def data_source(wildcards):
    return f"{config['data_dir']}/{wildcards.dataset}"


def case_study_metrics(wildcards):
    return f"{case_study_run(wildcards)}/metrics.json"


# ---- datasets: sources (the data rule) and derived ones (the noisy_data rule) ------------


def dataset_pattern(derived):
    """The dataset keys one rule makes, as a wildcard regex: sources (data) or derived (noisy_data)."""
    names = [name for name in config["datasets"] if is_derived(config, name) == derived]
    return "|".join(names) or "(?!)"


def dataset_layout(wildcards):
    return layout(config, wildcards.dataset)


def derived_source_dir(wildcards):
    return f"resources/data/{source_of(config, wildcards.dataset)}"


def derived_source_stats(wildcards):
    return f"{derived_source_dir(wildcards)}/stats.json"


def derived_transform_args(wildcards):
    return transform_args(config, wildcards.dataset)
