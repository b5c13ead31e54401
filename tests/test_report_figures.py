"""Figures from hand-made metrics.json files: files written, plotted numbers = hand means."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mmdiffbench.plan import Cell, ExperimentPlan, Skipped
from mmdiffbench.report.figures import sweep_value, write_figure


def _write(run: Path, recall: float, seed: int, variant: str) -> None:
    run.mkdir(parents=True)
    groups = {"0-5": {"n_users": 3, "recall@20": recall, "ndcg@20": recall / 2}, "6-10": {"n_users": 0}}
    test = {"recall@20": recall, "ndcg@20": recall / 2}
    metrics = {"model": "diffmm", "variant": "full", "dataset": "tiktok", "seed": seed, "selected_epoch": 1, "test": test, "test_groups": groups,
               "paper_protocol": {"epoch": 2, "test": {k: v + 0.01 for k, v in test.items()}, "test_groups": groups}}
    (run / "metrics.json").write_text(json.dumps(metrics))


def _plan(tmp_path: Path, name: str, variants: list[str]) -> ExperimentPlan:
    cells = []
    for i, variant in enumerate(variants):
        dirs = []
        for seed, offset in ((1, 0.0), (2, 0.02)):
            run = tmp_path / f"results/runs/tiktok/diffmm/{variant}/seed{seed}"
            _write(run, 0.1 + 0.01 * i + offset, seed, variant)
            dirs.append(str(run))
        cells.append(Cell(name, "tiktok", "diffmm", variant, "full", [], dirs))
    return ExperimentPlan(name, "figure", "paper", [1, 2], {"tiktok": {"label": "TikTok", "stats": ""}}, cells,
                          [Skipped(name, "baby", "diffmm", variants[0], "no features")])


def test_sweep_value() -> None:
    assert sweep_value("lambda0_0.001") == 0.001
    assert sweep_value("fusion_1.0") == 1.0
    assert sweep_value("omega_0.25") == 0.25
    with pytest.raises(ValueError):
        sweep_value("full")


def test_sweep_figure(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "omega", ["omega_0.1", "omega_0.5"])
    write_figure(plan, tmp_path / "figures")
    for suffix in ("png", "pdf", "csv"):
        assert (tmp_path / "figures" / f"omega.{suffix}").stat().st_size > 0
    data = pd.read_csv(tmp_path / "figures" / "omega.csv")
    row = data[(data.variant == "omega_0.5") & (data.metric == "recall@20") & (data.protocol == "val_selected")].iloc[0]
    assert row["mean"] == pytest.approx((0.11 + 0.13) / 2)
    assert row["x"] == 0.5
    best = data[(data.variant == "omega_0.5") & (data.metric == "recall@20") & (data.protocol == "best_test_epoch")].iloc[0]
    assert best["mean"] == pytest.approx((0.11 + 0.13) / 2 + 0.01)


def test_sparsity_figure(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "sparsity", ["full"])
    write_figure(plan, tmp_path / "figures")
    data = pd.read_csv(tmp_path / "figures" / "sparsity.csv")
    row = data[(data.group == "0-5") & (data.metric == "recall@20") & (data.protocol == "val_selected")].iloc[0]
    assert row["mean"] == pytest.approx(0.11)
    assert set(data.group) == {"0-5"}  # a group without users has no metrics


def test_figure_without_runnable_cells_still_written(tmp_path: Path) -> None:
    plan = ExperimentPlan("fusion", "figure", "paper", [1], {}, [], [Skipped("fusion", "baby", "diffmm", "fusion_0", "no features")])
    write_figure(plan, tmp_path / "figures")
    assert (tmp_path / "figures" / "fusion.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "figures" / "fusion.pdf").is_file()
