"""The benchmark's collected run CSVs, as the scripts that read them (claims.py, recall_figure.py)
name and select them: one place for their paths and for which DiffMM rows count."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

RESULTS = Path(__file__).resolve().parent / "results"


def add_run_csv_args(parser: argparse.ArgumentParser) -> None:
    """--per-seed (baselines.py --collect-only's CSV), --diffmm and --diffmm-tag (diffmm_tiktok_accuracy.py's)."""
    parser.add_argument("--per-seed", type=Path, default=RESULTS / "baselines_per_seed.csv")
    parser.add_argument("--diffmm", type=Path, default=RESULTS / "diffmm_tiktok.csv")
    parser.add_argument(
        "--diffmm-tag", default="code_6bfc915_fp32", help="which code's DiffMM seeds (diffmm_tiktok.csv `tag`)"
    )


def diffmm_rows(diffmm: pd.DataFrame, tag: str) -> pd.DataFrame:
    """DiffMM's rows of one code tag under the standard protocol (our evaluation, as every other model's)."""
    rows = diffmm[(diffmm["tag"] == tag) & (diffmm["protocol"] == "standard")]
    if rows.empty:
        raise SystemExit(f"diffmm CSV: no standard-protocol rows tagged {tag!r}")
    return rows
