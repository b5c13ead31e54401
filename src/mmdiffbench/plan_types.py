"""The plan's vocabulary: runs, cells, left-out cells and experiment plans, and their JSON.

What the workflow writes to results/<scale>/plan/<key>.json and the report reads back; no torch, no
model, no config logic (that is mmdiffbench.plan).

- scale tree: `results/<scale>/` holds every output of one scale (runs, plan files, tables,
  figures, case studies, reproduction.md, logs, benchmarks), so scales never touch each other.
- cell: one (experiment, dataset, model, variant); it needs one run per seed.
- run: one training job per (resolved configuration, seed); its folder is `run_dir(...)`, named
  after the first cell that needs it. Cells whose model, dataset and resolved settings are equal
  (two experiments, or two variants that set the same values) share it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

NOT_IMPLEMENTED = "model not implemented"


class PlanError(ValueError):
    """The config names something that does not exist (a model, variant or dataset)."""


#: what a smoke-scale output says of its numbers, wherever it shows them
SMOKE = "runs cut to a few epochs to check the workflow: not a reproduction, never compare with the paper"


@dataclass(frozen=True, order=True)
class Run:
    scale: str
    dataset: str
    model: str
    name: str  # the workflow variant of the first cell that needs the run
    seed: int
    epochs: int  # the resolved `epochs`: what the job may train at most (the cost estimate)

    @property
    def run_dir(self) -> str:
        return run_dir(self.scale, self.dataset, self.model, self.name, self.seed)


class ComparedWithPaper:
    """What a cell is compared with: the paper row named `paper_variant`, else its own `variant`."""

    variant: str
    paper_variant: str

    @property
    def paper_key(self) -> str:
        return self.paper_variant or self.variant


@dataclass
class Cell(ComparedWithPaper):
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
    run: str = ""  # the name of its runs (their folder): the first cell with the same resolved settings


@dataclass
class Skipped(ComparedWithPaper):
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
    smoke: bool = False  # runs cut short to check the workflow (config `scales.<name>.smoke`)

    @property
    def root(self) -> str:
        """The scale's tree, where the case studies of this plan are."""
        return scale_dir(self.scale)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ExperimentPlan:
        raw = json.loads(text)
        raw["cells"] = [Cell(**c) for c in raw["cells"]]
        raw["skipped"] = [Skipped(**s) for s in raw["skipped"]]
        return cls(**raw)

    def paper_dataset(self, dataset: str) -> str:
        """The paper's key for one of our datasets: a derived one (a noisy copy) is its source's."""
        return self.datasets[dataset].get("derived_from", dataset)

    def metrics_paths(self) -> list[str]:
        """Every metrics.json the experiment reads, each once (cells may share a run)."""
        return list(dict.fromkeys(path for _, path in self.cell_metrics()))

    def cell_metrics(self) -> list[tuple[str, str]]:
        """(cell variant, metrics.json) per cell and seed: a shared run counts for each of its cells."""
        return [(c.variant, f"{d}/metrics.json") for c in self.cells for d in c.run_dirs]

    def scope_line(self, about: str = "mean ± std over seeds") -> str:
        """The first footnote line of every table and figure: scale, seeds, what the numbers are."""
        scope = f"scale {self.scale}; seeds {', '.join(map(str, self.seeds))}; {about}"
        return f"SMOKE TEST ({SMOKE}); {scope}" if self.smoke else scope

    def left_out_lines(self, limit: int, model_name: Callable[[str], str] = str) -> list[str]:
        """The cells left out, one footnote line each, at most `limit` and then a count; datasets
        by their configured label, models by `model_name` (the reports pass the papers' names)."""

        def dataset_name(key: str) -> str:
            return str(self.datasets.get(key, {}).get("label", key))

        return left_out_summary(self.skipped, limit, "left out: ", dataset_name, model_name)


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


def left_out_summary(
    skipped: list[Skipped],
    limit: int,
    prefix: str = "",
    dataset_name: Callable[[str], str] = str,
    model_name: Callable[[str], str] = str,
) -> list[str]:
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
        f"{prefix}{dataset_name(dataset)} / {model_name(model)}: {reason} "
        f"({len(names)} cell(s): {', '.join(dict.fromkeys(names))})"
        for (dataset, model, reason), names in groups.items()
    ]
    if missing:
        models = ", ".join(f"{model_name(m)} ({n})" for m, n in missing.items())
        lines.insert(0, f"{prefix}{sum(missing.values())} cell(s): {NOT_IMPLEMENTED}: {models}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more left out (see reproduction.md)"]
    return lines


def left_out_file(skipped: list[Skipped]) -> str:
    """results/<scale>/left_out.txt: the grouped summary, then every left-out cell with its reason."""
    if not skipped:
        return "0 cell(s) left out\n"
    lines = [f"{len(skipped)} cell(s) left out", "", *left_out_summary(skipped, len(skipped) + 1), ""]
    return "\n".join(lines + [s.line() for s in skipped]) + "\n"


def scale_dir(scale: str) -> str:
    """The tree that holds every output of one scale."""
    return f"results/{scale}"


def run_dir(scale: str, dataset: str, model: str, name: str, seed: int) -> str:
    return f"{scale_dir(scale)}/runs/{dataset}/{model}/{name}/seed{seed}"
