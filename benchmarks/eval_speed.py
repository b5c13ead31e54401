"""Full-ranking evaluation speed and memory on Sports (35,598 users x 18,357 items, 64-d).

Ranks with an (untrained) 64-d MF-BPR model's scoring path, masked as the trainer does
(validation: training items masked; test: training and validation items masked), in user
batches, and prints the seconds per split, the seconds of both splits from one scoring pass (as
`evaluate_model` ranks them), and the process's peak RSS. The embeddings are random: the cost
of ranking does not depend on their values.
Goal (issue 3): under 5 s and under 1.5 GB peak RSS on 2 cores.

    python benchmarks/eval_speed.py [--data ../shared/datasets/sports] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TypeVar

import torch

from mmdiffbench.data import load_release
from mmdiffbench.eval.ranking import NestedSplit, rank_split, rank_splits
from mmdiffbench.models.mf_bpr import MFBPR
from mmdiffbench.train.runinfo import peak_rss_mb

T = TypeVar("T")
KS = (10, 20, 50)


def timed(repeats: int, work: Callable[[], T]) -> tuple[list[float], T]:
    """Seconds of each of `repeats` calls of `work`, and the last call's result."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = work()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def scoring(model: MFBPR, rank: Callable[[], T]) -> T:
    """`rank()` inside the model's scoring mode, as evaluate_model ranks."""
    with model.scoring():
        return rank()


def best_of(seconds: list[float]) -> str:
    return f"best of {len(seconds)}: {min(seconds):.2f} s (all: {', '.join(f'{s:.2f}' for s in seconds)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sports"
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--compare-alloc",
        action="store_true",
        help="also time scoring into a fresh matrix per batch (no reused buffer)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    dataset = load_release(args.data)
    torch.manual_seed(0)
    model = MFBPR(dataset, {"embedding_dim": args.dim, "reg_weight": 0.0})
    print(f"{dataset.name}: {dataset.n_users} users x {dataset.n_items} items, d={args.dim}, threads={args.threads}")
    print(f"peak RSS after loading: {peak_rss_mb():.0f} MB")

    splits = {"test": [dataset.train, dataset.val], "val": [dataset.train]}  # as evaluate_model masks
    model.eval()
    for split, exclude in splits.items():
        rank = partial(rank_split, model.score, dataset.split(split), exclude, KS, args.batch_size)
        seconds, result = timed(args.repeats, partial(scoring, model, rank))
        print(f"{split}: {len(result.users)} users x {dataset.n_items} items, {best_of(seconds)}")
    nested = [NestedSplit(dataset.val, (dataset.train,)), NestedSplit(dataset.test, (dataset.val,))]
    seconds, _ = timed(
        args.repeats, partial(scoring, model, partial(rank_splits, model.score, nested, KS, args.batch_size))
    )
    print(f"val + test from one scoring pass, {best_of(seconds)}")
    if args.compare_alloc:
        with torch.no_grad():
            user_emb, item_emb = model.final_embeddings()
        fresh = partial(
            rank_split, lambda users: user_emb[users] @ item_emb.T, dataset.test, splits["test"], KS, args.batch_size
        )
        seconds, _ = timed(args.repeats, fresh)
        print(f"test, fresh score matrix per batch (reference): best of {args.repeats}: {min(seconds):.2f} s")
    print(f"1-min load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
