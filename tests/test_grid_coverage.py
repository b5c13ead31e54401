"""benchmarks/README.md's grid coverage table is what benchmarks/grid_coverage.py computes from the
committed grid CSVs, the presets and the data folder, so a grid made or a preset written without
updating the table fails here."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.test_benchmark_reports import benchmark_module
from tests.test_readme_tables import readme_rows

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets"
HEADER = "| model | dataset | in workflow | sweep cells | settings run | on 3 seeds | status | choice |"


@pytest.mark.skipif(not (DATA / "tiktok").is_dir(), reason="needs ../shared/datasets (which datasets have features)")
def test_readme_table_is_the_coverage_computed_now() -> None:
    coverage = benchmark_module("grid_coverage")
    table = coverage.coverage(DATA)
    assert readme_rows(HEADER) == [coverage.cells(row) for _, row in table.iterrows()]


def test_statuses_follow_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A pending CSV is `pending`, a grid no preset cites is `made, not written`, a multimodal model on
    a folder without feature files is `no features here`; a chosen grid names its chosen setting."""
    coverage = benchmark_module("grid_coverage")
    monkeypatch.setattr(coverage, "RESULTS", tmp_path)
    (tmp_path / "baby").mkdir()
    base = {"model": "ngcf", "dataset": "sports", "fixed": "", benchmark_module("grid").VAL: 0.08}
    rows = [base | {"seed": s, "setting": "lr=5e-4"} for s in (421, 1, 2)] + [
        base | {"seed": 421, "setting": "lr=1e-3"}
    ]
    pd.DataFrame(rows).to_csv(tmp_path / "grid_ngcf_sports_pending.csv", index=False)
    pending = coverage.coverage_row("ngcf", "sports", 6, tmp_path)
    assert (pending["status"], pending["settings run"], pending["on 3 seeds"]) == ("pending", 2, 1)
    assert coverage.coverage_row("vbpr", "baby", 7, tmp_path)["status"] == "no features here"
    assert coverage.coverage_row("ngcf", "baby", 6, tmp_path)["status"] == "not made"
    chosen = [r | {"chosen": r["setting"] == "lr=5e-4"} for r in rows]
    pd.DataFrame([r | {"dataset": "clothing"} for r in chosen]).to_csv(tmp_path / "grid_ngcf_clothing.csv", index=False)
    unwritten = coverage.coverage_row("ngcf", "clothing", 6, tmp_path)  # ngcf.yaml has no clothing preset
    assert unwritten["status"] == "made, not written"
    pd.DataFrame([r | {"dataset": "baby"} for r in chosen]).to_csv(tmp_path / "grid_ngcf_baby.csv", index=False)
    made = coverage.coverage_row("ngcf", "baby", 6, tmp_path)  # ngcf.yaml's baby preset cites grid_ngcf_baby.csv
    assert (made["status"], made["choice"]) == ("chosen", "lr=5e-4 (0.0800, 3 seeds)")
