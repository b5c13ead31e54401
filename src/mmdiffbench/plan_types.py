"""The plan's vocabulary: runs, cells, left-out cells and experiment plans, and their JSON.

What the workflow writes to results/plan/<key>.json and the report reads back; no torch, no
model, no config logic (that is mmdiffbench.plan).

- cell: one (experiment, dataset, model, variant); it needs one run per seed.
- run: one (dataset, model, variant, seed) training job; its folder is `run_dir(...)`. Two
  experiments that need the same run share it (the DAG is the union of all cells).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

NOT_IMPLEMENTED = "model not implemented"


class PlanError(ValueError):
    """The config names something that does not exist (a model, variant or dataset)."""


#: what a smoke-scale output says of its numbers, wherever it shows them
SMOKE = "runs cut to a few epochs to check the workflow: not a reproduction, never compare with the paper"


@dataclass(frozen=True, order=True)
class Run:
    dataset: str
    model: str
    variant: str
    seed: int

    @property
    def run_dir(self) -> str:
        return run_dir(self.dataset, self.model, self.variant, self.seed)


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
        return [f"{d}/metrics.json" for c in self.cells for d in c.run_dirs]

    def scope_line(self, about: str = "mean ± std over seeds") -> str:
        """The first footnote line of every table and figure: scale, seeds, what the numbers are."""
        scope = f"scale {self.scale}; seeds {', '.join(map(str, self.seeds))}; {about}"
        return f"SMOKE TEST ({SMOKE}); {scope}" if self.smoke else scope

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
