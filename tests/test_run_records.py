"""The run records kept under benchmarks/results/runs (benchmarks/run_records.py): each is a finished
run whose own history.csv gives the numbers its metrics.json reports (recomputed here: the selected
epoch is the first validation argmax, the paper's epoch the first test argmax), whose config.json
holds the setting its grid row names, and whose metrics.json gives the numbers of every results-CSV
row that names it."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
RECORDS = RESULTS / "runs"
RECORD_IDS = sorted(str(path.parent.relative_to(RECORDS)) for path in RECORDS.rglob("metrics.json"))
GRID_VAL = "val recall@20 (chooses)"
GRID_TEST = "test recall@20 at that epoch (not used for the choice)"
METRICS = ("recall@20", "ndcg@20", "recall@10", "ndcg@10")


def read(record: str, name: str) -> Any:
    path = RECORDS / record / name
    return pd.read_csv(path) if name.endswith(".csv") else json.loads(path.read_text())


@cache
def results_csvs() -> list[tuple[str, pd.DataFrame]]:
    """(file name, table) of the per-seed CSV, every grid CSV and every same_numbers.py --runs CSV,
    read once for all records."""
    csvs = [RESULTS / "baselines_per_seed.csv", *sorted(RESULTS.glob("grid_*.csv"))]
    return [(csv.name, pd.read_csv(csv)) for csv in [*csvs, *sorted(RESULTS.glob("same_numbers_*.csv"))]]


def rows_naming(record: str) -> list[tuple[str, pd.Series]]:
    """(CSV file name, row) of every results-CSV row whose run_dir is this record's run folder."""
    return [
        (name, row)
        for name, table in results_csvs()
        for _, row in table[table["run_dir"].astype(str).str.endswith("/" + record)].iterrows()
    ]


def test_records_are_kept() -> None:
    assert RECORD_IDS, "benchmarks/results/runs holds no run record"


@pytest.mark.parametrize("record", RECORD_IDS)
def test_metrics_are_the_history_read_under_both_protocols(record: str) -> None:
    metrics, history = read(record, "metrics.json"), read(record, "history.csv")
    metric = metrics["selection"]["metric"]
    evaluated = history[history[f"val_{metric}"].notna()].reset_index(drop=True)
    by_val = evaluated.iloc[int(evaluated[f"val_{metric}"].to_numpy().argmax())]  # first of ties
    by_test = evaluated.iloc[int(evaluated[f"test_{metric}"].to_numpy().argmax())]
    assert metrics["selected_epoch"] == by_val["epoch"]
    assert metrics["paper_protocol"]["epoch"] == by_test["epoch"]
    assert metrics["epochs_run"] == len(history)
    for name in METRICS:
        assert metrics["val"][name] == pytest.approx(by_val[f"val_{name}"], rel=1e-12)
        assert metrics["test"][name] == pytest.approx(by_val[f"test_{name}"], rel=1e-12)
        assert metrics["paper_protocol"]["test"][name] == pytest.approx(by_test[f"test_{name}"], rel=1e-12)


@pytest.mark.parametrize("record", RECORD_IDS)
def test_every_results_row_naming_a_record_has_its_numbers(record: str) -> None:
    metrics, config = read(record, "metrics.json"), read(record, "config.json")
    assert (config["model_name"], config["dataset"], config["seed"]) == (
        metrics["model"],
        metrics["dataset"],
        metrics["seed"],
    )
    rows = rows_naming(record)
    assert rows, f"no results CSV names the record {record}"
    for csv, row in rows:
        assert (row["model"], row["dataset"], row["seed"]) == (metrics["model"], metrics["dataset"], metrics["seed"])
        if csv == "baselines_per_seed.csv":
            chosen = metrics if row["protocol"] == "validation-selected" else metrics["paper_protocol"]
            epoch = metrics["selected_epoch"] if chosen is metrics else chosen["epoch"]
            assert row["epoch"] == epoch and row["epochs_run"] == metrics["epochs_run"]
            for name in METRICS:
                assert row[name] == pytest.approx(chosen["test"][name], rel=1e-12), (csv, name)
        elif csv.startswith("same_numbers_"):  # what each compared run's records say
            assert row["code"] == metrics["git_commit"] and row["peak_rss_mib"] == metrics["peak_rss_mb"]
            assert (row["selected_epoch"], row["epochs_run"]) == (metrics["selected_epoch"], metrics["epochs_run"])
        else:  # grid CSVs are written with 5 decimals
            assert row[GRID_VAL] == pytest.approx(metrics["val"]["recall@20"], abs=5e-6)
            assert row[GRID_TEST] == pytest.approx(metrics["test"]["recall@20"], abs=5e-6)
            assert (row["selected_epoch"], row["epochs_run"]) == (metrics["selected_epoch"], metrics["epochs_run"])
            for part in row["setting"].split():
                key, _, value = part.partition("=")
                section = "model" if key in config["model"] else "trainer"
                found, expected = config[section][key], yaml.safe_load(value)
                assert found == (float(expected) if isinstance(found, float) else expected), (csv, key)
