"""The workflow's plan: which training runs each registered experiment needs, which cells cannot run.

Pure functions of the (validated) workflow config and the experiment registry
(mmdiffbench.experiments), used by `workflow/rules/common.smk` to build the Snakemake DAG and
by the report to say what was left out and why. Keeping this in the library makes it testable
without Snakemake; it imports neither torch nor a model module (model facts come from each
model's YAML declaration).

Vocabulary
- cell: one (experiment, dataset, model, variant); it needs one run per seed.
- run: one (dataset, model, variant, seed) training job; its folder is `run_dir(...)`. Two
  experiments that need the same run share it (the DAG is the union of all cells).
- variant: the workflow's name for a run configuration (`full`, `wo_cl`, `lambda0_0.1`): a
  library variant plus `--set` overrides (a sweep point of the registry or of config `sweeps`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mmdiffbench.experiments import CellSpec, Experiment, RegistryError, registry, sweep_cells

SPLIT_FILES = ("trnMat.pkl", "valMat.pkl", "tstMat.pkl")
FEATURE_SUFFIX = "_feat.npy"
NOT_IMPLEMENTED = "model not implemented"


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
    params: dict[str, Any] = field(default_factory=dict)  # a sweep point: axis -> value
    label: str = ""  # row label; empty = the paper's
    note: str = ""
    paper_variant: str = ""  # the paper row it is compared with; empty = `variant`
    resources: dict[str, int] = field(default_factory=dict)  # per training job: runtime (minutes), mem_mb


@dataclass
class Skipped:
    experiment: str
    dataset: str
    model: str
    variant: str
    reason: str
    label: str = ""
    note: str = ""
    paper_variant: str = ""

    def line(self) -> str:
        return f"{self.experiment}: {self.dataset} / {self.model} / {self.variant}: {self.reason}"


@dataclass
class ExperimentPlan:
    name: str  # the registry key
    kind: str  # the registry kind
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
        return left_out_summary(self.skipped, limit, "left out: ")


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


@dataclass(frozen=True)
class ModelInfo:
    """What planning needs of an implemented model (from its YAML, without importing it)."""

    variants: tuple[str, ...]
    requires_features: bool
    resources: dict[str, dict[str, int]] = field(default_factory=dict)  # dataset size -> runtime, mem_mb


def left_out_summary(skipped: list[Skipped], limit: int, prefix: str = "") -> list[str]:
    """The left-out cells grouped: one line per (dataset, model, reason) naming its experiments,
    one line for all models not implemented; at most `limit` lines, then a count."""
    missing: dict[str, int] = {}
    groups: dict[tuple[str, str, str], list[str]] = {}
    for s in skipped:
        if s.reason == NOT_IMPLEMENTED:
            missing[s.model] = missing.get(s.model, 0) + 1
        else:
            groups.setdefault((s.dataset, s.model, s.reason), []).append(s.experiment)
    lines = [
        f"{prefix}{dataset} / {model}: {reason} ({len(names)} cell(s): {', '.join(dict.fromkeys(names))})"
        for (dataset, model, reason), names in groups.items()
    ]
    if missing:
        models = ", ".join(f"{m} ({n})" for m, n in missing.items())
        lines.insert(0, f"{prefix}{sum(missing.values())} cell(s): {NOT_IMPLEMENTED}: {models}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more left out (see results/reproduction.md)"]
    return lines


def run_dir(dataset: str, model: str, variant: str, seed: int) -> str:
    return f"results/runs/{dataset}/{model}/{variant}/seed{seed}"


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


def overrides(config: dict[str, Any], spec: CellSpec) -> list[str]:
    """--set overrides (KEY=VALUE) of one cell. Later wins: the scale's `set`, the scale's
    `model_set.<model>`, the cell's sweep point."""
    scale = config["scales"][config["scale"]]
    merged: dict[str, Any] = {}
    merged.update(scale.get("set") or {})
    merged.update((scale.get("model_set") or {}).get(spec.model) or {})
    merged.update(dict(spec.params))
    return [f"{k}={_format_value(v)}" for k, v in sorted(merged.items())]


