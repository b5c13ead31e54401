"""One training epoch of a model in MMRec's own code (enoche/MMRec), timed: the child process that
`reference_epoch.py` starts for the reference side. Run it with a Python that has MMRec's
dependencies (see benchmarks/README.md, "reference_epoch.py"); it imports nothing of mmdiffbench.

    python benchmarks/mmrec_epoch.py --src /tmp/mmrec_src --data-root /tmp/x --dataset tiktok \
        --model VBPR --choose '{"reg_weight": 2.0}' --threads 2

`--model-src DIR` runs a model from another code base laid out as MMRec's `src/` (the authors' MMGCL,
zxy-ml84/MMGCL `MMGCL-main/mmgcl/`, a copy of an older MMRec with its model added): that folder comes
first on sys.path and is the working directory, so its model, its configs/ and the framework files
it ships are used; MMRec's `src/` after it supplies the ones it imports but does not ship
(`utils/dataset.py`, `common/trainer.py`). `--set` gives settings as they are (no grid choice), for
the stand-ins such a run needs (benchmarks/README.md says which and why). With `--model-src`, a YAML
file its configurator fails to parse is parsed again with the lines' leading spaces removed:
MMGCL's `configs/model/MMGCL.yaml` indents its last key (`mask_p`) by one space, which YAML rejects,
and every key in it is top-level.

MMRec's files are read and run, never changed. What this process changes in memory, and why:
- `utils.data_utils` is replaced by an empty module before MMRec's dataset module imports it: it
  only holds raw-image helpers (torchvision, unused with MMRec's `use_raw_features: False`), and
  PyPI's torchvision wheels for this torch are CUDA builds that do not load on a CPU-only torch.
- `torch_scatter` (no CPU wheel on PyPI for this torch; SLMRec and MMGCL import `scatter` and never
  call it, MGCN's graph build calls `scatter_add`) is a module whose `scatter` is torch_geometric's
  and `scatter_add` that with `reduce="sum"`; torch_geometric falls back to torch's scatter_reduce.
- `scipy.sparse.dok_matrix._update` (gone from scipy 1.12 on; MMRec's adjacency builders call it)
  is put back as the plain dict update it was (`reference_child.dok_update`).
- `.cuda()` returns its tensor or module when no GPU is present (`reference_child.cuda_as_cpu`):
  LATTICE, MGCN, GRCN and MMGCL call it whatever `use_gpu` says.
- DualGNN's `result_embed`, made by `nn.Parameter(...).to(device)`, is a plain tensor on a GPU (the
  copy `.to` makes) but stays a registered parameter on the CPU, where its forward's assignment
  then fails: it is re-bound as a plain tensor, as on a GPU, before the optimiser is built.
- Settings: MMRec's own YAMLs (overall, model) through its `Config`; `use_gpu: False`; the
  dataset's field and file names (MMRec ships no dataset YAML for it); every grid-valued
  hyper-parameter set to one value of its grid (`--choose`, else the grid's first value).

Timed: `pre_epoch_processing()` and `Trainer._train_epoch` (MMRec's dataloader with its negative
sampling, `calculate_loss`, backward and Adam), what MMRec's own log reports as an epoch's
training time; evaluation is excluded. The last line printed is a JSON object.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import re
import sys
import time
import types
from pathlib import Path
from typing import Any

import torch
from reference_child import child_parser, cuda_as_cpu, dok_update, enter, result, run


def install_patches() -> None:
    """The in-memory substitutions of the module docstring, all but DualGNN's (`unregister_copies`)."""
    data_utils = types.ModuleType("utils.data_utils")
    for name in ("ImageResize", "ImagePad", "image_to_tensor", "load_decompress_img_from_lmdb_value"):
        setattr(data_utils, name, None)
    sys.modules["utils.data_utils"] = data_utils
    if "torch_scatter" not in sys.modules:
        from torch_geometric.utils import scatter

        scatter_module = types.ModuleType("torch_scatter")
        scatter_module.scatter = scatter  # type: ignore[attr-defined]
        scatter_module.scatter_add = functools.partial(scatter, reduce="sum")  # type: ignore[attr-defined]
        sys.modules["torch_scatter"] = scatter_module
    dok_update()
    cuda_as_cpu()


