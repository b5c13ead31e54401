"""torch.sparse.mm against `graph.operator.sparse_product` on a real normalised graph.

    PYTHONPATH=src python benchmarks/sparse_product.py --data ../shared/datasets/tiktok --threads 2

Both run interleaved in one process (this machine's speed drifts by tens of percent between
runs), and the ratio of medians is printed for each column count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

from mmdiffbench.data import load_release
from mmdiffbench.graph import normalized_adjacency
from mmdiffbench.graph.operator import sparse_product


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = load_release(args.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        csr = normalized_adjacency(dataset.train, self_loops=True).coalesce().to_sparse_csr()
    print(f"{dataset.name}: {csr.shape[0]} nodes, {csr._nnz()} stored entries, threads {args.threads}")
    for columns in (64, 128, 192):
        dense = torch.randn(csr.shape[0], columns)
        torch.testing.assert_close(sparse_product(csr, dense), torch.sparse.mm(csr, dense))
        times: dict[str, list[float]] = {"torch.sparse.mm": [], "sparse_product": []}
        calls = {
            "torch.sparse.mm": lambda dense=dense: torch.sparse.mm(csr, dense),
            "sparse_product": lambda dense=dense: sparse_product(csr, dense),
        }
        for _ in range(args.repeats):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(values) * 1000 for name, values in times.items()}
        print(
            f"{columns:4d} columns: torch.sparse.mm {medians['torch.sparse.mm']:.2f} ms, "
            f"sparse_product {medians['sparse_product']:.2f} ms, ratio {medians['torch.sparse.mm'] / medians['sparse_product']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
