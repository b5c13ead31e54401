"""Where a DiffCL training step and an evaluation spend their time, by phase and by torch op.
Not a test: run it by hand (the numbers are only comparable within one invocation).

    PYTHONPATH=src python benchmarks/diffcl_profile.py --data ../shared/datasets/tiktok --threads 1

One untimed warm-up step, then `--steps` steps under torch.profiler. Each phase is a
`record_function` range around the model's own pieces (the graph propagation, the item-item
enhancement, the diffusion views, the InfoNCE terms, the denoisers' loss, the alignment loss)
and around the trainer's backward and Adam step; a phase's time is the CPU time of its ranges
(all threads), inclusive: the views rerun inside backward under `recompute` are counted both in
`backward` and in `views (in backward)`. The top ops by self CPU time follow, then one
evaluation (validation and test ranking), timed and profiled the same way. With PYTHONPATH at
an older `src/` (`git archive REV src`) it profiles that revision: the pieces it lacks stay unlabelled.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import torch
from common import add_dataset_source, dataset_from
from torch.autograd.profiler import record_function
from torch.profiler import ProfilerActivity, profile

from mmdiffbench.config import resolve
from mmdiffbench.eval import evaluate_model
from mmdiffbench.models import diffcl
from mmdiffbench.models.diffcl import DiffCL
from mmdiffbench.tensors import tensor_sum
from mmdiffbench.train.phases import PhaseRunner
from mmdiffbench.train.run import build_model
from mmdiffbench.train.seeding import seed_everything

#: (module or class, attribute, phase label): the model's pieces wrapped in a profiler range
PIECES = (
    (diffcl, "propagate_sum", "propagation"),
    (DiffCL, "item_enhancement", "kNN enhancement"),
    (diffcl, "diffusion_view", "diffusion views"),
    (diffcl, "info_nce", "InfoNCE"),
    (diffcl, "diffusion_loss", "denoiser loss"),
    (DiffCL, "alignment_loss", "alignment"),
)


def labelled(label: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def run(*args: Any, **kwargs: Any) -> Any:
        with record_function(f"phase: {label}"):
            return function(*args, **kwargs)

    return run


def phase_table(events: Any, n_steps: int) -> list[tuple[str, float]]:
    """Milliseconds per step of each `phase:` range (CPU time, every occurrence summed)."""
    totals: dict[str, float] = defaultdict(float)
    for event in events:
        if event.name.startswith("phase: "):
            totals[event.name[len("phase: ") :]] += event.cpu_time_total / 1000
    return [(name, ms / n_steps) for name, ms in sorted(totals.items(), key=lambda kv: -kv[1])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_source(parser)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--top", type=int, default=15, help="op rows to print")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for owner, name, label in PIECES:  # a piece an older library lacks (PYTHONPATH=<old src>) stays unlabelled
        if hasattr(owner, name):
            setattr(owner, name, labelled(label, getattr(owner, name)))
    dataset = dataset_from(args)
    config = resolve("diffcl", dataset.name, "full", args.overrides)
    seed_everything(0)
    model = build_model(dataset, config, torch.device("cpu"))
    runner = PhaseRunner(model, dataset, config.trainer, 0)
    phase = runner.phases[0]
    optimizer = runner.optimizers[phase.name]
    batches = runner.batches(phase, config.trainer["batch_size"])[0]
    model.train()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with record_function("phase: forward"):
            loss = tensor_sum(tensor_sum(terms.values()) for terms in phase.loss_parts(next(batches)))
        with record_function("phase: backward"):
            loss.backward()
        with record_function("phase: Adam"):
            optimizer.step()

    step()  # warm-up
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(args.steps):
            step()
    wall = (time.perf_counter() - started) / args.steps
    print(f"{dataset.name}, {args.threads} thread(s), {args.steps} step(s): {wall:.2f} s wall per step (profiled)")
    print("phase (CPU ms per step, inclusive; views under recompute also run inside backward):")
    for name, ms in phase_table(prof.events(), args.steps):
        print(f"  {name:<18} {ms:9.1f}")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=args.top))
    model.eval()
    topks, size = tuple(config.trainer["topks"]), config.trainer["eval_batch_size"]
    started = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        evaluate_model(model, dataset, topks, size)
    print(f"evaluation: {time.perf_counter() - started:.2f} s wall (profiled)")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=8))
    return 0


if __name__ == "__main__":
    sys.exit(main())
