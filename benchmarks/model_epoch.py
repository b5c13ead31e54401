"""Seconds per training epoch (by phase), seconds per full evaluation and peak RSS of every model,
each in its own child process (its own peak RSS). Not a test: run it by hand on an idle machine.

    PYTHONPATH=src python benchmarks/model_epoch.py --data ../shared/datasets/tiktok --threads 2 \
        --out benchmarks/results/model_epoch_tiktok.csv
    PYTHONPATH=src python benchmarks/model_epoch.py --synthetic-sports --threads 2 --models lightgcn diffrec \
        --max-steps 20 --out benchmarks/results/model_epoch_sports.csv

Each model runs with its YAML defaults and the dataset's preset. `--max-steps N` stops every phase
after N steps (slow models on a small machine): the epoch time is then the measured time per step
(after one untimed warm-up step) times the steps of a full epoch, plus the phases' once-per-epoch
hooks (DiffMM's rebuild) timed as they are; the CSV says so (`steps_run` < `steps_per_epoch`).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from common import phase_runner, synthetic_sports

from mmdiffbench.data import load_dataset
from mmdiffbench.eval import evaluate_model
from mmdiffbench.models import MODELS


def measure(model_name: str, args: argparse.Namespace) -> dict[str, object]:
    """One model, one epoch (or `max_steps` steps of each phase) and one evaluation, timed."""
    torch.set_num_threads(args.threads)
    dataset = synthetic_sports() if args.synthetic_sports else load_dataset(args.data)
    started = time.perf_counter()
    config, runner = phase_runner(model_name, dataset)
    build_s = time.perf_counter() - started
    row: dict[str, object] = {"model": model_name, "dataset": dataset.name, "threads": args.threads}
    steps_run = steps_full = 0
    train_s = 0.0
    for phase in runner.phases:
        size = phase.batch_size or config.trainer["batch_size"]
        full = {"bpr": runner.sampler.n_batches(size), "none": 1}.get(phase.batches)
        if full is None:
            assert runner.row_sampler is not None
            full = runner.row_sampler.n_batches(size)
        cap = min(full, args.max_steps) if args.max_steps else full
        if cap < full:
            runner.run_phase(phase, 0, max_steps=1)  # warm-up step, untimed: a capped pass is scaled up
        t0 = time.perf_counter()
        runner.run_phase(phase, 0, max_steps=cap)
        seconds = (time.perf_counter() - t0) * full / cap  # the full phase's time (measured when cap = full)
        row[f"{phase.name}_s"] = seconds
        train_s += seconds
        if phase.after is not None:  # once per epoch whatever the cap: timed, never scaled
            t0 = time.perf_counter()
            phase.after()
            hook_s = time.perf_counter() - t0
            row[f"{phase.after_name}_s"] = hook_s
            train_s += hook_s
        steps_run, steps_full = steps_run + cap, steps_full + full
    t0 = time.perf_counter()
    evaluate_model(runner.model, dataset, tuple(config.trainer["topks"]), config.trainer["eval_batch_size"])
    row.update(
        build_s=build_s,
        epoch_s=train_s,
        eval_s=time.perf_counter() - t0,
        steps_run=steps_run,
        steps_per_epoch=steps_full,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        load=os.getloadavg()[0],
    )
    return row


def child(model_name: str, argv: list[str]) -> dict[str, object]:
    command = [sys.executable, __file__, *argv, "--one", model_name]
    done = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        return {"model": model_name, "error": f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--synthetic-sports", action="store_true")
    parser.add_argument("--models", nargs="*", default=None, help="registered names (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="CSV to write (default: print only)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return 0
    argv = ["--threads", str(args.threads)]
    argv += ["--synthetic-sports"] if args.synthetic_sports else ["--data", str(args.data)]
    argv += ["--max-steps", str(args.max_steps)] if args.max_steps else []
    rows = []
    for name in args.models or sorted(MODELS):
        rows.append(child(name, argv))
        print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.out:
        frame.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
