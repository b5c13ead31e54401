"""A whole DiffMM training run as a user sees it: `mmdiffbench train` from process start to exit,
its peak RSS and the disk of the finished run folder. Not a test: run it by hand.

    PYTHONPATH=src python benchmarks/diffmm_run.py --data ../shared/datasets/tiktok --epochs 5 --threads 2 --keep runs/
    PYTHONPATH=src python benchmarks/diffmm_run.py --data ../shared/datasets/tiktok --epochs 2 --baseline-ref 45df76c

Each run is a child process, timed from its start to its exit; its peak RSS is its own
(`os.wait4`). The run's history.csv splits the wall time into the epochs' compute (the phase
and evaluation times) and the rest: start-up (imports, data, model), checkpoint and history
writes, and the final writes.
With `--baseline-ref REV` the library at git revision REV runs too, alternating with the
working tree round by round (this machine's speed drifts by tens of percent over minutes),
and the ratios of the medians are printed. `--extrapolate E` adds the wall time of an E-epoch
run at the measured rates: an extrapolation, not a measurement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import pandas as pd
from common import library_at


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 1e6


def one_run(args: argparse.Namespace, src: Path | None) -> dict[str, float]:
    """`mmdiffbench train` in a child process (the library from `src` when given); its numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        command = [sys.executable, "-m", "mmdiffbench", "train", "--data", str(args.data), "--model", "diffmm"]
        command += ["--seed", str(args.seed), "--threads", str(args.threads), "--out", str(out)]
        for item in [f"epochs={args.epochs}", *args.overrides]:
            command += ["--set", item]
        env = dict(os.environ)
        if src is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(src), env.get("PYTHONPATH", "")])
        log = Path(tmp) / "stderr.txt"
        with log.open("w") as stderr:
            started = time.perf_counter()
            child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
            _, status, usage = os.wait4(child.pid, 0)
            wall = time.perf_counter() - started
        if status != 0:
            raise RuntimeError(f"the run failed (status {status}): {log.read_text()[-2000:]}")
        if args.keep is not None:  # the run's history and metrics outlive the measurement
            kept = args.keep / f"{'working_tree' if src is None else 'baseline'}_{time.strftime('%H%M%S')}"
            shutil.copytree(out, kept, ignore=shutil.ignore_patterns("*.pt", ".lock"))
        history = pd.read_csv(out / "history.csv")
        compute = float(history[[c for c in history.columns if c.startswith("time_")]].to_numpy().sum())
        return {
            "wall_s": wall,
            "compute_s": compute,
            "rest_s": wall - compute,
            "peak_rss_mb": usage.ru_maxrss / 1024 * 1.048576,  # KiB -> MB
            "disk_mb": folder_mb(out),
            "load": os.getloadavg()[0],
        }


def extrapolated(row: dict[str, float], epochs: int, to_epochs: int) -> float:
    """The wall time of a `to_epochs` run: the rest counted once (more checkpoints are not in it),
    the compute at its rate per epoch."""
    return row["rest_s"] + row["compute_s"] * to_epochs / epochs


def show(name: str, row: dict[str, float], args: argparse.Namespace) -> str:
    line = (
        f"{name}: wall {row['wall_s']:.1f}s = epochs' compute {row['compute_s']:.1f}s + start-up and writes "
        f"{row['rest_s']:.1f}s; peak RSS {row['peak_rss_mb']:.0f} MB; run folder {row['disk_mb']:.1f} MB; "
        f"load {row['load']:.1f}"
    )
    if args.extrapolate:
        line += (
            f"; {args.extrapolate} epochs extrapolated: {extrapolated(row, args.epochs, args.extrapolate) / 60:.1f} min"
        )
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=421)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--baseline-ref", default=None, metavar="REV", help="also run the library at revision REV")
    parser.add_argument("--rounds", type=int, default=1, help="runs per side (alternating with --baseline-ref)")
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR", help="copy each run's text files here")
    parser.add_argument("--extrapolate", type=int, default=None, metavar="E", help="print an E-epoch wall estimate")
    args = parser.parse_args()
    runs: dict[str, list[dict[str, float]]] = {"working tree": []}
    with library_at(args.baseline_ref) if args.baseline_ref else nullcontext(None) as baseline:
        sides: list[tuple[str, Path | None]] = [("working tree", None)]
        if args.baseline_ref:
            runs[args.baseline_ref] = []
            sides.append((args.baseline_ref, baseline))
        for round_ in range(args.rounds):
            for name, src in sides if round_ % 2 == 0 else sides[::-1]:
                runs[name].append(one_run(args, src))
                print(f"round {round_}: {show(name, runs[name][-1], args)}", file=sys.stderr, flush=True)
    medians = {name: {k: statistics.median(r[k] for r in rows) for k in rows[0]} for name, rows in runs.items()}
    print(f"{args.epochs} epochs, {args.threads} threads, medians of {args.rounds} run(s) per side")
    for name, row in medians.items():
        print(show(name, row, args))
    if args.baseline_ref:
        new, old = medians["working tree"], medians[args.baseline_ref]
        print(
            f"ratios {args.baseline_ref} / working tree: wall {old['wall_s'] / new['wall_s']:.2f}x, "
            f"peak RSS {old['peak_rss_mb'] / new['peak_rss_mb']:.2f}x, run folder {old['disk_mb'] / new['disk_mb']:.2f}x"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
