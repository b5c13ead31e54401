"""One training epoch of CLCRec in its authors' code (weiyinwei/CLCRec), timed: the child process
`reference_epoch.py` starts for CLCRec. Run it with a Python that has the code's dependencies
(benchmarks/README.md, "reference_epoch.py"); it imports nothing of mmdiffbench.

    python benchmarks/clcrec_epoch.py --src /tmp/clcrec_src --data-root /tmp/x --dataset tiktok \
        --model CLCRec --choose '{"batch_size": 256, "dim_E": 64, "num_neg": 128}' --threads 2

The authors' files are read and run, never changed. Settings: `main.py`'s argument defaults, then
`--choose`. `main.py` itself is a script (its setup runs at import) and `Dataset.data_load` knows four
datasets by name with their sizes written in: this process does what `main.py` does before its
epoch loop, on the files `reference_data.write_clcrec` wrote in the code's own layout
(`Data/<name>/`): the same seeding, `TrainingDataset`, `DataLoader`, `CLCRec` model and Adam.
What it changes in memory, and why:
- `.cuda()` returns its tensor or module when no GPU is present (`reference_child.cuda_as_cpu`).
- `torch_geometric.utils.scatter_` (torch_geometric 1.x; gone from 2.x, the only one installable
  with this torch) is given as the 1.x call it was, `scatter(src, index, reduce=name)`: the model
  module imports it (it is called only for word-level text features, which TikTok here has not).
- `random.sample` of a set: Python 3.11 refuses a set (3.9 and 3.10 warned and took `tuple(set)`),
  and `TrainingDataset` samples its negatives from one: the `Dataset` module's `random` is given a
  `sample` that takes `tuple(set)` first, as Python did when the code was written.
- the DataLoader runs with `num_workers` 0 (`main.py`: 1, its README: 4): each side of the
  comparison has `--threads` threads, and worker processes would add cores.
- `is_word` (main.py: True for the dataset name `tiktok`, whose text it reads as word ids) is False:
  the features here are dense rows (`feat_v.npy`, `feat_a.npy`, `feat_t.npy` as present).

Timed: `Train.train()` for one epoch: the DataLoader with `TrainingDataset`'s negative sampling,
`model.loss`, backward and Adam. Evaluation and model construction are excluded. The last line
printed is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import types
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from pathlib import Path
from typing import Any

import numpy as np
import torch
from reference_child import child_parser, cuda_as_cpu, enter, result, run

MAIN_DEFAULTS = {  # main.py's argparse defaults that its epoch uses
    "seed": 1,
    "l_r": 1e-3,
    "lr_lambda": 1.0,
    "reg_weight": 1e-1,
    "temp_value": 1.0,
    "batch_size": 256,
    "num_neg": 512,
    "num_sample": 0.5,
    "dim_E": 64,
}
SLOTS = ("v", "a", "t")  # feat_<slot>.npy: visual, acoustic, textual


def sample_as_python_3_10(population: Sequence[Any] | AbstractSet[Any], k: int) -> list[Any]:
    """`random.sample` as Python 3.10 ran it: a set is sampled as `tuple(set)`."""
    return random.sample(tuple(population) if isinstance(population, AbstractSet) else population, k)


def install_patches() -> None:
    """The in-memory substitutions of the module docstring, before the authors' modules are imported."""
    from torch_geometric import utils
    from torch_geometric.utils import scatter

    cuda_as_cpu()
    utils.scatter_ = lambda name, src, index, dim=0, dim_size=None: scatter(src, index, dim, dim_size, reduce=name)


def features(folder: Path) -> list[torch.Tensor | None]:
    """The visual, acoustic and textual rows, None where the file is absent (as `data_load` gives them)."""
    files = [folder / f"feat_{slot}.npy" for slot in SLOTS]
    return [torch.tensor(np.load(f), dtype=torch.float) if f.exists() else None for f in files]


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Set up as `main.py` does, then time one `train()`."""
    enter([args.src], args.data_root, args.threads)
    install_patches()
    import Dataset
    from model_CLCRec import CLCRec
    from Train import train

    Dataset.random = types.SimpleNamespace(sample=sample_as_python_3_10)
    choose = json.loads(args.choose)
    settings = {**MAIN_DEFAULTS, **choose}
    random.seed(settings["seed"])
    np.random.seed(settings["seed"])
    torch.manual_seed(settings["seed"])
    folder = args.data_root / "Data" / args.dataset
    train_data = np.load(folder / "train.npy", allow_pickle=True)
    every_item = np.load(folder / "user_item_all_dict.npy", allow_pickle=True).item()
    n_cold = len(np.load(folder / "cold_set.npy"))
    v_feat, a_feat, t_feat = features(folder)
    n_users = len(every_item)
    n_items = next(f for f in (v_feat, a_feat, t_feat) if f is not None).shape[0]
    dataset = Dataset.TrainingDataset(n_users, n_items, every_item, args.dataset, train_data, settings["num_neg"])
    loader = torch.utils.data.DataLoader(dataset, settings["batch_size"], shuffle=True, num_workers=0)
    started = time.perf_counter()
    model = CLCRec(
        n_users,
        n_items,
        n_items - n_cold,
        train_data,
        settings["reg_weight"],
        settings["dim_E"],
        v_feat,
        a_feat,
        t_feat,
        settings["temp_value"],
        settings["num_neg"],
        settings["lr_lambda"],
        False,
        settings["num_sample"],
    ).cuda()
    optimizer = torch.optim.Adam([{"params": model.parameters(), "lr": settings["l_r"]}])
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    loss, _ = train(0, len(dataset), loader, model, optimizer, settings["batch_size"], None)
    epoch_s = time.perf_counter() - started
    return result(
        epoch_s, len(loader), settings["batch_size"], settings["dim_E"], choose, build_s=build_s, loss=loss.item()
    )


if __name__ == "__main__":
    sys.exit(run(child_parser(__doc__.splitlines()[0]), measure))
