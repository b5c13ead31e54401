"""HCCF trained to the end in its authors' PyTorch code (akaxlh/HCCF `torchVersion/`) and scored by
its own `Coach.testEpoch()`: what their code gives on our data, beside what ours gives. The timing
sibling is `hccf_epoch.py`; this one imports nothing of mmdiffbench either.

    python benchmarks/reference_data.py ...   # or any folder with the split as trnMat.pkl / tstMat.pkl
    python benchmarks/hccf_reference_run.py --src /tmp/hccf_src --data-root /tmp/hccf_data/tiktok \
        --dataset tiktok --model HCCF --choose '{"reg": 1e-6, "ssl_reg": 0.2, "temp": 0.1}' \
        --threads 1 --seed 421 --history benchmarks/results/hccf_reference_tiktok_seed421.csv

The authors' files are read and run, never changed; what this process changes in memory is
`hccf_epoch.py`'s (`.cuda()` on CPU, `DataHandler` pointed at `--data-root`, a stand-in for
`setproctitle` where it is not installed). The loop is
`Coach.run()`'s without its model and history pickles: `trainEpoch()` every epoch, `testEpoch()`
every `tstEpoch` epochs and after the last. Their protocol, kept: test Recall@20 / NDCG@20 over
the test users with only training items masked (ours also masks validation items), and the best
*test* evaluation reported as the result (no validation split is read). Seeds: the code sets none;
`--seed` seeds torch and numpy before the model is built.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hccf_epoch import load_authors_code
from reference_child import child_parser, run


def train(args: argparse.Namespace) -> dict[str, Any]:
    """Every epoch of `Coach.run()`, the test scores of each evaluated epoch, the best and the last."""
    handler, Coach, params, choose = load_authors_code(args)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    coach = Coach(handler)
    coach.prepareModel()
    history = []
    for epoch in range(params.epoch):
        losses = coach.trainEpoch()
        if epoch % params.tstEpoch == 0 or epoch == params.epoch - 1:
            scores = coach.testEpoch()
            history.append(
                {"epoch": epoch, "loss": losses["Loss"], "recall@20": scores["Recall"], "ndcg@20": scores["NDCG"]}
            )
            print(f"epoch {epoch}: loss {losses['Loss']:.4f}, test recall@20 {scores['Recall']:.4f}", file=sys.stderr)
    if args.history is not None:
        args.history.parent.mkdir(parents=True, exist_ok=True)
        with args.history.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, list(history[0]))
            writer.writeheader()
            writer.writerows(history)
    best = max(history, key=lambda row: row["recall@20"])
    return {
        "dataset": args.dataset,
        "seed": args.seed,
        "settings": choose,
        "epochs": params.epoch,
        "best_test_epoch": best["epoch"],
        "best_test_recall@20": best["recall@20"],
        "best_test_ndcg@20": best["ndcg@20"],
        "last_recall@20": history[-1]["recall@20"],
        "last_ndcg@20": history[-1]["ndcg@20"],
    }


def parser() -> argparse.ArgumentParser:
    out = child_parser(__doc__.splitlines()[0])
    out.add_argument("--seed", type=int, default=421)
    out.add_argument("--history", type=Path, default=None, help="CSV of every evaluated epoch's test scores")
    return out


if __name__ == "__main__":
    sys.exit(run(parser(), train))
