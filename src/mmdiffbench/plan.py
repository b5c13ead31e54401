"""The workflow's plan: which training runs each registered experiment needs, which cells cannot run.

Pure functions of the (validated) workflow config and the experiment registry
(mmdiffbench.experiments), used by `workflow/rules/common.smk` to build the Snakemake DAG and
by the report to say what was left out and why. Keeping this in the library makes it testable
without Snakemake; it imports neither torch nor a model module (model facts come from each
model's YAML declaration).

The cells, runs and plans it returns are in mmdiffbench.plan_types; what a job gets from the
declarations (resources, release checksums) in mmdiffbench.jobs.

- variant: the workflow's name for a run configuration (`full`, `wo_cl`, `lambda0_0.1`): a
  library variant plus `--set` overrides (a sweep point of the registry or of config `sweeps`).
- runs are keyed by the resolved configuration (config.resolve_settings, YAML only): cells that
  resolve to the same model, dataset and settings share one run, named after the first of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mmdiffbench.config import ConfigError, resolve_settings
from mmdiffbench.experiments import CellSpec, Experiment, RegistryError, registry, sweep_cells
from mmdiffbench.jobs import ModelInfo, implemented_models, job_resources, release_files
from mmdiffbench.plan_types import NOT_IMPLEMENTED, Cell, ExperimentPlan, Plan, PlanError, Run, Skipped
from mmdiffbench.workflow_datasets import check_datasets, derived_datasets, is_derived, plan_info, source_of

FEATURE_SUFFIX = "_feat.npy"


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
    """Modalities the data rule will provide: configured feature files plus any in data_dir (a
    derived dataset has its source's)."""
    dataset = source_of(config, dataset)
    files = config["datasets"][dataset].get("files") or {}
    names = {f[: -len(FEATURE_SUFFIX)] for f in files if f.endswith(FEATURE_SUFFIX)}
    local = Path(base) / config["data_dir"] / dataset
    if local.is_dir():
        names |= {p.name[: -len(FEATURE_SUFFIX)] for p in local.glob(f"*{FEATURE_SUFFIX}")}
    return sorted(names)


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


def settings_key(dataset: str, spec: CellSpec, cell_overrides: list[str]) -> tuple[str, int]:
    """The cell's resolved configuration as a canonical string (what config.json records, without
    the library variant's name), and its `epochs`. Equal keys = one training run. `dataset` is
    the one whose presets apply: a derived dataset's source (as `train` resolves it)."""
    try:
        resolved = resolve_settings(spec.model, dataset, spec.library_variant, cell_overrides)
    except ConfigError as err:
        raise PlanError(f"{spec.model}/{spec.variant} on {dataset}: {err}") from None
    settings = {"model": resolved.model, "trainer": resolved.trainer}
    return json.dumps(settings, sort_keys=True), int(resolved.trainer["epochs"])


def _check_datasets(config: dict[str, Any]) -> None:
    check_datasets(config)
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
    scale_models = config["scales"][config["scale"]].get("models")
    if scale_models is not None and spec.model not in scale_models:
        return f"not among the models of the {config['scale']!r} scale (scales.{config['scale']}.models)"
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
    defined: dict[tuple[str, str, str], str] = {}  # (dataset, model, variant) -> its settings key
    run_names: dict[tuple[str, str, str], str] = {}  # (dataset, model, settings key) -> the run's name
    known = {d for e in registry().values() for d in e.datasets}
    # a dataset no paper uses is in every experiment; a derived one only where an entry asks for its transform
    own = [d for d in scale["datasets"] if d not in known and not is_derived(config, d)]
    for entry in chosen_experiments(config):
        sources = [d for d in entry.datasets if d in scale["datasets"]] + own
        datasets = [d for s in sources for d in (s, *derived_datasets(config, s, entry.derived))]
        plan = ExperimentPlan(
            entry.key,
            entry.kind,
            config["scale"],
            seeds,
            {d: plan_info(config, d) for d in datasets},
            smoke=bool(scale.get("smoke", False)),
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
                cell_overrides = overrides(config, spec)
                try:
                    key, epochs = settings_key(source_of(config, dataset), spec, cell_overrides)
                except PlanError as err:
                    raise PlanError(f"{entry.key}: {err}") from None
                if defined.setdefault((dataset, spec.model, spec.variant), key) != key:
                    raise PlanError(f"{entry.key}: {spec.model}/{spec.variant} is defined twice with other settings")
                name = run_names.setdefault((dataset, spec.model, key), spec.variant)
                cell_runs = [Run(config["scale"], dataset, spec.model, name, seed, epochs) for seed in seeds]
                runs.update(cell_runs)
                data_datasets.add(dataset)
                plan.cells.append(
                    Cell(
                        entry.key,
                        dataset,
                        spec.model,
                        spec.variant,
                        spec.library_variant,
                        cell_overrides,
                        [r.run_dir for r in cell_runs],
                        dict(spec.params),
                        **shown,
                        resources=job_resources(config, models[spec.model], dataset),
                        run=name,
                    )
                )
        experiments[entry.key] = plan
    for dataset in {source_of(config, d) for d in data_datasets}:
        release_files(config, dataset)  # a missing or doubled checksum stops here, naming the key
    return Plan(config["scale"], seeds, experiments, sorted(runs), sorted(data_datasets))
