"""What a planned workflow costs before it starts: training jobs, CPU- or GPU-hours, disk.

The per-job numbers are data, `job_costs.csv` in the package: one row per model x dataset size
(config.yaml `datasets.<name>.size`) x device, with the seconds of one epoch (CPU: core-seconds,
wall x threads; CUDA: GPU-seconds), the epochs a run of it trains, the disk of a finished run
folder and where the numbers come from (`source`; rows not measured from finished jobs say
`estimate`). A job is charged seconds_per_epoch x min(its resolved `epochs`, the row's epochs).
`python -m mmdiffbench.cost_refresh results/<scale>` refreshes the rows from the `benchmark:` TSVs of
that scale's finished training jobs. CSV only: no torch.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from mmdiffbench.plan_types import Run

COSTS_FILE = "job_costs.csv"
FIELDS = ("model", "size", "device", "seconds_per_epoch", "epochs", "disk_mb", "source")


@dataclass(frozen=True)
class JobCost:
    model: str
    size: str  # small | large
    device: str  # cpu | cuda
    seconds_per_epoch: float  # cpu: core-seconds; cuda: GPU-seconds
    epochs: int  # epochs a run trains (measured: median of finished runs; estimate: the config's)
    disk_mb: float | None  # a finished run folder; None = not known
    source: str

    def row(self) -> dict[str, str]:
        row = {k: str(getattr(self, k)) for k in FIELDS}
        row["seconds_per_epoch"] = f"{self.seconds_per_epoch:.3f}"
        row["disk_mb"] = "" if self.disk_mb is None else f"{self.disk_mb:.1f}"
        return row


def costs_path() -> Path:
    return Path(str(resources.files("mmdiffbench") / COSTS_FILE))


def read_costs(path: Path | None = None) -> dict[tuple[str, str, str], JobCost]:
    """(model, size, device) -> its row; a malformed row stops naming the file and line."""
    path = path or costs_path()
    out = {}
    with path.open(newline="") as handle:
        for line, raw in enumerate(csv.DictReader(handle), start=2):
            try:
                cost = JobCost(
                    raw["model"],
                    raw["size"],
                    raw["device"],
                    float(raw["seconds_per_epoch"]),
                    int(raw["epochs"]),
                    float(raw["disk_mb"]) if raw["disk_mb"] else None,
                    raw["source"],
                )
            except (KeyError, TypeError, ValueError) as err:
                raise ValueError(f"{path}:{line}: expected the columns {', '.join(FIELDS)} ({err})") from None
            out[(cost.model, cost.size, cost.device)] = cost
    return out


def write_costs(costs: Iterable[JobCost], path: Path | None = None) -> Path:
    path = path or costs_path()
    rows = sorted(costs, key=lambda c: (c.model, c.size, c.device))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(c.row() for c in rows)
    return path


@dataclass
class Estimate:
    device: str
    jobs: int = 0  # planned training jobs
    finished: int = 0  # of them, with a metrics.json already (not counted below)
    seconds: float = 0.0  # core-seconds (cpu) or GPU-seconds (cuda) of the jobs with a row
    disk_mb: float = 0.0
    no_time: list[str] = field(default_factory=list)  # model/size of jobs without a row
    no_disk: int = 0

    def line(self, cores: int | None = None) -> str:
        """One line for the start of a workflow call; `cores` > 1 adds the wall time if they stay busy."""
        hours = self.seconds / 3600
        todo = self.jobs - self.finished
        if todo and len(self.no_time) == todo:
            spend = f"{'GPU' if self.device == 'cuda' else 'CPU'}-hours unknown"
        elif self.device == "cuda":
            spend = f"about {hours:.1f} GPU-hours"
        else:
            wall = f" ({hours / cores:.1f} h on {cores} cores kept busy)" if cores and cores > 1 else ""
            spend = f"about {hours:.1f} CPU-hours{wall}"
        done = f" ({self.finished} finished already)" if self.finished else ""
        text = f"{self.jobs} training job(s) planned{done}; the {todo} to run: {spend}, {self.disk_mb / 1024:.1f} GB"
        gaps = []
        if self.no_time:
            kinds = sorted(set(self.no_time))
            shown = ", ".join(kinds[:4]) + (f" and {len(kinds) - 4} more" if len(kinds) > 4 else "")
            gaps.append(f"no {self.device} time known for {len(self.no_time)} of them ({shown})")
        if self.no_disk:
            gaps.append(f"no disk known for {self.no_disk}")
        unknown = f"; {'; '.join(gaps)}" if gaps else ""
        return f"{text} (an estimate from {COSTS_FILE}{unknown})"


def estimate(
    runs: Iterable[Run],
    sizes: dict[str, str],
    device: str,
    costs: dict[tuple[str, str, str], JobCost] | None = None,
    base: Path | str = ".",
) -> Estimate:
    """The cost of the `runs` not finished yet (no metrics.json under `base`); `sizes`: dataset -> small | large."""
    costs = read_costs() if costs is None else costs
    out = Estimate(device)
    for run in runs:
        out.jobs += 1
        if (Path(base) / run.run_dir / "metrics.json").is_file():
            out.finished += 1
            continue
        size = sizes[run.dataset]
        row = costs.get((run.model, size, device))
        if row is None:
            out.no_time.append(f"{run.model}/{size}")
        else:
            out.seconds += row.seconds_per_epoch * min(run.epochs, row.epochs)
        # a run folder holds the same files on any device: another device's row gives its disk
        rows = [row] + [c for c in costs.values() if (c.model, c.size) == (run.model, size)]
        disk = next((c.disk_mb for c in rows if c is not None and c.disk_mb is not None), None)
        if disk is None:
            out.no_disk += 1
        else:
            out.disk_mb += disk
    return out
