"""Disk of each model's `model.pt` (its state dict, as a finished run saves it) on a dataset's
shapes, in MB: the seed of the `disk_mb` column of src/mmdiffbench/job_costs.csv. A finished run
folder adds only small text files (config.json, history.csv, metrics.json, train.log) unless
`keep_checkpoint` is set. Not a test; models are built, never trained.

    PYTHONPATH=src python benchmarks/run_disk.py --data ../shared/datasets/tiktok --out benchmarks/results/run_disk_tiktok.csv
    PYTHONPATH=src python benchmarks/run_disk.py --synthetic-sports --out benchmarks/results/run_disk_sports.csv
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
import torch
from common import add_dataset_source, dataset_from

from mmdiffbench.config import resolve
from mmdiffbench.models import MODELS
from mmdiffbench.train.checkpoint import save_torch
from mmdiffbench.train.run import build_model
from mmdiffbench.train.seeding import seed_everything


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_dataset_source(parser)
    parser.add_argument("--models", nargs="*", default=sorted(MODELS))
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    dataset = dataset_from(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.models:
            seed_everything(0)
            model = build_model(dataset, resolve(name, dataset.name, "full", []), torch.device("cpu"))
            save_torch(model.kept_state(model.state_dict()), Path(tmp) / "model.pt")
            size_mb = (Path(tmp) / "model.pt").stat().st_size / 2**20
            rows.append({"model": name, "dataset": dataset.name, "model_pt_mb": round(size_mb, 2)})
            print(rows[-1], flush=True)
            del model
    pd.DataFrame(rows).to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
