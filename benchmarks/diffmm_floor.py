"""A floor under the DiffMM epoch time: only the products, draws and reductions an epoch cannot
skip, each timed alone with the epoch's exact shapes and dtypes, at a given thread count.

    PYTHONPATH=src python benchmarks/diffmm_floor.py --data ../shared/datasets/tiktok --threads 2

Counted per epoch (official TikTok preset unless --set says otherwise):
- denoiser training, per user batch and modality: the five (batch x items x hidden) products
  of one forward and backward pass of the MLP, and the two draws (Gaussian noise, dropout
  uniforms) over the (batch x items) rows;
- rebuild, per batch and modality: the hidden x hidden products of the reverse chain, the
  output layer over all items and the top-k;
- recommender, per step: for each InfoNCE term the three (anchors x table) products and one
  softmax, with the epoch's mean number of distinct anchors; and the sparse products with the
  normalised graph (10) and the generated graphs (8).
Everything else an epoch does (elementwise passes, small products, Adam, autograd) is left
out, so a measured epoch can only be slower than this sum. Compare with `diffmm_epoch.py`
run right after, on the same idle machine.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import load_release
from mmdiffbench.models.diffmm import DiffMM
from mmdiffbench.precision import compute_dtype
from mmdiffbench.train.sampling import BPRSampler
from mmdiffbench.train.seeding import seed_everything


def seconds(call: Callable[[], object], repeats: int) -> float:
    """Median wall time of one call, after one warm-up call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dataset = load_release(args.data)
    config = resolve("diffmm", dataset.name, "full", args.overrides)
    c = config.model
    seed_everything(0)
    model = DiffMM(dataset, c)
    model.rebuild_graphs()  # real generated graphs for the sparse products
    cpu = torch.device("cpu")
    low, cl_low = compute_dtype(c["denoiser_bf16"], cpu), compute_dtype(c["contrastive_bf16"], cpu)
    users, items, hidden, batch = (
        dataset.n_users,
        dataset.n_items,
        int(c["denoiser_dims"][0]),
        int(c["diffusion_batch"]),
    )
    n_modalities, n_batches = len(dataset.modalities), -(-users // batch)
    rand = lambda *shape: torch.randn(*shape, dtype=low)

    x, w1, h, w2 = rand(batch, items), rand(hidden, items), rand(batch, hidden), rand(items, hidden)
    g, d = rand(batch, items), rand(batch, hidden)
    denoiser_products = seconds(lambda: (x @ w1.T, h @ w2.T, g @ w2, g.T @ h, d.T @ x), args.repeats)
    draws = seconds(lambda: (torch.randn(batch, items), torch.rand(batch, items)), args.repeats)
    loop, out = rand(hidden, hidden), rand(hidden, items)
    chain = seconds(
        lambda: (
            [h @ loop for _ in range(int(c["steps"]) - 1)]
            + [torch.topk((h @ out).float(), int(c["rebuild_k"]), dim=-1)]
        ),
        args.repeats,
    )

    sampler = BPRSampler(dataset.train, 0)
    distinct = [(len(np.unique(u)), len(np.unique(p))) for u, p, _ in sampler.epoch(config.trainer["batch_size"])]
    steps = len(distinct)
    anchor_users, anchor_items = (round(v) for v in np.mean(distinct, axis=0))
    dim = int(c["embedding_dim"])
    n_terms = n_modalities if c["anchor"] == "main" else n_modalities * (n_modalities - 1) // 2

    def info_nce_products(anchors: int, table: int) -> Callable[[], object]:
        a, b = torch.randn(anchors, dim, dtype=cl_low), torch.randn(table, dim, dtype=cl_low)

        def forward_and_backward() -> tuple[torch.Tensor, torch.Tensor]:
            weights = torch.softmax(a @ b.T, dim=1)
            return weights @ b, weights.T @ a

        return forward_and_backward

    contrastive = n_terms * (
        seconds(info_nce_products(anchor_users, users), args.repeats)
        + seconds(info_nce_products(anchor_items, items), args.repeats)
    )
    embeddings = torch.randn(users + items, dim)
    graph = next(iter(model.graphs_train.values()))
    sparse = 10 * seconds(lambda: model.adj_op @ embeddings, args.repeats) + 8 * seconds(
        lambda: graph @ embeddings, args.repeats
    )

    per_epoch = {
        "denoiser: 5 products per batch and modality": denoiser_products * n_batches * n_modalities,
        "denoiser: noise and dropout draws": draws * n_batches * n_modalities,
        "rebuild: reverse chain products and top-k": chain * n_batches * n_modalities,
        f"recommender: InfoNCE products and softmax ({n_terms} x 2 terms)": contrastive * steps,
        "recommender: 18 sparse products": sparse * steps,
    }
    print(
        f"{dataset.name}: {users} users, {items} items, {n_modalities} modalities, {n_batches} user batches, "
        f"{steps} steps (distinct anchors per step: {anchor_users} users, {anchor_items} items), "
        f"threads {args.threads}, denoiser {low}, InfoNCE {cl_low}"
    )
    for name, value in per_epoch.items():
        print(f"{value:7.2f} s  {name}")
    print(f"{sum(per_epoch.values()):7.2f} s  floor per epoch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
