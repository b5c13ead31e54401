"""One training epoch of a model in RecBole's own code (RUCAIBox/RecBole), timed: the child process
`reference_epoch.py` starts for NGCF, SGL and NCL. Run it with a Python that has RecBole's
dependencies (benchmarks/README.md, "reference_epoch.py"); it imports nothing of mmdiffbench.

    python benchmarks/recbole_epoch.py --src /tmp/recbole_src --data-root /tmp/x --dataset tiktok \
        --model NGCF --choose '{"train_batch_size": 2048, "embedding_size": 64}' --threads 2

RecBole's files are read and run, never changed. Settings: RecBole's own YAMLs (overall, model)
through its `Config`, then `--choose`; `use_gpu: False`; the data as `reference_data.write_recbole`
writes it (our split as RecBole's pre-split `benchmark_filename` files, `user_id`/`item_id` only);
no progress bar; checkpoints under the data folder.

What this process changes in memory, and why: numpy's `float_`, `complex_` and `unicode_` (removed
in numpy 2.0) are put back as the numpy 1 aliases they were (`float64`, `complex128`, `str_`):
RecBole's `Config.compatibility_settings` reads them to alias names numpy 1.24 removed, and fails
on numpy 2 otherwise. `scipy.sparse.dok_matrix._update` (gone from scipy 1.12 on; NGCF's
adjacency builder calls it) is put back (`reference_child.dok_update`). faiss (NCL's k-means) is PyPI's faiss-cpu, whose
`Kmeans(gpu=True)` runs on the CPU; its OpenMP threads are set to `--threads`, as torch's are.

Timed: what RecBole's trainer runs for one epoch: NCL's E-step (k-means of users and items, which
`NCLTrainer.fit` runs before every epoch), then `Trainer._train_epoch` (`model.train()`, which
rebuilds SGL's two dropped-edge graphs, its dataloader with negative sampling, `calculate_loss`,
backward, Adam). Evaluation and model construction are excluded. The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

import numpy as np
from reference_child import child_parser, dok_update, enter, result, run

NUMPY_1_ALIASES = {"float_": "float64", "complex_": "complex128", "unicode_": "str_"}


def numpy_1_aliases() -> None:
    """numpy 1's aliases that RecBole's Config reads (module docstring)."""
    for old, new in NUMPY_1_ALIASES.items():
        if old not in np.__dict__:
            setattr(np, old, getattr(np, new))


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build RecBole's dataset, loaders, model and trainer as its quick start does, then time one epoch."""
    enter([args.src], args.data_root, args.threads)
    numpy_1_aliases()
    dok_update()
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.utils import get_model, get_trainer, init_seed

    choose = json.loads(args.choose)
    settings = {
        "data_path": str(args.data_root.resolve()),
        "benchmark_filename": ["train", "valid", "test"],
        "load_col": {"inter": ["user_id", "item_id"]},
        "use_gpu": False,
        "show_progress": False,
        "checkpoint_dir": str(args.data_root.resolve() / "saved"),
        **choose,
    }
    config = Config(model=args.model, dataset=args.dataset, config_dict=settings)
    init_seed(config["seed"], config["reproducibility"])
    train_data, _, _ = data_preparation(config, create_dataset(config))
    started = time.perf_counter()
    model = get_model(config["model"])(config, train_data._dataset).to(config["device"])
    trainer = get_trainer(config["MODEL_TYPE"], config["model"])(config, model)
    build_s = time.perf_counter() - started
    if hasattr(model, "e_step"):
        import faiss

        faiss.omp_set_num_threads(args.threads)
    started = time.perf_counter()
    if hasattr(model, "e_step"):
        model.e_step()
    loss = trainer._train_epoch(train_data, 0, show_progress=False)
    epoch_s = time.perf_counter() - started
    return result(
        epoch_s,
        len(train_data),
        config["train_batch_size"],
        config["embedding_size"],
        choose,
        build_s=build_s,
        loss=float(sum(loss)) if isinstance(loss, tuple) else float(loss),
    )


if __name__ == "__main__":
    sys.exit(run(child_parser(__doc__.splitlines()[0]), measure))
