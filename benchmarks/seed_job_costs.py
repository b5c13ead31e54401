"""Seed src/mmdiffbench/job_costs.csv (the workflow's cost estimate) from per-epoch benchmarks,
before any workflow job has been measured. Every row it writes is marked `estimate`:

- seconds_per_epoch (CPU core-seconds) = (epoch_s + eval_s) x threads of
  benchmarks/results/model_epoch_<dataset>.csv (one epoch and one evaluation at 2 threads,
  counted as 2 busy cores), TikTok for `small` datasets, Sports' shapes for `large`;
- epochs = the maximum the model's config allows on that dataset (early stopping may end sooner);
- disk_mb = model.pt of benchmarks/results/run_disk_<dataset>.csv plus 1 MB of logs and history.

    PYTHONPATH=src python benchmarks/seed_job_costs.py

Refresh it from finished jobs with `python -m mmdiffbench.cost_refresh results/<scale>`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mmdiffbench.config import resolve_settings
from mmdiffbench.costs import JobCost, write_costs

RESULTS = Path(__file__).parent / "results"
SIZES = {"small": "tiktok", "large": "sports"}
TEXT_FILES_MB = 1.0


def main() -> None:
    rows = []
    for size, dataset in SIZES.items():
        epochs = pd.read_csv(RESULTS / f"model_epoch_{dataset}.csv").set_index("model")
        disk = pd.read_csv(RESULTS / f"run_disk_{dataset}.csv").set_index("model")["model_pt_mb"]
        for model, row in epochs.iterrows():
            seconds = (row["epoch_s"] + row["eval_s"]) * row["threads"]
            source = (
                f"estimate: model_epoch_{dataset}.csv (epoch + evaluation at {row['threads']} threads, x threads), "
                f"the config's epochs, run_disk_{dataset}.csv"
            )
            allowed = int(resolve_settings(str(model), dataset).trainer["epochs"])
            rows.append(JobCost(str(model), size, "cpu", seconds, allowed, float(disk[model]) + TEXT_FILES_MB, source))
    print(f"wrote {write_costs(rows)}")


if __name__ == "__main__":
    main()
