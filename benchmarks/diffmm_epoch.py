"""Seconds per DiffMM epoch, split into denoiser training, graph rebuild and recommender
steps, plus peak RSS. Not a test: run it by hand, on an otherwise idle machine.

    PYTHONPATH=src python benchmarks/diffmm_epoch.py --data ../shared/datasets/tiktok --threads 2
    PYTHONPATH=src python benchmarks/diffmm_epoch.py --synthetic-sports --threads 2 --epochs 1

--synthetic-sports builds a dataset of Amazon-Sports' shapes (35,598 users, 18,357 items,
256,308 interactions, image 4096-d and text 1024-d random features) with the sports preset,
for the memory check.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from mmdiffbench.config import resolve
from mmdiffbench.data import load_release
from mmdiffbench.data.dataset import InteractionDataset
from mmdiffbench.models import get_model_class
from mmdiffbench.models.base import BPRBatch
from mmdiffbench.train.sampling import BPRSampler
from mmdiffbench.train.seeding import seed_everything


def synthetic_sports(seed: int = 0) -> InteractionDataset:
    rng = np.random.default_rng(seed)
    n_users, n_items, n_edges = 35_598, 18_357, 256_308
    users = np.concatenate([np.arange(n_users), rng.integers(0, n_users, n_edges - n_users)])
    items = rng.integers(0, n_items, n_edges)
    train = sp.csr_matrix((np.ones(n_edges, np.float32), (users, items)), shape=(n_users, n_items))
    train.data[:] = 1.0
    held = sp.csr_matrix((np.ones(n_users, np.float32), (np.arange(n_users), rng.integers(0, n_items, n_users))), shape=train.shape)
    features = {
        "image": rng.standard_normal((n_items, 4096), dtype=np.float32),
        "text": rng.standard_normal((n_items, 1024), dtype=np.float32),
    }
    return InteractionDataset("sports", train, held, held, features)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--synthetic-sports", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=421)
    parser.add_argument("--recommender-steps", type=int, default=None,
                        help="stop the recommender pass after N steps (memory checks; the time is then partial)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.synthetic_sports:
        dataset = synthetic_sports()
    elif args.data is not None:
        dataset = load_release(args.data)
    else:
        parser.error("give --data DIR or --synthetic-sports")
    config = resolve("diffmm", dataset.name, "full", args.overrides)
    seed_everything(args.seed)
    model = get_model_class("diffmm")(dataset, config.model)
    optimizer = torch.optim.Adam(model.optim_parameters(), lr=config.trainer["lr"])
    sampler = BPRSampler(dataset.train, args.seed)
    print(f"{dataset.name}: {dataset.n_users} users, {dataset.n_items} items, modalities {dataset.modalities}, "
          f"threads {args.threads}, overrides {args.overrides}", flush=True)
    for epoch in range(args.epochs):
        clocks = []  # (wall, cpu) at each phase boundary; CPU time counts every thread
        clocks.append((time.perf_counter(), time.process_time()))
        model.train_generators()
        clocks.append((time.perf_counter(), time.process_time()))
        print(f"  peak RSS after the denoiser pass {peak_rss_mb():.0f} MiB", flush=True)
        model.rebuild_graphs()
        clocks.append((time.perf_counter(), time.process_time()))
        print(f"  peak RSS after the rebuild {peak_rss_mb():.0f} MiB", flush=True)
        for step, (users, pos, neg) in enumerate(sampler.epoch(config.trainer["batch_size"])):
            if args.recommender_steps is not None and step >= args.recommender_steps:
                break
            batch = BPRBatch(*(torch.from_numpy(a) for a in (users, pos, neg)))
            loss = sum(model.losses(batch).values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        clocks.append((time.perf_counter(), time.process_time()))
        parts = []
        for name, (a, b) in zip(("denoiser", "rebuild", "recommender"), zip(clocks[:-1], clocks[1:])):
            parts.append(f"{name} {b[0] - a[0]:.2f}s wall / {b[1] - a[1]:.2f}s CPU")
        total_wall, total_cpu = clocks[-1][0] - clocks[0][0], clocks[-1][1] - clocks[0][1]
        print(f"epoch {epoch}: total {total_wall:.2f}s wall / {total_cpu:.2f}s CPU = " + " + ".join(parts)
              + f"; peak RSS {peak_rss_mb():.0f} MiB; load {os.getloadavg()[0]:.1f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
