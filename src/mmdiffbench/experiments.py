"""The experiment registry (experiments.yaml): each paper table or figure, its cells and metrics.

One entry per table or figure, keyed `<paper>.<table|fig><n>` (`diffmm.table1`, `ld4mrec.fig3`),
and one validation grid per model, `tune.<model>` (kind `tuning`: mmdiffbench.tuning).
The workflow plan, tables, figures, reproduction.md and the report captions all read it, so that
adding a table is one entry. Read with PyYAML only: planning and reporting never import torch.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from mmdiffbench.plan_types import ComparedWithPaper
from mmdiffbench.workflow_datasets import TRANSFORMS

KINDS = ("table", "sweep", "user_groups", "case_study", "dataset_stats", "tuning")
FIGURE_KINDS = ("sweep", "user_groups", "case_study")
RESULT_KINDS = ("table", "sweep", "user_groups")  # kinds whose cells are compared metric by metric
ENTRY_KEYS = {
    "kind",
    "title",
    "paper_csv",
    "datasets",
    "derived",
    "metrics",
    "cells",
    "sweep",
    "paper_groups",
    "note",
    "caption",
}
CELL_KEYS = {"label", "note", "paper_variant"}
SWEEP_KEYS = {"model", "variant", "axes"}


class RegistryError(ValueError):
    """A malformed registry entry or sweep; the message names the key."""


@dataclass(frozen=True)
class CellSpec(ComparedWithPaper):
    """One (model, workflow variant) of an experiment; a sweep cell carries its axis values."""

    model: str
    variant: str  # the workflow variant: the run folder's name
    library_variant: str
    params: tuple[tuple[str, Any], ...] = ()  # --set overrides of a sweep point, in axis order
    label: str = ""  # row label; empty = the paper's
    note: str = ""
    paper_variant: str = ""  # the paper row it is compared with; empty = `variant`


@dataclass(frozen=True)
class Experiment:
    key: str
    kind: str
    title: str
    paper_csv: str | None
    datasets: tuple[str, ...]
    metrics: tuple[str, ...]
    cells: tuple[CellSpec, ...]
    paper_groups: tuple[str, ...] = ()
    note: str = ""
    caption: str = ""
    derived: tuple[str, ...] = ()  # transforms: their derived datasets join the entry beside their sources

    @property
    def paper_table(self) -> str:
        """The paper CSV's name, for the experiments that are compared with one."""
        if self.paper_csv is None:
            raise ValueError(f"experiment {self.key} names no paper_csv")
        return self.paper_csv

    @property
    def paper(self) -> str:
        return self.key.split(".", 1)[0]

    @property
    def is_figure(self) -> bool:
        return self.kind in FIGURE_KINDS

    @property
    def sweep_axes(self) -> tuple[str, ...]:
        """The axis names of the sweep cells, in order (empty when the entry has none)."""
        return next((tuple(k for k, _ in c.params) for c in self.cells if c.params), ())


def _format(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def sweep_cells(spec: dict[str, Any], origin: str) -> list[CellSpec]:
    """One cell per combination of the axes, named `<key>_<value>[_<key>_<value>...]`."""
    if not isinstance(spec, dict) or set(spec) - SWEEP_KEYS or not {"model", "axes"} <= set(spec):
        raise RegistryError(f"{origin}: a sweep is {{model, variant (optional), axes: {{key: [values]}}}}")
    axes = spec["axes"]
    if not isinstance(axes, dict) or not axes or not all(isinstance(v, list) and v for v in axes.values()):
        raise RegistryError(f"{origin}.axes: expected a map of config key -> non-empty list of values")
    cells = []
    for values in itertools.product(*axes.values()):
        params = tuple(zip(axes, values))
        name = "_".join(f"{k}_{_format(v)}" for k, v in params)
        cells.append(CellSpec(spec["model"], name, spec.get("variant", "full"), params))
    return cells


def _listed_cells(cells: dict[str, Any], origin: str) -> list[CellSpec]:
    out = []
    for model, variants in cells.items():
        if isinstance(variants, list):
            variants = {v: {} for v in variants}
        if not isinstance(variants, dict):
            raise RegistryError(f"{origin}.{model}: expected a list of variants or a map variant -> options")
        for variant, options in variants.items():
            options = options or {}
            unknown = set(options) - CELL_KEYS
            if unknown:
                raise RegistryError(f"{origin}.{model}.{variant}: unknown option(s) {sorted(unknown)}")
            out.append(CellSpec(model, variant, variant, **options))
    return out


def parse_entry(key: str, raw: dict[str, Any]) -> Experiment:
    origin = f"experiments.{key}"
    unknown = set(raw) - ENTRY_KEYS
    if unknown:
        raise RegistryError(f"{origin}: unknown field(s) {sorted(unknown)}; known: {sorted(ENTRY_KEYS)}")
    if raw.get("kind") not in KINDS:
        raise RegistryError(f"{origin}.kind: {raw.get('kind')!r} is not one of {', '.join(KINDS)}")
    if raw["kind"] == "tuning" and (raw.get("cells") or not raw.get("sweep")):
        raise RegistryError(f"{origin}: a tuning entry is one `sweep` (its grid) and no `cells`")
    derived = tuple(raw.get("derived") or ())
    if set(derived) - set(TRANSFORMS):
        raise RegistryError(
            f"{origin}.derived: {sorted(set(derived) - set(TRANSFORMS))} not among {', '.join(TRANSFORMS)}"
        )
    cells = _listed_cells(raw.get("cells") or {}, f"{origin}.cells")
    if raw.get("sweep"):
        cells += sweep_cells(raw["sweep"], f"{origin}.sweep")
    return Experiment(
        key=key,
        kind=raw["kind"],
        title=raw.get("title", key),
        paper_csv=raw.get("paper_csv"),
        datasets=tuple(raw.get("datasets") or ()),
        metrics=tuple(raw.get("metrics") or ()),
        cells=tuple(cells),
        paper_groups=tuple(raw.get("paper_groups") or ()),
        note=raw.get("note", ""),
        caption=raw.get("caption", ""),
        derived=derived,
    )


@cache
def _raw() -> dict[str, Any]:
    return yaml.safe_load((resources.files("mmdiffbench") / "experiments.yaml").read_text())


@cache
def registry() -> dict[str, Experiment]:
    """Every registered experiment, in the file's order."""
    return {key: parse_entry(key, raw) for key, raw in _raw()["experiments"].items()}


def experiment(key: str) -> Experiment:
    try:
        return registry()[key]
    except KeyError:
        raise RegistryError(f"unknown experiment {key!r}; known: {', '.join(registry())}") from None


def paper_info(paper: str) -> dict[str, Any]:
    """The registry's `papers.<paper>` entry (name, dataset statistics CSV)."""
    return _raw()["papers"].get(paper, {})
