"""Seconds of one InfoNCE denominator (forward and backward of `weighted_log_sum_exp`, float32) per
size of the anchor chunks, alternated in one run: which chunk size `mmdiffbench.models.contrastive`
uses on a CPU. Not a test: run it by hand.

    PYTHONPATH=src python benchmarks/info_nce_chunk.py --threads 1 --rounds 5 --exponents 24 23 22 21 20 19 \
        --out benchmarks/results/info_nce_chunk.csv

The shapes are a batch's anchors against a whole table, as DiffMM, NCL and SGL use it: Sports' users
(35,598) and items (18,357) with 4,096 anchors, TikTok's users (9,319) with 2,000.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as F

from mmdiffbench.models import contrastive

SHAPES = {"sports_users": (4096, 35598), "sports_items": (4096, 18357), "tiktok_users": (2000, 9319)}


def seconds(anchors: int, rows: int, dim: int) -> float:
    """Wall seconds of one forward and backward pass at the module's current chunk size."""
    generator = torch.Generator().manual_seed(0)
    a = F.normalize(torch.randn(anchors, dim, generator=generator), dim=1).div(0.2).requires_grad_()
    b = F.normalize(torch.randn(rows, dim, generator=generator), dim=1).requires_grad_()
    columns = torch.arange(anchors)
    weights = torch.full((anchors,), 1.0 / anchors)
    start = time.perf_counter()
    contrastive.weighted_log_sum_exp(a, b, columns, weights, torch.float32).backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--exponents", type=int, nargs="+", default=[24, 23, 22, 21, 20, 19], help="chunks of 2^e logits"
    )
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name, (anchors, table) in SHAPES.items():
        seconds(anchors, table, args.dim)  # warm-up
        for round_ in range(args.rounds):
            for exponent in args.exponents:
                contrastive.CPU_CHUNK_ENTRIES = 1 << exponent
                rows.append(
                    {
                        "shape": name,
                        "anchors": anchors,
                        "rows": table,
                        "chunk_entries": 1 << exponent,
                        "round": round_,
                        "seconds": seconds(anchors, table, args.dim),
                    }
                )
    frame = pd.DataFrame(rows)
    frame["threads"], frame["load_1min"] = args.threads, os.getloadavg()[0]
    medians = frame.groupby(["shape", "chunk_entries"]).seconds.median().unstack()
    largest = medians.columns.max()
    print(f"median seconds; last columns: speed-up over chunks of {largest} (load {os.getloadavg()[0]:.1f})")
    print(medians.join(medians.rdiv(medians[largest], axis=0).add_prefix("x_")).round(3).to_string())
    if args.out:
        frame.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
