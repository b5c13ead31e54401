"""The workflow's plan: which training runs each experiment needs, and which cells cannot run.

Pure functions of the (validated) workflow config, used by `workflow/rules/common.smk` to
build the Snakemake DAG and by the report to say what was left out and why. Keeping this in
the library makes it testable without Snakemake.

Vocabulary
- cell: one (experiment, dataset, model, variant); it needs one run per seed.
- run: one (dataset, model, variant, seed) training job; its folder is `run_dir(...)`. Two
  experiments that need the same run share it (the DAG is the union of all cells).
- variant: the workflow's name for a run configuration (`full`, `wo_cl`, `lambda0_0.1`); it
  maps to a library variant plus `--set` overrides (config `models.<m>.variants.<v>`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

EXPERIMENTS = (
    "overall",
    "ablation",
    "sparsity",
    "lambda0",
    "omega",
    "tau_lambda1",
    "cl_variants",
    "fusion",
    "case_study",
    "datasets",
)
TABLES = ("overall", "ablation", "tau_lambda1", "cl_variants", "datasets")
FIGURES = ("sparsity", "lambda0", "omega", "fusion", "case_study")
SPLIT_FILES = ("trnMat.pkl", "valMat.pkl", "tstMat.pkl")
FEATURE_SUFFIX = "_feat.npy"


class PlanError(ValueError):
    """The config names something that does not exist (a model, variant or dataset)."""


@dataclass(frozen=True, order=True)
class Run:
    dataset: str
    model: str
    variant: str
    seed: int

    @property
    def run_dir(self) -> str:
        return run_dir(self.dataset, self.model, self.variant, self.seed)


@dataclass
class Cell:
    experiment: str
    dataset: str
    model: str
    variant: str
    library_variant: str
    overrides: list[str]
    run_dirs: list[str]


@dataclass
class Skipped:
    experiment: str
    dataset: str
    model: str
    variant: str
    reason: str

    def line(self) -> str:
        return f"{self.experiment}: {self.dataset} / {self.model} / {self.variant}: {self.reason}"


@dataclass
class ExperimentPlan:
    name: str
    kind: str  # table | figure
    scale: str
    seeds: list[int]
    datasets: dict[str, dict[str, Any]]  # name -> {label, stats (path of the data rule's stats.json)}
    cells: list[Cell] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExperimentPlan:
        raw = json.loads(text)
        raw["cells"] = [Cell(**c) for c in raw["cells"]]
        raw["skipped"] = [Skipped(**s) for s in raw["skipped"]]
        return cls(**raw)

    def metrics_paths(self) -> list[str]:
        return [f"{d}/metrics.json" for c in self.cells for d in c.run_dirs]

    def scope_line(self, about: str = "mean ± std over seeds") -> str:
        """The first footnote line of every table and figure: scale, seeds, what the numbers are."""
        return f"scale {self.scale}; seeds {', '.join(map(str, self.seeds))}; {about}"

    def left_out_lines(self, limit: int) -> list[str]:
        """The cells left out, one footnote line each, at most `limit` and then a count."""
        lines = [f"left out: {s.dataset}/{s.model}/{s.variant}: {s.reason}" for s in self.skipped[:limit]]
        if len(self.skipped) > limit:
            lines.append(f"... and {len(self.skipped) - limit} more left out (see results/reproduction.md)")
        return lines


@dataclass
class Plan:
    scale: str
    seeds: list[int]
    experiments: dict[str, ExperimentPlan]
    runs: list[Run]
    data_datasets: list[str]  # datasets whose data rule must run

    @property
    def skipped(self) -> list[Skipped]:
        return [s for e in self.experiments.values() for s in e.skipped]


def run_dir(dataset: str, model: str, variant: str, seed: int) -> str:
    return f"results/runs/{dataset}/{model}/{variant}/seed{seed}"


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def run_settings(config: dict[str, Any], model: str, variant: str) -> tuple[str, list[str]]:
    """(library variant, --set overrides as KEY=VALUE) of one workflow (model, variant).

    Order, later wins: the scale's `set`, the scale's `model_set.<model>`, the variant's `set`.
    """
    spec = config["models"][model]["variants"][variant] or {}
    scale = config["scales"][config["scale"]]
    merged: dict[str, Any] = {}
    merged.update(scale.get("set") or {})
    merged.update((scale.get("model_set") or {}).get(model) or {})
    merged.update(spec.get("set") or {})
    return spec.get("variant", variant), [f"{k}={_format_value(v)}" for k, v in sorted(merged.items())]


def dataset_modalities(config: dict[str, Any], dataset: str, base: Path | str = ".") -> list[str]:
    """Modalities the data rule will provide: configured feature files plus any in data_dir."""
    names = {f[: -len(FEATURE_SUFFIX)] for f in config["datasets"][dataset]["files"] if f.endswith(FEATURE_SUFFIX)}
    local = Path(base) / config["data_dir"] / dataset
    if local.is_dir():
        names |= {p.name[: -len(FEATURE_SUFFIX)] for p in local.glob(f"*{FEATURE_SUFFIX}")}
    return sorted(names)


def registered_models() -> dict[str, list[str]]:
    """Registered model name -> its library variants (imports torch via the registry)."""
    from mmdiffbench.config import list_variants
    from mmdiffbench.models import MODELS

    return {name: list_variants(name) for name in MODELS}


def chosen_experiments(config: dict[str, Any]) -> list[str]:
    scale = config["scales"][config["scale"]]
    wanted = scale["experiments"]
    names = EXPERIMENTS if "all" in wanted else [e for e in EXPERIMENTS if e in wanted]
    return [e for e in names if e in config["experiments"] and config["experiments"][e].get("enabled", True)]


def build_plan(
    config: dict[str, Any],
    models: dict[str, list[str]] | None = None,
    base: Path | str = ".",
) -> Plan:
    """The plan for `config`; `models` = registered model -> variants (default: the registry)."""
    if config["scale"] not in config["scales"]:
        raise PlanError(f"scale: {config['scale']!r} is not one of {', '.join(sorted(config['scales']))}")
    models = registered_models() if models is None else models
    scale = config["scales"][config["scale"]]
    seeds = list(scale["seeds"])
    for name in scale["datasets"]:
        if name not in config["datasets"]:
            raise PlanError(
                f"scales.{config['scale']}.datasets: unknown dataset {name!r}; known: {', '.join(sorted(config['datasets']))}"
            )
    experiments: dict[str, ExperimentPlan] = {}
    runs: set[Run] = set()
    data_datasets: set[str] = set()
    for exp_name in chosen_experiments(config):
        exp = config["experiments"][exp_name]
        for name in exp["datasets"]:
            if name not in config["datasets"]:
                raise PlanError(
                    f"experiments.{exp_name}.datasets: unknown dataset {name!r}; known: {', '.join(sorted(config['datasets']))}"
                )
        datasets = [d for d in exp["datasets"] if d in scale["datasets"]]
        plan = ExperimentPlan(
            exp_name,
            "table" if exp_name in TABLES else "figure",
            config["scale"],
            seeds,
            {d: {"label": config["datasets"][d]["label"], "stats": f"resources/data/{d}/stats.json"} for d in datasets},
        )
        if exp_name == "datasets":
            data_datasets.update(datasets)
        for dataset in datasets:
            modalities = dataset_modalities(config, dataset, base)
            for model, variants in exp["models"].items():
                if model not in config["models"]:
                    raise PlanError(f"experiments.{exp_name}.models: model {model!r} is not in config `models`")
                model_spec = config["models"][model]
                for variant in variants:
                    if variant not in model_spec["variants"]:
                        raise PlanError(
                            f"experiments.{exp_name}.models.{model}: variant {variant!r} is not in "
                            f"models.{model}.variants ({', '.join(model_spec['variants'])})"
                        )
                    library_variant, overrides = run_settings(config, model, variant)
                    reason = None
                    if model not in models:
                        reason = f"model {model!r} is not registered in mmdiffbench.models (known: {', '.join(sorted(models))})"
                    elif library_variant not in models[model]:
                        raise PlanError(
                            f"models.{model}.variants.{variant}: library variant {library_variant!r} unknown; "
                            f"{model} has {', '.join(models[model])}"
                        )
                    elif model_spec.get("multimodal", False) and not modalities:
                        reason = (
                            f"dataset {dataset!r} has no feature files (*{FEATURE_SUFFIX}) in "
                            f"{config['data_dir']}/{dataset} nor in datasets.{dataset}.files, and {model} is "
                            "multimodal; add them (docs/workflow.md, 'Adding feature files')"
                        )
                    if reason:
                        plan.skipped.append(Skipped(exp_name, dataset, model, variant, reason))
                        continue
                    cell_runs = [Run(dataset, model, variant, seed) for seed in seeds]
                    runs.update(cell_runs)
                    data_datasets.add(dataset)
                    plan.cells.append(
                        Cell(
                            exp_name,
                            dataset,
                            model,
                            variant,
                            library_variant,
                            overrides,
                            [r.run_dir for r in cell_runs],
                        )
                    )
        experiments[exp_name] = plan
    return Plan(config["scale"], seeds, experiments, sorted(runs), sorted(data_datasets))
