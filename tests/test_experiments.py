"""The experiment registry: entries parse, sweeps name their cells, malformed entries name the key."""

from __future__ import annotations

import pytest

from mmdiffbench.experiments import KINDS, RegistryError, parse_entry, registry, sweep_cells


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
