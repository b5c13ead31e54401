"""LD4MRec's efficiency claim: its one-step inference against DiffRec's multi-step inference.

LD4MRec (v1, Sec. 3.4 and Alg. 2) scores a user with one C-Net call on the un-noised row, where
DiffRec runs T reverse steps. Both models are built on the same dataset with their package
defaults and score the same users (every user with a test item), interleaved, `--repeats` times;
the script prints seconds per pass and the ratios measured in this one run:

- DiffRec literal chain (T denoiser calls, as the reference code) / LD4MRec one step;
- DiffRec fast chain (the same result, `diffusion.inference.FastReverseChain`) / LD4MRec one step;
- DiffRec's own denoiser, T steps / one step (`one_step_x0`): the step count alone, same network.

Timing does not depend on the weights, so untrained models are timed (seeded).

    python benchmarks/inference_steps.py --data ../shared/datasets/tiktok --threads 2
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import load_dataset
from mmdiffbench.diffusion import one_step_x0, reverse_chain
from mmdiffbench.models.diffrec import DiffRec
from mmdiffbench.train.run import build_model
from mmdiffbench.train.seeding import seed_everything


def timed(fn: Callable[[torch.Tensor], torch.Tensor], batches: list[torch.Tensor]) -> float:
    started = time.perf_counter()
    for users in batches:
        fn(users)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/datasets/tiktok")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=2048, help="users per scoring call")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = load_dataset(args.data)
    device = torch.device("cpu")
    seed_everything(0)
    ld4mrec = build_model(dataset, resolve("ld4mrec", dataset.name), device).eval()
    diffrec = build_model(dataset, resolve("diffrec", dataset.name), device).eval()
    assert isinstance(diffrec, DiffRec)
    test = dataset.split("test")
    users = torch.from_numpy(np.flatnonzero(np.diff(test.indptr) > 0))
    batches = list(torch.split(users, args.batch))
    steps = diffrec.schedule.steps

    def diffrec_literal(u: torch.Tensor) -> torch.Tensor:
        x0 = torch.from_numpy(diffrec.rows[u.numpy()].toarray())
        return reverse_chain(diffrec.denoiser, diffrec.schedule, x0)

    def diffrec_one_step(u: torch.Tensor) -> torch.Tensor:
        x0 = torch.from_numpy(diffrec.rows[u.numpy()].toarray())
        return one_step_x0(diffrec.denoiser, diffrec.schedule, x0, steps - 1)

    passes: dict[str, list[float]] = {
        name: [] for name in ("ld4mrec_one_step", "diffrec_literal", "diffrec_fast", "diffrec_net_one_step")
    }
    with torch.no_grad(), diffrec.scoring():
        for _ in range(args.repeats + 1):  # the first round warms up and is dropped
            round_times = {
                "ld4mrec_one_step": timed(ld4mrec.score, batches),
                "diffrec_literal": timed(diffrec_literal, batches),
                "diffrec_fast": timed(diffrec.score, batches),
                "diffrec_net_one_step": timed(diffrec_one_step, batches),
            }
            for name, seconds in round_times.items():
                passes[name].append(seconds)
    best = {name: min(times[1:]) for name, times in passes.items()}
    print(f"dataset {dataset.name}: {len(users)} users in batches of {args.batch}, {args.threads} threads, T = {steps}")
    print(f"load average (1 min) {os.getloadavg()[0]:.2f}; best of {args.repeats} passes after one warm-up")
    for name, seconds in best.items():
        print(f"  {name:22s} {seconds:8.3f} s per pass")
    print(f"DiffRec literal chain / LD4MRec one step: {best['diffrec_literal'] / best['ld4mrec_one_step']:.2f}x")
    print(f"DiffRec fast chain    / LD4MRec one step: {best['diffrec_fast'] / best['ld4mrec_one_step']:.2f}x")
    print(f"DiffRec network, {steps} steps / 1 step:  {best['diffrec_literal'] / best['diffrec_net_one_step']:.2f}x")


if __name__ == "__main__":
    main()
