"""What a DiffMM checkpoint costs the training run: writing checkpoint.pt with and without
torch's per-record CRC32, and copying the selected state whole or only what model.pt keeps.
Not a test: run it by hand.

    PYTHONPATH=src python benchmarks/checkpoint_write.py --data ../shared/datasets/tiktok --rounds 5

The model is DiffMM with its dataset preset; its Adam states are filled as after a first
epoch (one moment tensor pair per parameter), so the checkpoint has the size a run writes.
Each round does every variant once, in alternating order (this machine's speed drifts);
the medians and their ratios are printed. `--out` keeps the rows as CSV.
"""

from __future__ import annotations

import argparse
import logging
import os
import tempfile
import time
from pathlib import Path
from statistics import median

import pandas as pd
import torch
from common import add_dataset_source, dataset_from

from mmdiffbench.config import resolve
from mmdiffbench.train.run import build_model
from mmdiffbench.train.trainer import Trainer, cpu_copy


def filled_trainer(args: argparse.Namespace, folder: Path) -> Trainer:
    """A DiffMM trainer whose optimisers hold a state for every parameter, selected at epoch 0."""
    dataset = dataset_from(args)
    config = resolve("diffmm", dataset.name, "full", [])
    model = build_model(dataset, config, torch.device("cpu"))
    trainer = Trainer(model, dataset, config.trainer, 0, folder, logging.getLogger("checkpoint_write"))
    for optimizer in trainer.phases.optimizers.values():
        for group in optimizer.param_groups:
            for p in group["params"]:
                optimizer.state[p] = {
                    "step": torch.tensor(1.0),
                    "exp_avg": p.detach().clone(),
                    "exp_avg_sq": p.detach().clone(),
                }
    trainer.selected.epoch = 0
    return trainer


def write(trainer: Trainer, path: Path, crc32: bool) -> float:
    """Seconds of one torch.save of the trainer's checkpoint state (the atomic rename excluded)."""
    torch.serialization.set_crc32_options(crc32)
    started = time.perf_counter()
    torch.save(trainer._state(0), path)
    return time.perf_counter() - started


def copy_state(trainer: Trainer, kept: bool) -> float:
    """Seconds of one copy of the selected state: all of it, or what model.pt keeps."""
    started = time.perf_counter()
    state = trainer.model.state_dict()
    cpu_copy(trainer.model.kept_state(state) if kept else state)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_source(parser)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    variants = {
        "write, crc32": lambda t, p: write(t, p, True),
        "write, no crc32": lambda t, p: write(t, p, False),
        "copy, whole state": lambda t, p: copy_state(t, False),
        "copy, kept state": lambda t, p: copy_state(t, True),
    }
    times: dict[str, list[float]] = {name: [] for name in variants}
    with tempfile.TemporaryDirectory(dir=Path.cwd()) as tmp:
        trainer = filled_trainer(args, Path(tmp))
        path = Path(tmp) / "checkpoint.pt"
        for round_ in range(args.rounds):
            order = list(variants) if round_ % 2 == 0 else list(reversed(variants))
            for name in order:
                times[name].append(variants[name](trainer, path))
        size_mb = os.path.getsize(path) / 1e6
    rows = [{"variant": name, "median_s": median(values), "runs": len(values)} for name, values in times.items()]
    table = pd.DataFrame(rows)
    print(f"checkpoint {size_mb:.0f} MB, {args.rounds} rounds, {args.threads} threads, load {os.getloadavg()[0]:.1f}")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    medians = dict(zip(table["variant"], table["median_s"]))
    print(f"write crc32 / no crc32: {medians['write, crc32'] / medians['write, no crc32']:.2f}x")
    print(f"copy whole / kept: {medians['copy, whole state'] / medians['copy, kept state']:.2f}x")
    if args.out:
        table.assign(checkpoint_mb=size_mb, threads=args.threads).to_csv(args.out, index=False, float_format="%.4g")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