def dataset_modalities(config: dict[str, Any], dataset: str, base: Path | str = ".") -> list[str]:
    """Modalities the data rule will provide: configured feature files plus any in data_dir."""
    names = {f[: -len(FEATURE_SUFFIX)] for f in config["datasets"][dataset]["files"] if f.endswith(FEATURE_SUFFIX)}
    local = Path(base) / config["data_dir"] / dataset
    if local.is_dir():
        names |= {p.name[: -len(FEATURE_SUFFIX)] for p in local.glob(f"*{FEATURE_SUFFIX}")}
    return sorted(names)


def implemented_models() -> dict[str, ModelInfo]:
    """Registered model name -> its library variants and declaration (YAML only, no torch)."""
    from mmdiffbench.config import declaration, list_variants
    from mmdiffbench.models import MODELS

    declared = {name: declaration(name) for name in MODELS}
    return {
        name: ModelInfo(tuple(list_variants(name)), bool(d["requires_features"]), d["resources"])
        for name, d in declared.items()
    }


def job_resources(config: dict[str, Any], info: ModelInfo, dataset: str) -> dict[str, int]:
    """A training job's runtime (minutes) and mem_mb: the model's hints for the dataset's size,
    replaced by the scale's `resources` where it sets them."""
    size = config["datasets"][dataset].get("size", "large")
    if set(info.resources.get(size, {})) != {"runtime", "mem_mb"}:
        raise PlanError(f"datasets.{dataset}.size: the model declares no runtime and mem_mb for {size!r} datasets")
    return {**info.resources[size], **(config["scales"][config["scale"]].get("resources") or {})}


def release_files(config: dict[str, Any], dataset: str) -> list[tuple[str, str | None, str]]:
    """(name, url or None, `sha256:HEX` | `git_blob:HEX`) of each configured release file.

    The checksum comes from mmdiffbench.data.checksums; config.yaml gives one only for a file
    that registry does not know, never a second copy of a known one.
    """
    from mmdiffbench.data.checksums import release_checksum

    out = []
    for name, spec in sorted(config["datasets"][dataset]["files"].items()):
        key = f"datasets.{dataset}.files.{name}"
        known = release_checksum(dataset, name)
        if isinstance(spec, dict):
            if known:
                raise PlanError(f"{key}: its checksum lives in mmdiffbench/data/checksums.py; give only the URL")
            algorithm = "sha256" if "sha256" in spec else "git_blob"
            out.append((name, spec.get("url"), f"{algorithm}:{spec[algorithm]}"))
        elif known:
            out.append((name, spec, known))
        else:
            raise PlanError(f"{key}: no checksum known (mmdiffbench/data/checksums.py); give {{url: ..., sha256: ...}}")
    return out


def chosen_experiments(config: dict[str, Any]) -> list[Experiment]:
    """The registry entries the scale runs (`all` = every entry), in registry order."""
    key = f"scales.{config['scale']}.experiments"
    wanted = config["scales"][config["scale"]]["experiments"]
    known = registry()
    for name in wanted:
        if name != "all" and name not in known:
            raise PlanError(f"{key}: unknown experiment {name!r}; known: all, {', '.join(known)}")
    return [e for name, e in known.items() if "all" in wanted or name in wanted]


def experiment_cells(config: dict[str, Any], entry: Experiment) -> list[CellSpec]:
    """The entry's cells plus the config's own sweeps for it (`sweeps.<key>`)."""
    extra = []
    for i, sweep in enumerate((config.get("sweeps") or {}).get(entry.key) or []):
        try:
            extra += sweep_cells(sweep, f"sweeps.{entry.key}[{i}]")
        except RegistryError as err:
            raise PlanError(str(err)) from None
    return [*entry.cells, *extra]


def _check_datasets(config: dict[str, Any]) -> None:
    for name in config["scales"][config["scale"]]["datasets"]:
        if name not in config["datasets"]:
            raise PlanError(
                f"scales.{config['scale']}.datasets: unknown dataset {name!r}; known: {', '.join(sorted(config['datasets']))}"
            )
    for key in config.get("sweeps") or {}:
        if key not in registry():
            raise PlanError(f"sweeps: unknown experiment {key!r}; known: {', '.join(registry())}")


