"""Where a model's peak RSS is: resident and peak memory after each part of its first training steps
(forward, backward, optimiser step), the epoch's end and one evaluation. Not a test.

    PYTHONPATH=src python benchmarks/step_memory.py --synthetic-sports --model mmgcn --steps 2
    PYTHONPATH=src python benchmarks/step_memory.py --synthetic-sports --model mmgcn --set mmap_threshold_mib=0 --trim

Peak is the high-water mark since the previous line (Linux: /proc/self/status VmHWM, reset through
/proc/self/clear_refs after each line; tracemalloc does not see torch's buffers). Each phase runs
twice (`--passes`), as from an epoch to the next, its `before` hook first; `--trim` calls
`malloc_trim` before every reading, so RSS shows what is held rather than what the heap kept.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch
from common import add_dataset_source, dataset_from

from mmdiffbench.config import resolve
from mmdiffbench.eval import evaluate_model
from mmdiffbench.memory import release_free_memory
from mmdiffbench.tensors import tensor_sum
from mmdiffbench.train.phases import PhaseRunner
from mmdiffbench.train.run import build_model
from mmdiffbench.train.seeding import seed_everything


class Meter:
    """Prints RSS and the peak since the previous reading, then resets the peak."""

    def __init__(self, trim: bool) -> None:
        self.trim = trim
        self.reset()

    @staticmethod
    def reset() -> None:
        Path("/proc/self/clear_refs").write_text("5")

    @staticmethod
    def status(key: str) -> int:
        line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith(key))
        return int(line.split()[1]) >> 10

    def read(self, label: str) -> None:
        peak = self.status("VmHWM")
        if self.trim:
            release_free_memory()
        print(f"{label:<36} RSS {self.status('VmRSS'):>6} MiB   peak since last {peak:>6} MiB", flush=True)
        self.reset()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_source(parser)
    parser.add_argument("--model", required=True)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--steps", type=int, default=2, help="steps per pass of each phase")
    parser.add_argument("--passes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--trim", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    meter = Meter(args.trim)
    meter.read("start")
    dataset = dataset_from(args)
    meter.read("dataset")
    config = resolve(args.model, dataset.name, "full", args.set)
    seed_everything(0)
    model = build_model(dataset, config, torch.device("cpu"))
    runner = PhaseRunner(model, dataset, config.trainer, 0)
    meter.read("model and optimisers built")
    model.train()
    for n in range(args.passes):
        for phase in runner.phases:
            optimizer = runner.optimizers[phase.name]
            if phase.before is not None:
                phase.before()
            batches, _ = runner.batches(phase, phase.batch_size or config.trainer["batch_size"])
            for step, batch in zip(range(args.steps), batches, strict=False):
                optimizer.zero_grad(set_to_none=True)
                for terms in phase.loss_parts(batch):
                    loss = tensor_sum(terms.values())
                    meter.read(f"pass {n} {phase.name} step {step} forward")
                    loss.backward()
                    del loss, terms
                    meter.read(f"pass {n} {phase.name} step {step} backward")
                optimizer.step()
                meter.read(f"pass {n} {phase.name} step {step} optimiser")
            optimizer.zero_grad(set_to_none=True)
            if phase.after is not None:
                phase.after()
            meter.read(f"pass {n} {phase.name} end")
    evaluate_model(model, dataset, tuple(config.trainer["topks"]), config.trainer["eval_batch_size"])
    meter.read("evaluation")
    return 0


if __name__ == "__main__":
    sys.exit(main())
