"""Keep the small files of the runs behind the results CSVs in the repository, so that every number
can be checked against its run: the resolved settings (config.json), every epoch's losses and
validation and test scores (history.csv), and what the run selected (metrics.json). Run folders
themselves live outside the repository (their checkpoints and model.pt are large); these three
files are a few kB to a few hundred kB per run.

For every `run_dir` named in the given CSVs (baselines.py's per-seed CSV, grid.py's grid CSVs) that
still exists under `--runs-root`, its record is copied to `results/runs/<run_dir relative to the
root>/`; run folders that are gone are counted and left out. Idempotent: run it after each collect.

    python benchmarks/run_records.py --runs-root /work/runs \\
        benchmarks/results/baselines_per_seed.csv benchmarks/results/grid_ngcf_baby.csv

tests/test_run_records.py checks each kept record against the CSV rows that name it and against
its own history (the selected epoch is the validation argmax, the paper's epoch the test argmax).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import pandas as pd

RECORDS = Path(__file__).resolve().parent / "results" / "runs"
RECORD_FILES = ("config.json", "history.csv", "metrics.json")


def record_path(run_dir: Path, runs_root: Path, records: Path = RECORDS) -> Path:
    """Where the record of `run_dir` goes: its path below `runs_root`, below `records`."""
    try:
        return records / run_dir.resolve().relative_to(runs_root.resolve())
    except ValueError:
        raise SystemExit(f"{run_dir} is not below --runs-root {runs_root}") from None


def keep(run_dir: Path, runs_root: Path, records: Path = RECORDS) -> Path:
    """Copy the record files of one finished run; returns the record's folder."""
    target = record_path(run_dir, runs_root, records)
    target.mkdir(parents=True, exist_ok=True)
    for name in RECORD_FILES:
        shutil.copyfile(run_dir / name, target / name)
    return target


def run_dirs_of(csvs: list[Path]) -> list[Path]:
    """The distinct `run_dir` values of the CSVs, in order of first appearance."""
    seen: dict[str, None] = {}
    for csv in csvs:
        table = pd.read_csv(csv)
        if "run_dir" not in table.columns:
            raise SystemExit(f"{csv}: no run_dir column")
        seen.update(dict.fromkeys(table["run_dir"].dropna().astype(str)))
    return [Path(path) for path in seen]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csvs", nargs="+", type=Path, help="results CSVs with a run_dir column")
    parser.add_argument("--runs-root", type=Path, required=True, help="the folder the run_dir paths are below")
    parser.add_argument("--records", type=Path, default=RECORDS)
    args = parser.parse_args()
    kept, gone = 0, 0
    for run_dir in run_dirs_of(args.csvs):
        if not (run_dir / "metrics.json").is_file():
            gone += 1
            continue
        print(f"kept {keep(run_dir, args.runs_root, args.records)}")
        kept += 1
    print(f"{kept} records kept; {gone} run folders named in the CSVs are not on this machine (left out)")


if __name__ == "__main__":
    main()
