"""Refresh job_costs.csv (mmdiffbench.costs) from the training jobs a workflow has finished.

    python -m mmdiffbench.cost_refresh results/paper [--config config.yaml] [--costs FILE]

For every `benchmarks/train/<dataset>/<model>/<run>/seed<seed>.tsv` that Snakemake's
`benchmark:` directive wrote under the scale's tree and whose run folder has a metrics.json, one
measurement: seconds per epoch = the job's wall seconds / the epochs it trained (start-up and
checkpoint writes included, spread over the epochs; on CPU times the TSV's cpu_time / s, i.e.
core-seconds), the epochs it trained when it stopped early (else the row keeps its epochs), and
the run folder's size. Per model x dataset size x device the medians replace the row; rows
without new measurements stay. Refresh from full-length runs: 2-epoch smoke runs overstate the
time of an epoch by their start-up.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from dataclasses import dataclass
from pathlib import Path

import yaml

from mmdiffbench.costs import JobCost, costs_path, read_costs, write_costs


@dataclass(frozen=True)
class Measured:
    """One finished training job."""

    device: str  # cpu | cuda
    seconds_per_epoch: float
    trained: int  # epochs it trained
    early: bool  # stopped before its `epochs`
    disk_mb: float


def _measure(tsv: Path, run: Path) -> Measured | None:
    """The job of one benchmark TSV, from the TSV and its run folder; None while it has not finished."""
    if not (run / "metrics.json").is_file() or not (run / "history.csv").is_file():
        return None
    with tsv.open(newline="") as handle:
        bench = next(csv.DictReader(handle, delimiter="\t"))
    config = json.loads((run / "config.json").read_text())
    with (run / "history.csv").open(newline="") as handle:
        trained = sum(1 for _ in csv.DictReader(handle))
    wall, cpu = float(bench["s"]), float(bench.get("cpu_time") or 0)
    per_epoch = wall / max(trained, 1)
    on_cpu = not str(config.get("device", "cpu")).startswith("cuda")
    return Measured(
        "cpu" if on_cpu else "cuda",
        per_epoch * (cpu / wall if on_cpu and cpu > 0 and wall > 0 else 1.0),
        trained,
        trained < int(config["trainer"]["epochs"]),
        sum(p.stat().st_size for p in run.rglob("*") if p.is_file()) / 2**20,
    )


def refresh(scale_tree: Path, sizes: dict[str, str], costs: dict[tuple[str, str, str], JobCost]) -> list[JobCost]:
    """The rows of `costs`, those with finished jobs under `scale_tree` replaced by their medians."""
    found: dict[tuple[str, str, str], list[Measured]] = {}
    for tsv in sorted((scale_tree / "benchmarks" / "train").glob("*/*/*/seed*.tsv")):
        dataset, model, name = tsv.parts[-4:-1]
        measured = _measure(tsv, scale_tree / "runs" / dataset / model / name / tsv.stem)
        if measured is not None and dataset in sizes:
            found.setdefault((model, sizes[dataset], measured.device), []).append(measured)
    out = dict(costs)
    for (model, size, device), jobs in found.items():
        old = costs.get((model, size, device))
        early = [j.trained for j in jobs if j.early]
        epochs = int(statistics.median(early)) if early else (old.epochs if old else max(j.trained for j in jobs))
        out[(model, size, device)] = JobCost(
            model,
            size,
            device,
            statistics.median(j.seconds_per_epoch for j in jobs),
            epochs,
            statistics.median(j.disk_mb for j in jobs),
            f"measured: {len(jobs)} finished job(s) under {scale_tree}",
        )
    return list(out.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh job_costs.csv from the benchmark TSVs of finished jobs.")
    parser.add_argument("scale_tree", type=Path, help="a scale's tree, e.g. results/paper")
    parser.add_argument("--config", type=Path, default=Path("config.yaml"), help="the workflow config (dataset sizes)")
    parser.add_argument("--costs", type=Path, default=None, help="the file to refresh (default: the package's)")
    args = parser.parse_args(argv)
    if not (args.scale_tree / "benchmarks" / "train").is_dir():
        parser.error(f"{args.scale_tree}: no benchmarks/train/ folder (a scale's tree after a run, e.g. results/paper)")
    datasets = yaml.safe_load(args.config.read_text())["datasets"]
    sizes = {name: info.get("size", "large") for name, info in datasets.items()}
    path = args.costs or costs_path()
    rows = refresh(args.scale_tree, sizes, read_costs(path))
    print(f"wrote {write_costs(rows, path)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
