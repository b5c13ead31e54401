"""Validation grid of one model on one dataset: one run per setting, chosen on validation only.

Each grid cell is an ordinary `mmdiffbench train` run (`--set key=value ...`), selected on the
validation split as every run is. The CSV lists per cell the best validation Recall@20 (what
chooses) and the test Recall@20 at that epoch, in a column that says it chose nothing. With
`--write` the chosen setting goes into the model's YAML `presets.<dataset>` (comments kept), with
every cell's validation score and this CSV named above it in lines marked `benchmarks/grid.py`,
which a later `--write` of the same grid replaces.

    python benchmarks/grid.py --model diffrec --dataset tiktok --grid lr=5e-5,1e-4,5e-4,1e-3

Cells run as separate jobs (one `--grid` value each, their own `--out`) join into one table with
`--merge THEIR_CSVS --model diffrec --dataset tiktok`: the choice is made again over all of them.
A setting run again on more seeds (`--seed`: the finalists of a one-seed grid) makes the choice one
among the settings run on the most seeds, on their mean validation score, as `mmdiffbench tune
choose` does, where a cell missing a seed does not compete.

A grid whose cells are not all in yet is kept with `--merge ... --pending`: the cells so far in
`grid_<model>_<dataset>_pending.csv`, without a `chosen` column (an unfinished grid chooses nothing),
so that finished runs are recorded (run_records.py) while the rest runs; the finished grid is merged
from that CSV and the new cells' CSVs, and the pending CSV deleted.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from baselines import provenance, run_one

from mmdiffbench.config import ConfigError
from mmdiffbench.tuning.presets import check_keys, model_yaml, set_preset

CHOICE_METRIC = "recall@20"


def grid_settings(axes: list[str]) -> list[tuple[str, ...]]:
    """`["lr=1e-3,1e-4", "l2=0,1e-4"]` -> every combination as `("lr=1e-3", "l2=0")` tuples."""
    parsed = []
    for axis in axes:
        key, _, values = axis.partition("=")
        if not key or not values:
            raise SystemExit(f"--grid takes key=v1,v2,...; got {axis!r}")
        parsed.append([f"{key}={value}" for value in values.split(",")])
    return list(itertools.product(*parsed))


def cell_name(setting: tuple[str, ...]) -> str:
    return "_".join(part.replace("=", "_") for part in setting)


VAL = f"val {CHOICE_METRIC} (chooses)"


def setting_scores(table: pd.DataFrame) -> pd.DataFrame:
    """Per setting (in the table's order): its number of seeds, mean validation score, and whether it
    competes. Only the settings run on the most seeds compete, as in `mmdiffbench tune choose`, where
    a cell missing a seed does not: finalists run again on more seeds are chosen among on their mean."""
    scores = table.groupby("setting", sort=False)[VAL].agg(seeds="count", mean="mean")
    return scores.assign(competes=scores["seeds"] == scores["seeds"].max())


def with_choice(table: pd.DataFrame) -> pd.DataFrame:
    """The table with `chosen` marking the rows of the competing setting of best mean validation score
    (test never looks)."""
    scores = setting_scores(table)
    best = scores.loc[scores["competes"], "mean"].idxmax()
    return table.assign(chosen=table["setting"] == best)


def merged(tables: list[pd.DataFrame], model: str, dataset: str) -> pd.DataFrame:
    """Grid CSVs of one model and dataset as one table (a cell run again: its last row), chosen anew."""
    table = pd.concat(tables, ignore_index=True).drop(columns="chosen", errors="ignore")  # a pending CSV has none
    foreign = table[(table["model"] != model) | (table["dataset"] != dataset)]
    if not foreign.empty:
        raise SystemExit(
            f"--merge: rows of {sorted(set(foreign['model'] + '/' + foreign['dataset']))}, not {model}/{dataset}"
        )
    table = table.drop_duplicates(subset=["seed", "setting", "fixed"], keep="last").reset_index(drop=True)
    return with_choice(table)


MARKER = "benchmarks/grid.py"
CELLS_PER_LINE = 4


def setting_values(model: str, setting: str) -> dict[str, Any]:
    """`"n_layers=2 reg_weight=1e-2"` as typed values, checked against the model's settings."""
    parsed = {key: yaml.safe_load(value) for key, _, value in (part.partition("=") for part in setting.split())}
    try:
        return check_keys(model, parsed)
    except ConfigError as err:
        raise SystemExit(str(err)) from None


def preset_comments(table: pd.DataFrame, csv: Path) -> list[str]:
    """What chose and how every cell scored, best first, each line marked for a later rewrite."""
    seeds = ", ".join(str(s) for s in sorted(set(table["seed"])))
    fixed = " ".join(sorted(set(table["fixed"].dropna().astype(str)) - {""}))
    scores = setting_scores(table)
    several = scores["seeds"].max() > 1
    rule = f"; mean over seeds of the settings run on {scores['seeds'].max()}" if several else ""
    head = f"{MARKER}: chosen on VALIDATION {CHOICE_METRIC} (seed {seeds}{rule}{'; ' + fixed if fixed else ''}; {csv}), test not used"
    ranked = scores.sort_values(["competes", "mean"], ascending=False)
    cells = [
        f"{setting}: {row['mean']:.4f}"
        + (f" ({row['seeds']} seed{'s' if row['seeds'] > 1 else ''})" if several else "")
        for setting, row in ranked.iterrows()
    ]
    lines = [" | ".join(cells[i : i + CELLS_PER_LINE]) for i in range(0, len(cells), CELLS_PER_LINE)]
    return [head, *(f"{MARKER}: {line}" for line in lines)]


def tuned_here(model: str, dataset: str) -> bool:
    """Whether the model's YAML presets cite its validation grid on `dataset` (whose choice the preset
    holds, tests/test_benchmark_reports.py checks): its rows there run at a setting tuned there."""
    path = model_yaml(model)
    return path.is_file() and f"benchmarks/results/grid_{model}_{dataset}.csv" in path.read_text()


def write_preset(table: pd.DataFrame, model: str, dataset: str, csv: Path) -> Path:
    """The chosen cell's setting into `presets.<dataset>` of the model's YAML."""
    chosen = table[table["chosen"]].iloc[0]
    path = model_yaml(model)
    text = path.read_text()
    path.write_text(
        set_preset(
            text, dataset, setting_values(model, chosen["setting"]), preset_comments(table, csv), MARKER, str(path)
        )
    )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "datasets")
    parser.add_argument("--runs", type=Path, default=Path("benchmarks/train/grid"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--dataset", default="tiktok")
    cells = parser.add_mutually_exclusive_group(required=True)
    cells.add_argument("--grid", nargs="+", help="key=v1,v2,... (one per axis)")
    cells.add_argument("--merge", nargs="+", type=Path, help="grid CSVs of cells run apart: one table, chosen anew")
    parser.add_argument("--fixed", nargs="*", default=[], help="key=value set in every cell (e.g. an epoch cap)")
    parser.add_argument("--seed", type=int, default=421)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--write", action="store_true", help="write the chosen setting into the model's presets")
    parser.add_argument("--pending", action="store_true", help="with --merge: cells of an unfinished grid, no choice")
    args = parser.parse_args()
    if args.pending and (args.write or not args.merge):
        parser.error("--pending keeps the cells merged so far: it needs --merge and chooses nothing to --write")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"grid_{args.model}_{args.dataset}{'_pending' * args.pending}.csv"
    if args.merge:
        table = merged([pd.read_csv(path) for path in args.merge], args.model, args.dataset)
        if args.pending:
            table = table.drop(columns="chosen")
        table.to_csv(out, index=False, float_format="%.5f")
    else:
        table = run_cells(args, out)
    print(table.to_string(index=False))
    if args.write:
        print(f"wrote presets.{args.dataset} of {write_preset(table, args.model, args.dataset, out)}")


def run_cells(args: argparse.Namespace, out: Path) -> pd.DataFrame:
    """Every cell of `--grid`, one run each, the table rewritten to `out` after each (a killed grid keeps its cells)."""
    rows = []
    for setting in grid_settings(args.grid):
        run_dir = args.runs / args.dataset / args.model / cell_name(setting) / f"seed{args.seed}"
        metrics = run_one(
            args.data, args.dataset, args.model, args.seed, run_dir, args.threads, (*setting, *args.fixed)
        )
        rows.append(
            {
                "model": args.model,
                "dataset": args.dataset,
                "seed": args.seed,
                "setting": " ".join(setting),
                "fixed": " ".join(args.fixed),
                VAL: metrics["val"][CHOICE_METRIC],
                "selected_epoch": metrics["selected_epoch"],
                "epochs_run": metrics["epochs_run"],
                f"test {CHOICE_METRIC} at that epoch (not used for the choice)": metrics["test"][CHOICE_METRIC],
                "run_dir": str(run_dir.resolve()),  # a cell reusing an earlier run through a link names where it lives
                **provenance(metrics),
            }
        )
        table = with_choice(pd.DataFrame(rows))
        table.to_csv(out, index=False, float_format="%.5f")
    return table


if __name__ == "__main__":
    main()
