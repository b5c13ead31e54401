"""One training epoch of LightGCN-M in sisinflab's Elliot code (Formal-MultiMod-Rec
`external/models/lightgcn_m/`), timed: the child process `reference_epoch.py` starts for LightGCN-M.
Run it with a Python that has torch_geometric (benchmarks/README.md, "reference_epoch.py"); it
imports nothing of mmdiffbench.

    python benchmarks/elliot_epoch.py --src /tmp/elliot_src --data-root /tmp/x --dataset tiktok \
        --model LightGCNM --choose '{"batch_size": 1024, "factors": 64, "n_layers": 2}' --threads 2

The model and sampler files (`LightGCNMModel.py`, `custom_sampler.py`) are read and run, never
changed. Elliot itself (its config parser, TSV and feature loaders, evaluator) is not: `LightGCNM.py`,
the recommender class around the model, imports the whole framework (tensorflow among its
dependencies) for what is, in its `__init__` and `train()`, a few lines of data plumbing. This process
does those lines on the files `reference_data.write_elliot` wrote: Elliot's numbering (users and
items that have a training interaction, numbered densely; the others are not in its model, so its
tables are smaller than ours: TikTok 9,298 x 6,245 against 9,308 x 6,710), its training dictionary
(`i_train_dict`: user -> {item: 1}), the `Sampler` seeded as `_seed` (42), the features in modality
order, the model with `LightGCNM.py`'s `_params_list` defaults and then `--choose`, and the epoch loop of
`train()`. One substitution: `LightGCNM.py` builds the user-item adjacency as a `torch_sparse.SparseTensor`
and torch_sparse has no wheel for this torch (benchmarks/README.md); the same symmetric 0/1 matrix
is given as a torch CSR tensor, which `LGConv` normalises with the same `gcn_norm` (D^-1/2 A D^-1/2,
recomputed at every call on both paths) and multiplies with torch's sparse product.

Timed: one pass of `train()`'s batch loop: `Sampler.step` (a Python loop drawing one (user, positive,
negative) triple per training interaction), `train_step` (propagation, BPR loss, regulariser, backward,
Adam). Evaluation and model construction are excluded. The last line printed is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from typing import Any

import numpy as np
import torch
from reference_child import child_parser, enter, result, run

PARAMS_DEFAULTS = {  # LightGCNM.py's _params_list defaults that the model takes
    "lr": 5e-4,
    "factors": 64,
    "l_w": 0.01,
    "n_layers": 1,
    "normalize": True,
    "aggregation": "mean",
}
SEED = 42  # Elliot's default `seed`, which LightGCNM passes to its Sampler and model
BATCH_SIZE = 1024  # sisinflab's experiment scripts (batch_size: 1024)


def renumbered(pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs in Elliot's private ids (users and items of the training set, in sorted order) and
    the original ids of its items (the feature rows it keeps)."""
    _, users = np.unique(pairs[:, 0], return_inverse=True)
    items_kept, items = np.unique(pairs[:, 1], return_inverse=True)
    return np.stack([users, items], axis=1), items_kept


def training_dict(pairs: np.ndarray) -> dict[int, dict[int, int]]:
    """Elliot's `i_train_dict`: each user's training items, rating 1."""
    found: dict[int, dict[int, int]] = {}
    for user, item in pairs.tolist():
        found.setdefault(user, {})[item] = 1
    return found


def adjacency(pairs: np.ndarray, n_users: int, n_items: int) -> torch.Tensor:
    """LightGCNM.py's symmetric user-item edge set (items numbered after users), as a CSR tensor."""
    users = torch.as_tensor(pairs[:, 0], dtype=torch.int64)
    items = torch.as_tensor(pairs[:, 1], dtype=torch.int64) + n_users
    size = n_users + n_items
    indices = torch.stack([torch.cat([users, items]), torch.cat([items, users])])
    values = torch.ones(indices.shape[1])
    return torch.sparse_coo_tensor(indices, values, (size, size)).coalesce().to_sparse_csr()


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build the sampler and model as LightGCNM.__init__ does, then time one epoch of its `train()`."""
    enter([args.src / "external" / "models" / "lightgcn_m"], args.src, args.threads)
    from custom_sampler import Sampler
    from LightGCNMModel import LightGCNMModel

    choose = json.loads(args.choose)
    settings = {**PARAMS_DEFAULTS, "batch_size": BATCH_SIZE, **choose}
    root = args.data_root.resolve()
    pairs, items_kept = renumbered(np.load(root / "train.npy"))
    modalities = json.loads((root / "meta.json").read_text())["modalities"]
    features = [np.load(root / f"feat_{m}.npy")[items_kept] for m in modalities]
    n_users, n_items = int(pairs[:, 0].max()) + 1, len(items_kept)
    started = time.perf_counter()
    sampler = Sampler(training_dict(pairs), seed=SEED)
    model = LightGCNMModel(
        num_users=n_users,
        num_items=n_items,
        learning_rate=settings["lr"],
        embed_k=settings["factors"],
        l_w=settings["l_w"],
        n_layers=settings["n_layers"],
        adj=adjacency(pairs, n_users, n_items),
        modalities=modalities,
        multimodal_features=features,
        aggregation=settings["aggregation"],
        normalize=settings["normalize"],
        random_seed=SEED,
    )
    build_s = time.perf_counter() - started
    transactions, batch_size = len(pairs), settings["batch_size"]
    started = time.perf_counter()
    loss, steps = 0.0, 0  # train() sums numpy float32 losses; the JSON line takes a float
    for batch in sampler.step(transactions, batch_size):  # LightGCNM.train(), one epoch
        steps += 1
        loss += float(model.train_step(batch))
        if math.isnan(loss) or math.isinf(loss) or (not loss):
            break
    epoch_s = time.perf_counter() - started
    return result(epoch_s, steps, batch_size, settings["factors"], choose, build_s=build_s, loss=loss / steps)


if __name__ == "__main__":
    sys.exit(run(child_parser(__doc__.splitlines()[0]), measure))
