"""float32 against bfloat16 matmul on this CPU, alternated in one run: whether the `cpu` bfloat16
switches (mmdiffbench.precision) pay here. Not a test: run it by hand on an idle machine.

    PYTHONPATH=src python benchmarks/bf16_matmul.py --threads 1

The shape is the InfoNCE product of a TikTok batch (4,096 anchors x 64 by 64 x 9,000 rows).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from mmdiffbench.precision import native_bf16_cpu


def seconds(a: torch.Tensor, b: torch.Tensor, repeats: int) -> float:
    """Median wall seconds of `a @ b` over `repeats` calls, after one untimed call."""
    a @ b
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    a, b = torch.randn(4096, 64), torch.randn(64, 9000)
    low_a, low_b = a.bfloat16(), b.bfloat16()
    ratios = []
    for _ in range(args.rounds):
        full, low = seconds(a, b, args.repeats), seconds(low_a, low_b, args.repeats)
        ratios.append(low / full)
        print(f"float32 {full * 1e3:.1f} ms  bfloat16 {low * 1e3:.1f} ms  bfloat16 / float32 {low / full:.2f}")
    print(
        f"cpu capability {torch.backends.cpu.get_cpu_capability()}, native bfloat16 {native_bf16_cpu()}, "
        f"{args.threads} thread(s): median bfloat16 / float32 {statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
