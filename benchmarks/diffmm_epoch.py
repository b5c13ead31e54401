"""Seconds per DiffMM epoch, split into denoiser training, graph rebuild and recommender
steps, plus peak RSS. Not a test: run it by hand, on an otherwise idle machine.

    PYTHONPATH=src python benchmarks/diffmm_epoch.py --data ../shared/datasets/tiktok --threads 2
    PYTHONPATH=src python benchmarks/diffmm_epoch.py --synthetic-sports --threads 2 --epochs 1
    PYTHONPATH=src python benchmarks/diffmm_epoch.py --data ../shared/datasets/tiktok --threads 2 --compare-fp32

--compare-fp32 then measures the same epochs with both bfloat16 switches off (denoiser_bf16
and contrastive_bf16 = never), each configuration in its own child process (its own peak
RSS), one after the other in this one invocation, and prints the per-phase ratios.

--synthetic-sports builds a dataset of Amazon-Sports' shapes (35,598 users, 18,357 items,
256,308 interactions, image 4096-d and text 1024-d random features) with the sports preset,
for the memory check.
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


PHASES = ("denoiser", "rebuild", "recommender")
FP32 = ["denoiser_bf16=never", "contrastive_bf16=never"]


def measure(args: argparse.Namespace) -> list[dict[str, float]]:
    """Seconds per phase (wall and CPU) of each epoch, and the peak RSS so far."""
    torch.set_num_threads(args.threads)
    dataset = synthetic_sports() if args.synthetic_sports else load_release(args.data)
    config = resolve("diffmm", dataset.name, "full", args.overrides)
    seed_everything(args.seed)
    model = get_model_class("diffmm")(dataset, config.model)
    optimizer = torch.optim.Adam(model.optim_parameters(), lr=config.trainer["lr"])
    sampler = BPRSampler(dataset.train, args.seed)
    print(f"{dataset.name}: {dataset.n_users} users, {dataset.n_items} items, modalities {dataset.modalities}, "
          f"threads {args.threads}, overrides {args.overrides}", file=sys.stderr, flush=True)

    def recommender_pass() -> None:
        for step, (users, pos, neg) in enumerate(sampler.epoch(config.trainer["batch_size"])):
            if args.recommender_steps is not None and step >= args.recommender_steps:
                break
            batch = BPRBatch(*(torch.from_numpy(a) for a in (users, pos, neg)))
            loss = sum(model.losses(batch).values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()

    rows = []
    for epoch in range(args.epochs):
        row: dict[str, float] = {"epoch": epoch}
        for name, phase in zip(PHASES, (model.train_generators, model.rebuild_graphs, recommender_pass)):
            wall, cpu = time.perf_counter(), time.process_time()  # CPU time counts every thread
            phase()
            row[f"{name}_wall_s"] = time.perf_counter() - wall
            row[f"{name}_cpu_s"] = time.process_time() - cpu
            row[f"peak_rss_mib_after_{name}"] = peak_rss_mb()
        row["total_wall_s"] = sum(row[f"{n}_wall_s"] for n in PHASES)
        row["load"] = os.getloadavg()[0]
        print(f"epoch {epoch}: total {row['total_wall_s']:.2f}s wall = "
              + " + ".join(f"{n} {row[f'{n}_wall_s']:.2f}s" for n in PHASES)
              + f"; peak RSS {row['peak_rss_mib_after_recommender']:.0f} MiB; load {row['load']:.1f}",
              file=sys.stderr, flush=True)
        rows.append(row)
    return rows


def child(argv: list[str], overrides: list[str]) -> list[dict[str, float]]:
    """This script in a fresh process (its own peak RSS), with extra overrides."""
    command = [sys.executable, __file__, *argv, "--json"]
    for item in overrides:
        command += ["--set", item]
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True)
    return json.loads(done.stdout)


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
    parser.add_argument("--compare-fp32", action="store_true", help="also measure with both bfloat16 switches off")
    parser.add_argument("--json", action="store_true", help="print the per-epoch rows as JSON on stdout")
    args = parser.parse_args()
    if args.data is None and not args.synthetic_sports:
        parser.error("give --data DIR or --synthetic-sports")
    if not args.compare_fp32:
        rows = measure(args)
        print(json.dumps(rows) if args.json else "\n".join(str(r) for r in rows))
        return 0
    argv = [a for a in sys.argv[1:] if a != "--compare-fp32"]
    last = {"default": child(argv, [])[-1], "fp32": child(argv, FP32)[-1]}  # the last epoch: warm caches
    for name in (*PHASES, "total"):
        key = f"{name}_wall_s"
        print(f"{name:12s} default {last['default'][key]:7.2f}s  fp32 {last['fp32'][key]:7.2f}s  "
              f"ratio {last['fp32'][key] / last['default'][key]:.2f}x")
    for name in last:
        print(f"peak RSS {name}: {last[name]['peak_rss_mib_after_recommender']:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
