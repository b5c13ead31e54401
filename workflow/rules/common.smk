# Helpers shared by the rules: config validation, the plan (which runs each experiment
# needs), and the input/param functions the rules name. The planning logic itself lives in
# the library (mmdiffbench.plan) so it is tested without Snakemake.
# Every output of a scale is under its own tree OUT = results/<scale>/ (runs, plan files,
# tables, figures, case studies, reproduction.md, logs, benchmarks): one scale never touches
# another's files. Only the verified data (resources/data/, logs/data/) is shared.
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from mmdiffbench.costs import estimate
from mmdiffbench.data.download import EXTRAS
from mmdiffbench.experiments import RegistryError, experiment
from mmdiffbench.jobs import release_files
from mmdiffbench.plan import build_plan, dataset_modalities
from mmdiffbench.plan_types import PlanError, left_out_file, scale_dir
from mmdiffbench.workflow_datasets import is_derived, layout, source_of, transform_args

validate(config, schema="../schemas/config.schema.yaml")

try:
    PLAN = build_plan(config)
except (PlanError, RegistryError) as err:
    raise WorkflowError(f"config error: {err}") from None

SCALE = config["scale"]
OUT = scale_dir(SCALE)
DEVICE = config["device"]


def announce_plan():
    """Two lines before anything runs (also under -n): the cells left out (their list and reasons
    go to OUT/left_out.txt, rewritten only when it changes) and the estimated cost."""
    left_out = Path(OUT) / "left_out.txt"
    text = left_out_file(PLAN.skipped)
    if not left_out.is_file() or left_out.read_text() != text:
        left_out.parent.mkdir(parents=True, exist_ok=True)
        left_out.write_text(text)
    if PLAN.skipped:
        print(f"mmdiffbench: {len(PLAN.skipped)} cell(s) left out; the list and why: {left_out}", file=sys.stderr)
    sizes = {d: info.get("size", "large") for d, info in config["datasets"].items()}
    try:
        cores = workflow.cores  # --cores N; a dry run may give none
    except WorkflowError:
        cores = None
    print(f"mmdiffbench: {estimate(PLAN.runs, sizes, DEVICE).line(cores)}", file=sys.stderr)


if workflow.is_main_process:  # not again in each job's own Snakemake process (SLURM, run: rules)
    announce_plan()

# (dataset, model, run name) -> the first cell of the run: what the training job is given
RUN_SETTINGS = {}
for exp_plan in PLAN.experiments.values():
    for cell in exp_plan.cells:
        RUN_SETTINGS.setdefault((cell.dataset, cell.model, cell.run), cell)
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
        return [f"{OUT}/tables/{name}.csv", f"{OUT}/tables/{name}.png"]
    return [f"{OUT}/figures/{name}.{suffix}" for suffix in ("png", "pdf", "csv")]


def all_outputs():
    outputs = [path for name in PLAN.experiments for path in experiment_outputs(name)]
    return outputs + [f"{OUT}/reproduction.md"]


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


def dataset_feature_files(wildcards):
    """The modalities the data rule provides for the dataset (a change retrains its runs)."""
    return ",".join(dataset_modalities(config, wildcards.dataset))


def train_runtime(wildcards, attempt):
    """Minutes (the model's declared hint); each retry (SLURM profile: retries) gets proportionally more."""
    return _cell(wildcards).resources["runtime"] * attempt


def train_mem_mb(wildcards, attempt):
    return _cell(wildcards).resources["mem_mb"] + 2000 * (attempt - 1)


def experiment_inputs(name):
    """The plan file and every metrics.json the experiment's table or figure reads."""
    plan = PLAN.experiments[name]
    inputs = {"plan": f"{OUT}/plan/{name}.json", "runs": plan.metrics_paths()}
    # ancient, as for training: a data rule rerun (another data_dir) rebuilds nothing; a change of
    # modalities changes the plan file, which rebuilds the experiment's outputs
    inputs["stats"] = [ancient(info["stats"]) for d, info in plan.datasets.items() if d in PLAN.data_datasets]
    if plan.kind == "case_study":
        inputs["case"] = [f"{OUT}/case_study/{cell.dataset}" for cell in plan.cells]
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
