"""Seconds per DiffMM epoch, split into denoiser training, graph rebuild and recommender
steps, plus peak RSS. Not a test: run it by hand, on an otherwise idle machine.

    PYTHONPATH=src python benchmarks/diffmm_epoch.py --data ../shared/datasets/tiktok --threads 2
    PYTHONPATH=src python benchmarks/diffmm_epoch.py --synthetic-sports --threads 2 --epochs 1
    PYTHONPATH=src python benchmarks/diffmm_epoch.py --data ../shared/datasets/tiktok --threads 2 --compare-fp32

--compare-fp32 then measures the same epochs with both bfloat16 switches off (denoiser_bf16
and contrastive_bf16 = never), each configuration in its own child process (its own peak
RSS), one after the other in this one invocation, and prints the per-phase ratios.

--baseline-ref REV measures the library at git revision REV (a temporary checkout of its `src/`)
against the working tree's, alternating child processes round by round (this machine's speed
drifts by tens of percent over minutes), and prints the per-phase ratios of the medians.

--synthetic-sports builds a dataset of Amazon-Sports' shapes (35,598 users, 18,357 items,
256,308 interactions, image 4096-d and text 1024-d random features) with the sports preset,
for the memory check.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
from common import add_dataset_source, library_at, synthetic_sports

from mmdiffbench.config import resolve
from mmdiffbench.data import load_release
from mmdiffbench.models.diffmm import DiffMM
from mmdiffbench.train.phases import PhaseRunner
from mmdiffbench.train.seeding import seed_everything


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
    model = DiffMM(dataset, config.model)
    runner = PhaseRunner(model, dataset, config.trainer, args.seed)
    generator, recommender = runner.by_name["generator"], runner.by_name["recommender"]
    print(
        f"{dataset.name}: {dataset.n_users} users, {dataset.n_items} items, modalities {dataset.modalities}, "
        f"threads {args.threads}, overrides {args.overrides}",
        file=sys.stderr,
        flush=True,
    )

    rows = []
    for epoch in range(args.epochs):
        row: dict[str, float] = {"epoch": epoch}
        steps = (
            lambda epoch=epoch: runner.run_phase(generator, epoch),
            lambda: generator.after() if generator.after else {},
            lambda epoch=epoch: runner.run_phase(recommender, epoch, max_steps=args.recommender_steps),
        )
        for name, phase in zip(PHASES, steps):
            wall, cpu = time.perf_counter(), time.process_time()  # CPU time counts every thread
            phase()
            row[f"{name}_wall_s"] = time.perf_counter() - wall
            row[f"{name}_cpu_s"] = time.process_time() - cpu
            row[f"peak_rss_mib_after_{name}"] = peak_rss_mb()
        row["total_wall_s"] = sum(row[f"{n}_wall_s"] for n in PHASES)
        row["load"] = os.getloadavg()[0]
        print(
            f"epoch {epoch}: total {row['total_wall_s']:.2f}s wall = "
            + " + ".join(f"{n} {row[f'{n}_wall_s']:.2f}s" for n in PHASES)
            + f"; peak RSS {row['peak_rss_mib_after_recommender']:.0f} MiB; load {row['load']:.1f}",
            file=sys.stderr,
            flush=True,
        )
        rows.append(row)
    return rows


def child(argv: list[str], overrides: list[str], src: Path | None = None) -> list[dict[str, float]]:
    """This script in a fresh process (its own peak RSS), with extra overrides, importing the
    library from `src` when given (a baseline revision) instead of the installed one."""
    command = [sys.executable, __file__, *argv, "--json"]
    for item in overrides:
        command += ["--set", item]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    done = subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True, env=env)
    return json.loads(done.stdout)


def print_ratios(last: dict[str, dict[str, float]], slow: str, fast: str) -> None:
    for name in (*PHASES, "total"):
        key = f"{name}_wall_s"
        print(
            f"{name:12s} {fast} {last[fast][key]:7.2f}s  {slow} {last[slow][key]:7.2f}s  "
            f"ratio {last[slow][key] / last[fast][key]:.2f}x"
        )
    for name in last:
        print(f"peak RSS {name}: {last[name]['peak_rss_mib_after_recommender']:.0f} MiB")


def compare_with_revision(argv: list[str], revision: str, rounds: int) -> None:
    """Median over `rounds` alternating runs of the last epoch, working tree against `revision`."""
    with library_at(revision) as baseline:
        runs: dict[str, list[dict[str, float]]] = {"working tree": [], revision: []}
        for round_ in range(rounds):
            order = [("working tree", None), (revision, baseline)]
            for name, src in order if round_ % 2 == 0 else order[::-1]:
                runs[name].append(child(argv, [], src)[-1])
                print(f"round {round_}: {name} {runs[name][-1]['total_wall_s']:.2f}s", file=sys.stderr, flush=True)
    keys = runs["working tree"][0].keys()
    medians = {name: {k: statistics.median(r[k] for r in rows) for k in keys} for name, rows in runs.items()}
    print(f"medians of {rounds} alternating runs (last epoch of each)")
    print_ratios(medians, slow=revision, fast="working tree")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_source(parser)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=421)
    parser.add_argument(
        "--recommender-steps",
        type=int,
        default=None,
        help="stop the recommender pass after N steps (memory checks; the time is then partial)",
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--compare-fp32", action="store_true", help="also measure with both bfloat16 switches off")
    parser.add_argument(
        "--baseline-ref", default=None, metavar="REV", help="compare with the library at git revision REV"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per side with --baseline-ref")
    parser.add_argument("--json", action="store_true", help="print the per-epoch rows as JSON on stdout")
    args = parser.parse_args()
    argv = [a for a in sys.argv[1:] if a != "--compare-fp32"]
    if args.baseline_ref is not None:
        skip = {"--baseline-ref", "--rounds"}
        argv = [a for i, a in enumerate(argv) if a not in skip and (i == 0 or argv[i - 1] not in skip)]
        compare_with_revision(argv, args.baseline_ref, args.rounds)
        return 0
    if not args.compare_fp32:
        rows = measure(args)
        print(json.dumps(rows) if args.json else "\n".join(str(r) for r in rows))
        return 0
    last = {"default": child(argv, [])[-1], "fp32": child(argv, FP32)[-1]}  # the last epoch: warm caches
    print_ratios(last, slow="fp32", fast="default")
    return 0


if __name__ == "__main__":
    sys.exit(main())
