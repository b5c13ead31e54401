"""The experiment registry: entries parse, sweeps name their cells, malformed entries name the key."""

from __future__ import annotations

import pytest

from mmdiffbench.config import coerce, default_settings
from mmdiffbench.experiments import KINDS, Experiment, RegistryError, parse_entry, registry, sweep_cells
from mmdiffbench.models import MODELS


def test_every_entry_parses_with_a_known_kind_and_caption() -> None:
    entries = registry()
    assert {"diffmm.table1", "diffmm.fig5", "diffcl.table3", "ld4mrec.fig3"} <= set(entries)
    for key, entry in entries.items():
        assert entry.kind in KINDS and entry.title and entry.caption and entry.datasets, key
        assert entry.kind in ("case_study", "dataset_stats") or entry.metrics, key


def test_sweep_cells_are_the_product_of_the_axes() -> None:
    cells = sweep_cells({"model": "m", "axes": {"a": [1, 0.5], "b": [True]}}, "here")
    assert [c.variant for c in cells] == ["a_1_b_true", "a_0.5_b_true"]
    assert cells[1].params == (("a", 0.5), ("b", True)) and cells[1].library_variant == "full"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"kind": "plot"}, r"experiments.x.y.kind: 'plot' is not one of"),
        ({"kind": "table", "colour": 1}, r"experiments.x.y: unknown field\(s\) \['colour'\]"),
        ({"kind": "table", "cells": {"m": {"full": {"lable": "M"}}}}, r"experiments.x.y.cells.m.full: unknown option"),
        ({"kind": "sweep", "sweep": {"model": "m", "axes": {"a": []}}}, r"experiments.x.y.sweep.axes: expected"),
    ],
)
def test_malformed_entries_name_the_key(raw: dict, message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        parse_entry("x.y", raw)


# ---- validation grids (tune.<model>) ---------------------------------------------------

TUNED = {"mf_bpr", "lightgcn", "ngcf", "sgl", "ncl", "hccf", "simgcl", "vbpr", "lightgcn_m", "mmgcn", "grcn"}
TUNED |= {"lattice", "clcrec", "mmgcl", "slmrec", "bm3", "dualgnn", "mgcn", "freedom", "diffrec", "diffcl", "ld4mrec"}


def _tuning_entries() -> dict[str, Experiment]:
    return {key: e for key, e in registry().items() if e.kind == "tuning"}


def test_every_baseline_and_new_diffusion_model_has_one_grid() -> None:
    entries = _tuning_entries()
    assert {key: {c.model for c in e.cells} for key, e in entries.items()} == {f"tune.{m}": {m} for m in TUNED}
    assert set(MODELS) - TUNED == {"diffmm"}  # DiffMM keeps the official presets


def test_grid_axes_are_settings_of_their_model_with_values_of_the_default_type() -> None:
    for key, entry in _tuning_entries().items():
        model = entry.cells[0].model
        defaults = default_settings(model)
        assert len(entry.cells) >= 2 and entry.note and entry.paper_csv is None, key
        for axis, value in (p for c in entry.cells for p in c.params):
            assert axis in defaults, f"{key}: {axis} is not a setting of {model}"
            coerce(axis, value, defaults[axis])  # a ConfigError fails the test
            assert not isinstance(value, str) or isinstance(defaults[axis], str), f"{key}: {axis}={value!r}"


def test_grids_choose_by_the_selection_metric_on_datasets_the_tables_use() -> None:
    selection = default_settings("mf_bpr")["selection_metric"]
    used: dict[str, set[str]] = {}
    for entry in registry().values():
        if entry.kind != "tuning":
            for cell in entry.cells:
                used.setdefault(cell.model, set()).update(entry.datasets)
    for key, entry in _tuning_entries().items():
        assert entry.metrics[0] == selection, key
        assert set(entry.datasets) <= used[entry.cells[0].model], key


@pytest.mark.parametrize(
    "raw",
    [
        {"kind": "tuning", "cells": {"m": ["full"]}},
        {"kind": "tuning", "cells": {"m": ["full"]}, "sweep": {"model": "m", "axes": {"a": [1]}}},
    ],
)
def test_a_tuning_entry_is_one_sweep(raw: dict) -> None:
    with pytest.raises(RegistryError, match=r"experiments.x.y: a tuning entry is one `sweep`"):
        parse_entry("x.y", raw)