def left_out_reason(
    config: dict[str, Any], spec: CellSpec, dataset: str, models: dict[str, ModelInfo], modalities: list[str]
) -> str | None:
    """Why a cell cannot run here (None: it runs); a library variant that does not exist is a PlanError."""
    if spec.model not in models:
        return NOT_IMPLEMENTED
    if spec.library_variant not in models[spec.model].variants:
        raise PlanError(
            f"{spec.model}/{spec.variant}: library variant {spec.library_variant!r} unknown; "
            f"{spec.model} has {', '.join(models[spec.model].variants)}"
        )
    if models[spec.model].requires_features and not modalities:
        return (
            f"dataset {dataset!r} has no feature files (*{FEATURE_SUFFIX}) in {config['data_dir']}/{dataset} "
            f"nor in datasets.{dataset}.files, and {spec.model} requires features; add them "
            "(docs/workflow.md, 'Adding feature files')"
        )
    return None


def build_plan(
    config: dict[str, Any],
    models: dict[str, ModelInfo] | None = None,
    base: Path | str = ".",
) -> Plan:
    """The plan for `config`; `models` = implemented model -> ModelInfo (default: the registry)."""
    if config["scale"] not in config["scales"]:
        raise PlanError(f"scale: {config['scale']!r} is not one of {', '.join(sorted(config['scales']))}")
    _check_datasets(config)
    models = implemented_models() if models is None else models
    scale = config["scales"][config["scale"]]
    seeds = list(scale["seeds"])
    experiments: dict[str, ExperimentPlan] = {}
    runs: set[Run] = set()
    data_datasets: set[str] = set()
    defined: dict[tuple[str, str, str], tuple[str, list[str]]] = {}  # one run folder = one setting
    known = {d for e in registry().values() for d in e.datasets}
    own = [d for d in scale["datasets"] if d not in known]  # a dataset no paper uses: in every experiment
    for entry in chosen_experiments(config):
        datasets = [d for d in entry.datasets if d in scale["datasets"]] + own
        plan = ExperimentPlan(
            entry.key,
            entry.kind,
            config["scale"],
            seeds,
            {d: {"label": config["datasets"][d]["label"], "stats": f"resources/data/{d}/stats.json"} for d in datasets},
        )
        if entry.kind == "dataset_stats":
            data_datasets.update(datasets)
        specs = experiment_cells(config, entry)
        for dataset in datasets:
            modalities = dataset_modalities(config, dataset, base)
            for spec in specs:
                shown = {"label": spec.label, "note": spec.note, "paper_variant": spec.paper_variant}
                try:
                    reason = left_out_reason(config, spec, dataset, models, modalities)
                except PlanError as err:
                    raise PlanError(f"{entry.key}: {err}") from None
                if reason:
                    plan.skipped.append(Skipped(entry.key, dataset, spec.model, spec.variant, reason, **shown))
                    continue
                settings = (spec.library_variant, overrides(config, spec))
                if defined.setdefault((dataset, spec.model, spec.variant), settings) != settings:
                    raise PlanError(f"{entry.key}: {spec.model}/{spec.variant} is defined twice with other settings")
                cell_runs = [Run(dataset, spec.model, spec.variant, seed) for seed in seeds]
                runs.update(cell_runs)
                data_datasets.add(dataset)
                plan.cells.append(
                    Cell(
                        entry.key,
                        dataset,
                        spec.model,
                        spec.variant,
                        spec.library_variant,
                        overrides(config, spec),
                        [r.run_dir for r in cell_runs],
                        dict(spec.params),
                        **shown,
                        resources=job_resources(config, models[spec.model], dataset),
                    )
                )
        experiments[entry.key] = plan
    for dataset in data_datasets:
        release_files(config, dataset)  # a missing or doubled checksum stops here, naming the key
    return Plan(config["scale"], seeds, experiments, sorted(runs), sorted(data_datasets))
