"""`mmdiffbench report PLAN.json ... --out-dir DIR | --reproduction FILE` (called by the workflow).

Each plan file (results/<scale>/plan/<registry key>.json, written by the workflow) names the
experiment's cells, their run folders, and the cells left out with reasons. With --out-dir
the experiment's table (CSV + PNG) or figure (PNG + PDF + CSV) is written there; with
--reproduction, results/<scale>/reproduction.md from all the plans given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="tables, figures and reproduction.md from workflow plan files")
    report.add_argument("plans", nargs="+", type=Path, help="results/<scale>/plan/<experiment>.json files")
    target = report.add_mutually_exclusive_group(required=True)
    target.add_argument("--out-dir", type=Path, help="write each plan's table or figure here")
    target.add_argument("--reproduction", type=Path, help="write the reproduction summary (markdown) here")


def report_command(args: argparse.Namespace) -> int:
    from mmdiffbench.experiments import experiment
    from mmdiffbench.plan_types import ExperimentPlan
    from mmdiffbench.report.figures import write_figure
    from mmdiffbench.report.reproduction import write_reproduction
    from mmdiffbench.report.tables import write_table

    plans = [ExperimentPlan.from_json(path.read_text()) for path in args.plans]
    for plan in plans:
        for skipped in plan.skipped:
            print(f"left out: {skipped.line()}", file=sys.stderr)
    if args.reproduction:
        print(f"wrote {write_reproduction(plans, args.reproduction)}")
        return 0
    for plan in plans:
        written: tuple[Path, ...] = (
            (write_figure(plan, args.out_dir),) if experiment(plan.name).is_figure else write_table(plan, args.out_dir)
        )
        print("wrote " + ", ".join(map(str, written)))
    return 0
