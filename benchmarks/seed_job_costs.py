"""Seed src/mmdiffbench/job_costs.csv (the workflow's cost estimate) from per-epoch benchmarks,
before any workflow job has been measured. Every row it writes is marked `estimate`:

- seconds_per_epoch (CPU core-seconds) = the median over the run records kept in
  benchmarks/results/runs/ of the size's benchmark dataset (TikTok for `small`, Sports for
  `large`) of the time an epoch's phases and evaluation took (history.csv's time_* columns) x the
  run's threads: whole runs at the workflow's one thread, so the shape of a workflow job; else
  (epoch_s + eval_s) x threads of benchmarks/results/model_epoch_<dataset>.csv (one epoch and one
  evaluation, estimated from a few steps at 2 threads under load, counted as 2 busy cores: on
  Sports 2.5x to 10x the records' core-seconds where both exist);
- epochs = the median `epochs_run` of the benchmark's finished runs of the model on datasets of
  that size (benchmarks/results/baselines_per_seed.csv, one row per dataset x seed; early stops),
  else the maximum the model's config allows on that size's benchmark dataset;
- disk_mb = model.pt of benchmarks/results/run_disk_<dataset>.csv plus 1 MB of logs and history.

    PYTHONPATH=src python benchmarks/seed_job_costs.py

Refresh it from finished jobs with `python -m mmdiffbench.cost_refresh results/<scale>`.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pandas as pd
import yaml

from mmdiffbench.config import resolve_settings
from mmdiffbench.costs import JobCost, read_costs, write_costs
from mmdiffbench.workflow_datasets import size

RESULTS = Path(__file__).parent / "results"
RUN_RECORDS = RESULTS / "runs"
CONFIG = Path(__file__).parents[1] / "config.yaml"
SIZES = {"small": "tiktok", "large": "sports"}
TEXT_FILES_MB = 1.0
ESTIMATE = "estimate:"


def measured_epochs() -> dict[tuple[str, str], tuple[int, int]]:
    """(model, size) -> (median epochs_run, runs) of the benchmark's finished runs, by config.yaml size."""
    config = yaml.safe_load(CONFIG.read_text())
    runs = pd.read_csv(RESULTS / "baselines_per_seed.csv").drop_duplicates(["dataset", "model", "seed"])
    runs = runs[runs["dataset"].isin(config["datasets"])]
    runs = runs.assign(size=[size(config, name) for name in runs["dataset"]])
    grouped = runs.groupby(["model", "size"])["epochs_run"]
    return {key: (round(median), count) for (key, median), count in zip(grouped.median().items(), grouped.count())}


def recorded_epoch_seconds(dataset: str) -> dict[str, tuple[float, int]]:
    """model -> (median core-seconds per epoch, runs) of the finished run records of `dataset`."""
    found: dict[str, list[float]] = {}
    for metrics_file in sorted(RUN_RECORDS.glob(f"*/{dataset}/**/metrics.json")):
        metrics = json.loads(metrics_file.read_text())
        history = pd.read_csv(metrics_file.with_name("history.csv"))
        per_epoch = history.filter(like="time_").sum(axis=1).mean()
        found.setdefault(str(metrics["model"]), []).append(float(per_epoch) * int(metrics["threads"]))
    return {model: (statistics.median(seconds), len(seconds)) for model, seconds in found.items()}


def seeded_rows() -> list[JobCost]:
    """One `estimate` row per model x size, from the benchmark CSVs named in the module docstring."""
    rows = []
    measured = measured_epochs()
    for size_name, dataset in SIZES.items():
        per_epoch = pd.read_csv(RESULTS / f"model_epoch_{dataset}.csv").set_index("model")
        disk = pd.read_csv(RESULTS / f"run_disk_{dataset}.csv").set_index("model")["model_pt_mb"]
        recorded = recorded_epoch_seconds(dataset)
        for model, row in per_epoch.iterrows():
            if str(model) in recorded:
                seconds, n_records = recorded[str(model)]
                records = f"{n_records} run record{'s' if n_records > 1 else ''}"
                seconds_source = f"median epoch + evaluation of {records} in results/runs/ on {dataset} (x threads)"
            else:
                seconds = (row["epoch_s"] + row["eval_s"]) * row["threads"]
                seconds_source = (
                    f"model_epoch_{dataset}.csv (epoch + evaluation at {row['threads']} threads, x threads)"
                )
            if (str(model), size_name) in measured:
                epochs, n_runs = measured[(str(model), size_name)]
                epochs_source = f"epochs: median epochs_run of {n_runs} runs in baselines_per_seed.csv (early stops)"
            else:
                epochs = int(resolve_settings(str(model), dataset).trainer["epochs"])
                epochs_source = "the config's epochs"
            source = f"{ESTIMATE} {seconds_source}, {epochs_source}, run_disk_{dataset}.csv"
            disk_mb = float(disk[model]) + TEXT_FILES_MB
            rows.append(JobCost(str(model), size_name, "cpu", seconds, epochs, disk_mb, source))
    return rows


def main() -> None:
    """Replace the file's estimates; rows measured from workflow jobs (`cost_refresh`) are kept."""
    argparse.ArgumentParser(
        description="Seed src/mmdiffbench/job_costs.csv from per-epoch benchmarks; rows measured from jobs are kept."
    ).parse_args()
    kept = {key: cost for key, cost in read_costs().items() if not cost.source.startswith(ESTIMATE)}
    seeded = [cost for cost in seeded_rows() if (cost.model, cost.size, cost.device) not in kept]
    print(f"wrote {write_costs([*seeded, *kept.values()])} (kept {len(kept)} measured rows)")


if __name__ == "__main__":
    main()
