"""One training epoch of HCCF in its authors' PyTorch code (akaxlh/HCCF `torchVersion/`), timed: the
child process `reference_epoch.py` starts for HCCF. Run it with a Python that has the code's
dependencies (benchmarks/README.md, "reference_epoch.py"); it imports nothing of mmdiffbench.

    python benchmarks/hccf_epoch.py --src /tmp/hccf_src --data-root /tmp/x --dataset tiktok \
        --model HCCF --choose '{"batch": 4096, "latdim": 32}' --threads 2

The authors' files are read and run, never changed. Settings: `Params.py`'s defaults, then
`--choose` (given to it as its command-line options, which it parses when imported). What this
process changes in memory, and why:
- `.cuda()` returns its tensor or module when no GPU is present (`reference_child.cuda_as_cpu`):
  the code moves everything to the GPU unconditionally.
- `DataHandler` knows three dataset names and reads `../Data/<name>/trnMat.pkl` and `tstMat.pkl`;
  it is built under its first name (`yelp`) and then pointed at the files
  `reference_data.write_hccf` wrote, in its own format, before `LoadData()`.

Timed: `Coach.trainEpoch()` of `Main.py`: the epoch's negative sampling (`negSampling`, a Python loop
over the training pairs), the DataLoader, `calcLosses`, the regulariser, backward and Adam.
Evaluation and model construction are excluded. The last line printed is a JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import types
from typing import Any

from reference_child import child_parser, cuda_as_cpu, enter, result, run

KNOWN_NAME = "yelp"  # one of the names DataHandler accepts


def load_authors_code(args: argparse.Namespace) -> tuple[Any, Any, Any, dict[str, Any]]:
    """(the loaded DataHandler, Main.Coach, Params.args, the --choose settings) of the authors' code."""
    enter([args.src / "torchVersion"], args.src / "torchVersion", args.threads)
    cuda_as_cpu()
    # Main.py names its process with setproctitle; a stand-in where it is not installed
    sys.modules.setdefault("setproctitle", types.SimpleNamespace(setproctitle=lambda title: None))  # type: ignore[arg-type]
    choose = json.loads(args.choose)
    sys.argv = [sys.argv[0], "--data", KNOWN_NAME, *(f"--{key}={value}" for key, value in choose.items())]
    from DataHandler import DataHandler
    from Main import Coach
    from Params import args as params

    handler = DataHandler()
    handler.trnfile = str(args.data_root.resolve() / "trnMat.pkl")
    handler.tstfile = str(args.data_root.resolve() / "tstMat.pkl")
    handler.LoadData()
    return handler, Coach, params, choose


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Load the data and build the model as `Main.py` does, then time one `trainEpoch()`."""
    handler, Coach, params, choose = load_authors_code(args)
    started = time.perf_counter()
    coach = Coach(handler)
    coach.prepareModel()
    build_s = time.perf_counter() - started
    started = time.perf_counter()
    losses = coach.trainEpoch()
    epoch_s = time.perf_counter() - started
    return result(
        epoch_s, len(handler.trnLoader), params.batch, params.latdim, choose, build_s=build_s, loss=losses["Loss"]
    )


if __name__ == "__main__":
    sys.exit(run(child_parser(__doc__.splitlines()[0]), measure))
