"""`mmdiffbench tune choose results/paper/plan/tune.<model>.json [--dataset D] [--root DIR] [--write]`.

Reads the grid's finished runs (the plan file names them, as the report does), prints per dataset
the setting with the best mean validation score and the `presets.<dataset>` lines that hold it;
with --write, edits the model YAML in place (comments kept). Refuses plans of a smoke scale and
grids with unfinished runs: a choice from a part of the grid would not be the grid's.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_tune_parser(sub: argparse._SubParsersAction) -> None:
    tune = sub.add_parser("tune", help="choose a model's hyper-parameters from its validation grid (tune.<model>)")
    tune_sub = tune.add_subparsers(dest="tune_command", required=True)
    choose = tune_sub.add_parser("choose", help="the best validation setting per dataset, as preset lines")
    choose.add_argument("plan", type=Path, help="results/paper/plan/tune.<model>.json (written by the workflow)")
    choose.add_argument("--dataset", action="append", default=None, help="only this dataset (repeatable)")
    choose.add_argument("--root", type=Path, default=Path("."), help="the folder the workflow ran in (default: .)")
    choose.add_argument("--write", action="store_true", help="write the presets into the model YAML")


def tune_command(args: argparse.Namespace) -> int:
    from mmdiffbench.collect import tidy_splits
    from mmdiffbench.experiments import experiment
    from mmdiffbench.plan_types import ExperimentPlan
    from mmdiffbench.tuning import TuningError
    from mmdiffbench.tuning.grid import choices, grid_table
    from mmdiffbench.tuning.presets import check_keys, model_yaml, preset_entry, set_preset

    plan = ExperimentPlan.from_json(args.plan.read_text())
    if experiment(plan.name).kind != "tuning":
        raise TuningError(f"{args.plan}: {plan.name} is not a tuning experiment (tune.<model>)")
    if plan.smoke:
        raise TuningError(
            f"{plan.name}: the plan is of the smoke scale {plan.scale!r} (runs cut short): it chooses nothing"
        )
    wanted = args.dataset or list(dict.fromkeys(c.dataset for c in plan.cells))
    plan.cells = [c for c in plan.cells if c.dataset in wanted]
    if not plan.cells:
        raise TuningError(f"{plan.name}: no grid cell planned on {', '.join(wanted)}")
    runs = [(variant, args.root / path) for variant, path in plan.cell_metrics()]
    paths = list(dict.fromkeys(path for _, path in runs))
    missing = [path for path in paths if not path.is_file()]
    if missing:
        raise TuningError(f"{plan.name}: {len(missing)} of {len(paths)} grid runs not finished (first: {missing[0]})")
    for choice in choices(plan, grid_table(plan, tidy_splits(runs))):
        check_keys(choice.model, choice.params)
        path = model_yaml(choice.model)
        text = path.read_text()
        setting = ", ".join(f"{k}={v}" for k, v in choice.params.items())
        print(f"{plan.name} on {choice.dataset}: {setting}: {choice.summary()}")
        if args.write:
            path.write_text(set_preset(text, choice.dataset, choice.params, choice.comment(), plan.name, str(path)))
            print(f"wrote presets.{choice.dataset} of {path}")
        else:
            print(f"presets.{choice.dataset} in {path} (or run with --write):")
            print("\n".join(preset_entry(text, choice.dataset, choice.params, choice.comment(), plan.name, str(path))))
    return 0