def lenient_yaml(configurator: types.ModuleType) -> None:
    """The configurator's YAML parsing, retried without leading spaces when a file fails to parse
    (module docstring: MMGCL.yaml)."""
    import yaml

    def load(text: str, Loader: Any) -> Any:
        try:
            return yaml.load(text, Loader=Loader)
        except yaml.YAMLError:
            return yaml.load(re.sub(r"^ +", "", text, flags=re.MULTILINE), Loader=Loader)

    configurator.yaml = types.SimpleNamespace(load=load, FullLoader=yaml.FullLoader)  # type: ignore[attr-defined]


def unregister_copies(model: Any) -> None:
    """DualGNN's `result_embed` as on a GPU: a plain tensor, not a parameter (module docstring)."""
    copy = model._parameters.pop("result_embed", None)
    if copy is not None:
        model.result_embed = copy.detach()


def pick(grid: Any, wanted: Any) -> Any:
    """`wanted` when it is one of the grid's values (floats compared with a relative tolerance), else
    the grid's first value; a non-list setting is kept as it is."""
    if not isinstance(grid, list):
        return grid
    for value in grid:
        same_float = isinstance(value, int | float) and isinstance(wanted, int | float)
        if value == wanted or (same_float and math.isclose(float(value), float(wanted), rel_tol=1e-9)):
            return value
    return grid[0]


def measure(args: argparse.Namespace) -> dict[str, object]:
    """Build MMRec's data loader, model and trainer as its quick start does, then time one epoch."""
    source = args.src.resolve() / "src"
    first = [args.model_src] if args.model_src else []
    enter([*first, source], args.model_src or source, args.threads)  # Config reads configs/ from here
    install_patches()
    import utils.configurator
    from common.trainer import Trainer
    from utils.configurator import Config
    from utils.dataloader import TrainDataLoader
    from utils.dataset import RecDataset
    from utils.utils import get_model, init_seed

    if args.model_src:
        lenient_yaml(utils.configurator)
    fixed = json.loads(args.set)
    layout = {
        "use_gpu": False,
        "data_path": f"{args.data_root.resolve()}/",
        "USER_ID_FIELD": "userID",
        "ITEM_ID_FIELD": "itemID",
        "TIME_FIELD": "timestamp",
        "inter_file_name": args.inter_file or f"{args.dataset}.inter",
        "vision_feature_file": args.vision_file,
        "text_feature_file": args.text_file,
        "user_graph_dict_file": "user_graph_dict.npy",
        **fixed,
    }
    config = Config(args.model, args.dataset, layout)
    choose = json.loads(args.choose)
    chosen = dict(fixed)
    for key in config["hyper_parameters"]:
        if key != "seed":
            config[key] = chosen[key] = pick(config[key], choose.get(key))
    config["seed"] = pick(config["seed"], None)
    init_seed(config["seed"])
    train, _, _ = RecDataset(config).split()
    str(train)  # sets train.inter_num, which the loader reads (MMRec's quick start logs it first)
    train_data = TrainDataLoader(config, train, batch_size=config["train_batch_size"], shuffle=True)
    train_data.pretrain_setup()
    started = time.perf_counter()
    model = get_model(config["model"])(config, train_data).to(config["device"])
    unregister_copies(model)
    trainer = Trainer(config, model)
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    model.pre_epoch_processing()
    loss, batches = trainer._train_epoch(train_data, 0)
    epoch_s = time.perf_counter() - started
    if torch.is_tensor(batches):  # MMRec's trainer leaves the epoch at a NaN loss
        raise SystemExit(f"{args.model}: NaN loss: MMRec's trainer left the epoch early, no full epoch to time")
    return result(
        epoch_s,
        len(train_data),
        config["train_batch_size"],
        config["embedding_size"],
        chosen,
        build_s=build_s,
        loss=float(sum(loss)) if isinstance(loss, tuple) else loss,
    )


def main() -> int:
    parser = child_parser(__doc__.splitlines()[0])
    parser.add_argument("--vision-file", default="image_feat.npy")
    parser.add_argument("--text-file", default="text_feat.npy")
    parser.add_argument("--inter-file", default=None, help="the interaction file (default <dataset>.inter)")
    parser.add_argument("--model-src", type=Path, default=None, help="a folder laid out as MMRec's src/ (MMGCL's)")
    parser.add_argument("--set", default="{}", help="JSON: settings taken as they are (stand-ins)")
    return run(parser, measure)


if __name__ == "__main__":
    sys.exit(main())
