"""The cost estimate before a run: hand-computed totals from a hand-made cost table, the refresh
from benchmark TSVs of finished jobs, and the package's table covering every model it names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmdiffbench.config import resolve_settings
from mmdiffbench.cost_refresh import main as refresh_main
from mmdiffbench.costs import JobCost, estimate, read_costs, write_costs
from mmdiffbench.models import MODELS
from mmdiffbench.plan_types import Run

COSTS = {
    ("mf_bpr", "small", "cpu"): JobCost("mf_bpr", "small", "cpu", 2.0, 10, 4.0, "estimate"),
    ("lightgcn", "large", "cpu"): JobCost("lightgcn", "large", "cpu", 30.0, 100, None, "estimate"),
}
SIZES = {"tiktok": "small", "sports": "large"}


def test_estimate_charges_each_job_its_epochs_up_to_the_typical(tmp_path: Path) -> None:
    runs = [
        Run("paper", "tiktok", "mf_bpr", "full", 1, 50),  # 10 typical epochs: 2 s x 10
        Run("paper", "tiktok", "mf_bpr", "full", 2, 3),  # capped at 3: 2 s x 3
        Run("paper", "sports", "lightgcn", "full", 1, 40),  # 30 s x 40, disk unknown
        Run("paper", "sports", "vbpr", "full", 1, 40),  # no row
        Run("paper", "tiktok", "mf_bpr", "other", 1, 50),  # finished below: not charged
    ]
    done = tmp_path / runs[-1].run_dir
    done.mkdir(parents=True)
    (done / "metrics.json").write_text("{}")
    cost = estimate(runs, SIZES, "cpu", COSTS, base=tmp_path)
    assert (cost.jobs, cost.finished) == (5, 1)
    assert cost.seconds == pytest.approx(2 * 10 + 2 * 3 + 30 * 40)
    assert cost.disk_mb == pytest.approx(8.0)
    assert (cost.no_time, cost.no_disk) == (["vbpr/large"], 2)
    line = cost.line(cores=2)
    assert line.startswith("5 training job(s) planned (1 finished already); the 4 to run: about 0.3 CPU-hours")
    assert "(0.2 h on 2 cores kept busy)" in line and "no cpu time known for 1 of them (vbpr/large)" in line
    on_gpu = estimate(runs, SIZES, "cuda", COSTS, base=tmp_path)
    assert on_gpu.seconds == 0 and on_gpu.disk_mb == pytest.approx(8.0)  # the CPU rows' disk: the same files
    assert "GPU-hours unknown" in on_gpu.line() and "no cuda time known for 4 of them" in on_gpu.line()


def _finished_job(tree: Path, model: str, seed: int, wall: float, cpu: float, trained: int, epochs: int) -> None:
    tsv = tree / f"benchmarks/train/tiktok/{model}/full/seed{seed}.tsv"
    tsv.parent.mkdir(parents=True, exist_ok=True)
    tsv.write_text(f"s\th:m:s\tmax_rss\tcpu_time\n{wall}\t0:00:00\t100\t{cpu}\n")
    run = tree / f"runs/tiktok/{model}/full/seed{seed}"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"device": "cpu", "trainer": {"epochs": epochs}}))
    (run / "history.csv").write_text("epoch\n" + "".join(f"{e}\n" for e in range(trained)))
    (run / "metrics.json").write_text("{}")
    (run / "model.pt").write_bytes(b"\0" * 2**20)


def test_refresh_replaces_the_measured_rows(tmp_path: Path) -> None:
    tree = tmp_path / "results/paper"
    _finished_job(tree, "mf_bpr", 1, wall=100.0, cpu=150.0, trained=10, epochs=10)  # 15 core-s per epoch
    _finished_job(tree, "mf_bpr", 2, wall=40.0, cpu=80.0, trained=4, epochs=10)  # 20; stopped early
    _finished_job(tree, "mf_bpr", 3, wall=60.0, cpu=60.0, trained=6, epochs=10)  # 10; stopped early
    unfinished = tree / "benchmarks/train/tiktok/mf_bpr/full/seed4.tsv"
    unfinished.write_text("s\tcpu_time\n1\t1\n")
    costs = tmp_path / "costs.csv"
    write_costs(COSTS.values(), costs)
    config = tmp_path / "config.yaml"
    config.write_text("datasets: {tiktok: {label: TikTok, size: small, files: {}}}\n")
    assert refresh_main([str(tree), "--config", str(config), "--costs", str(costs)]) == 0
    rows = read_costs(costs)
    row = rows[("mf_bpr", "small", "cpu")]
    assert row.seconds_per_epoch == pytest.approx(15.0)  # median of 15, 20, 10
    assert row.epochs == 5  # median of the early stops (4, 6)
    folder_mb = [
        sum(p.stat().st_size for p in d.iterdir()) / 2**20 for d in (tree / "runs/tiktok/mf_bpr/full").iterdir()
    ]
    assert row.disk_mb == pytest.approx(sorted(folder_mb)[1], abs=0.05)
    assert row.source.startswith("measured: 3 finished job(s)")
    assert rows[("lightgcn", "large", "cpu")] == COSTS[("lightgcn", "large", "cpu")]  # nothing new: kept


def test_package_costs_name_registered_models_with_their_config_epochs() -> None:
    rows = read_costs()
    assert {m for m, _, _ in rows} == set(MODELS)
    for (model, size, device), row in rows.items():
        assert size in ("small", "large") and device in ("cpu", "cuda") and row.seconds_per_epoch > 0
        assert row.source.startswith(("estimate", "measured"))
        if row.source.startswith("estimate"):
            dataset = {"small": "tiktok", "large": "sports"}[size]
            allowed = resolve_settings(model, dataset).trainer["epochs"]
            if "median epochs_run" in row.source:  # where measured runs stopped early
                assert 1 <= row.epochs <= allowed, (model, size)
            else:
                assert row.epochs == allowed, (model, size)
