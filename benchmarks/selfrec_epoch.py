"""One training epoch of a graph model in SELFRec's own code (Coder-Yu/SELFRec), timed: the child
process `reference_epoch.py` starts for SimGCL. Run it with a Python that has SELFRec's
dependencies (benchmarks/README.md, "reference_epoch.py"); it imports nothing of mmdiffbench.

    python benchmarks/selfrec_epoch.py --src /tmp/selfrec_src --data-root /tmp/x --dataset tiktok \
        --model SimGCL --choose '{"batch.size": 2048, "embedding.size": 64}' --threads 2

SELFRec's files are read and run, never changed. Settings: its `conf/<model>.yaml`, then `--choose`
(top-level keys), with the data as `reference_data.write_selfrec` writes it and `max.epoch` 1.
SELFRec's `train()` runs the epochs, evaluation included, in one method; what this process changes
in memory to time one epoch of it, and why:
- `.cuda()` returns its tensor or module when no GPU is present (`reference_child.cuda_as_cpu`).
- the model module's `next_batch_pairwise` (SELFRec's sampler) is wrapped to count the batches and
  note the time when the epoch's batches are done (after the last optimiser step);
- the model's `fast_evaluation`, which `train()` calls after each epoch, raises instead of
  evaluating, which ends `train()`.

Timed: from `train()`'s start (moving the model, building Adam) to the end of the epoch's batch
loop: SELFRec's shuffling and negative sampling, forward, loss, backward, Adam. Evaluation and model
construction are excluded. The last line printed is a JSON object.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from reference_child import child_parser, cuda_as_cpu, enter, result, run


class EpochDone(Exception):
    """Raised by the stand-in `fast_evaluation`: the epoch is over."""


class CountedBatches:
    """SELFRec's batch generator, counted, with the time its last batch was finished."""

    def __init__(self, sampler: Callable[..., Iterator[Any]]) -> None:
        self.sampler = sampler
        self.steps = 0
        self.finished = 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        for batch in self.sampler(*args, **kwargs):
            yield batch
            self.steps += 1
        self.finished = time.perf_counter()


def stop_epoch(epoch: int) -> None:
    """The stand-in for `fast_evaluation`: no evaluation, the end of `train()`."""
    raise EpochDone


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Build SELFRec's data and model as its `SELFRec.execute` does, then time one epoch of `train()`."""
    enter([args.src], args.data_root, args.threads)
    cuda_as_cpu()
    from data.loader import FileIO
    from util.conf import ModelConf

    choose = json.loads(args.choose)
    conf = ModelConf(str(args.src.resolve() / "conf" / f"{args.model}.yaml"))
    conf.config.update(choose, **{"max.epoch": 1})
    conf.config["training.set"] = str(args.data_root.resolve() / "train.txt")
    conf.config["test.set"] = str(args.data_root.resolve() / "test.txt")
    training = FileIO.load_data_set(conf["training.set"], conf["model"]["type"])
    test = FileIO.load_data_set(conf["test.set"], conf["model"]["type"])
    module = importlib.import_module(f"model.{conf['model']['type']}.{args.model}")
    batches = CountedBatches(module.next_batch_pairwise)
    vars(module)["next_batch_pairwise"] = batches
    started = time.perf_counter()
    recommender = getattr(module, args.model)(conf, training, test)
    recommender.build()
    build_s = time.perf_counter() - started
    recommender.fast_evaluation = stop_epoch
    started = time.perf_counter()
    try:
        recommender.train()
    except EpochDone:
        pass
    return result(
        batches.finished - started,
        batches.steps,
        int(conf["batch.size"]),
        int(conf["embedding.size"]),
        choose,
        build_s=build_s,
    )


if __name__ == "__main__":
    sys.exit(run(child_parser(__doc__.splitlines()[0]), measure))
