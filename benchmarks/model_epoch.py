"""Seconds per training epoch (by phase), seconds per full evaluation and peak RSS of every model,
each in its own child process (its own peak RSS). Not a test: run it by hand on an idle machine.

    PYTHONPATH=src python benchmarks/model_epoch.py --data ../shared/datasets/tiktok --threads 2 \
        --out benchmarks/results/model_epoch_tiktok.csv
    PYTHONPATH=src python benchmarks/model_epoch.py --synthetic-sports --threads 2 --models lightgcn diffrec \
        --max-steps 20 --out benchmarks/results/model_epoch_sports.csv

Each model runs with its YAML defaults and the dataset's preset; the dataset's feature arrays are
dropped once it is built, as `mmdiffbench train` does (`InteractionDataset.release_features`). Each
row names its `commit` (the working tree's HEAD: measure a committed tree). `--max-steps N` stops every phase
after N steps (slow models on a small machine): the epoch time is then the measured time per step
(after one untimed warm-up step) times the steps of a full epoch, plus the phases' once-per-epoch
hooks timed once as they are, never scaled (`<phase>_before_s`: NCL's k-means, SGL's views, ...;
`<after_name>_s`: DiffMM's rebuild); the CSV says so (`steps_run` < `steps_per_epoch`).

`--set KEY=VALUE` overrides a model key. Before / after in one invocation: `--baseline-ref REV` (the
library at git revision REV), `--baseline-set KEY=VALUE` (other overrides) and / or
`--baseline-keeps-features` (the dataset's feature arrays not released) define a baseline, run alternately with the measured setting `--rounds` times per model (this machine's
speed drifts over minutes; `epoch_cpu_s`, the CPU time of all threads, moves less with the load
than the wall time); the CSV then holds every run (`arm` = baseline / measured, `round`)
and the medians and baseline / measured ratios are printed.

    PYTHONPATH=src python benchmarks/model_epoch.py --data ../shared/datasets/tiktok --models diffcl \
        --max-steps 4 --baseline-ref 264f365 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pandas as pd
import torch
from common import add_dataset_source, dataset_from, library_at, phase_runner

from mmdiffbench.eval import evaluate_model
from mmdiffbench.models import MODELS
from mmdiffbench.precision import native_bf16_cpu
from mmdiffbench.train.runinfo import git_commit


def timed(work: Callable[[], object], scale: float) -> tuple[float, float]:
    """Wall and CPU seconds of `work()`, each times `scale`."""
    t0, cpu0 = time.perf_counter(), time.process_time()
    work()
    return (time.perf_counter() - t0) * scale, (time.process_time() - cpu0) * scale


def measure(model_name: str, args: argparse.Namespace) -> dict[str, object]:
    """One model, one epoch (or `max_steps` steps of each phase) and one evaluation, timed."""
    torch.set_num_threads(args.threads)
    dataset = dataset_from(args)
    started = time.perf_counter()
    config, runner = phase_runner(model_name, dataset, overrides=args.overrides)
    if not args.keep_features:
        dataset.release_features()  # as `mmdiffbench train` does once the model is built
    build_s = time.perf_counter() - started
    row: dict[str, object] = {"model": model_name, "dataset": dataset.name, "threads": args.threads}
    steps_run = steps_full = 0
    train_s = train_cpu_s = 0.0
    for phase in runner.phases:
        size = phase.batch_size or config.trainer["batch_size"]
        full = {"bpr": runner.sampler.n_batches(size), "none": 1}.get(phase.batches)
        if full is None:
            assert runner.row_sampler is not None
            full = runner.row_sampler.n_batches(size)
        cap = min(full, args.max_steps) if args.max_steps else full
        if cap < full:
            runner.run_phase(phase, 0, max_steps=1)  # warm-up step, untimed: a capped pass is scaled up
        steps = dataclasses.replace(phase, before=None)
        # (column, work, scale): the hooks run once per epoch whatever the cap, timed, never scaled;
        # the capped steps are scaled up to the full phase (measured whole when cap = full)
        parts: list[tuple[str, Callable[[], object], float]] = [
            (f"{phase.name}_s", partial(runner.run_phase, steps, 0, max_steps=cap), full / cap)
        ]
        if phase.before is not None:
            parts.insert(0, (f"{phase.name}_before_s", phase.before, 1.0))
        if phase.after is not None:
            parts.append((f"{phase.after_name}_s", phase.after, 1.0))
        for column, work, scale in parts:
            wall, cpu = timed(work, scale)
            row[column] = wall
            train_s += wall
            train_cpu_s += cpu
        steps_run, steps_full = steps_run + cap, steps_full + full
    t0 = time.perf_counter()
    evaluate_model(runner.model, dataset, tuple(config.trainer["topks"]), config.trainer["eval_batch_size"])
    row.update(
        build_s=build_s,
        epoch_s=train_s,
        epoch_cpu_s=train_cpu_s,
        eval_s=time.perf_counter() - t0,
        steps_run=steps_run,
        steps_per_epoch=steps_full,
        peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        load=os.getloadavg()[0],
        commit=git_commit(),  # 'unknown' for a baseline library copied out of git: alternating() names it
        cpu_native_bf16=native_bf16_cpu(),
    )
    return row


def child(model_name: str, argv: list[str], src: Path | None = None) -> dict[str, object]:
    """`measure` in a fresh process (its own peak RSS), importing the library from `src` if given."""
    command = [sys.executable, __file__, *argv, "--one", model_name]
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
    done = subprocess.run(command, check=False, stdout=subprocess.PIPE, text=True, env=env)
    if done.returncode != 0:
        return {"model": model_name, "error": f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def settings(overrides: list[str]) -> list[str]:
    return [arg for item in overrides for arg in ("--set", item)]


def alternating(name: str, argv: list[str], args: argparse.Namespace, baseline: Path | None) -> list[dict[str, object]]:
    """`rounds` runs of the baseline and the measured setting, alternating which goes first."""
    keep = ["--keep-features"] if args.baseline_keeps_features else []
    arms = [
        ("measured", argv + settings(args.overrides), None),
        ("baseline", argv + settings(args.baseline_overrides) + keep, baseline),
    ]
    rows = []
    for round_ in range(args.rounds):
        for arm, arm_argv, src in arms if round_ % 2 == 0 else arms[::-1]:
            row = {"arm": arm, "round": round_, **child(name, arm_argv, src)}
            if src is not None:
                row["commit"] = args.baseline_ref
            rows.append(row)
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    return rows


def print_ratios(frame: pd.DataFrame) -> None:
    """Medians per model and arm, and baseline / measured of each time column (peak RSS too)."""
    columns = [c for c in frame.columns if c.endswith("_s") or c == "peak_rss_mib"]
    medians = frame.groupby(["model", "arm"])[columns].median()
    print(medians.to_string(float_format=lambda v: f"{v:.2f}"))
    for model in frame["model"].unique():
        ratio = medians.loc[(model, "baseline")] / medians.loc[(model, "measured")]
        print(
            f"{model} baseline / measured: "
            + ", ".join(f"{c} {ratio[c]:.2f}x" for c in columns if ratio[c] == ratio[c])
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_source(parser)
    parser.add_argument("--models", nargs="*", default=None, help="registered names (default: all)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=None)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--baseline-ref", default=None, metavar="REV", help="baseline: the library at REV")
    parser.add_argument("--baseline-set", dest="baseline_overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--keep-features", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--baseline-keeps-features",
        action="store_true",
        help="baseline: the dataset's feature arrays kept, not released",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per arm (with a baseline)")
    parser.add_argument("--out", type=Path, default=None, help="CSV to write (default: print only)")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return 0
    argv = ["--threads", str(args.threads)]
    argv += ["--synthetic-sports"] if args.synthetic_sports else ["--data", str(args.data)]
    argv += ["--max-steps", str(args.max_steps)] if args.max_steps else []
    compared = args.baseline_ref is not None or bool(args.baseline_overrides) or args.baseline_keeps_features
    rows: list[dict[str, object]] = []
    with library_at(args.baseline_ref) if args.baseline_ref else contextlib.nullcontext() as baseline:
        for name in args.models or sorted(MODELS):
            if compared:
                rows += alternating(name, argv, args, baseline)
                continue
            rows.append(child(name, argv + settings(args.overrides)))
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    frame = pd.DataFrame(rows)
    print(frame.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if compared:
        print_ratios(frame)
    if args.out:
        frame.to_csv(args.out, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
