"""Where the papers' baseline numbers came from, against the counts in ../shared/reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmdiffbench.experiments import experiment
from mmdiffbench.plan_types import ExperimentPlan, Skipped
from mmdiffbench.report.paper import RESULT_COLUMNS, paper_results
from mmdiffbench.report.provenance import (
    baseline_cells,
    cell_sources,
    provenance_lines,
    row_sources,
    source_values,
    sources,
)
from mmdiffbench.report.reproduction import write_reproduction
from mmdiffbench.report.tables import SOURCE_COLUMN, result_table

MMSSL = "MMSSL's README table (WWW'23)"
MMREC = "MMRec's leaderboard"


def test_sources_are_pinned_and_their_cells_unique() -> None:
    assert all(len(c) == 40 and int(c, 16) >= 0 for c in sources()["commit"])
    values = source_values()
    assert set(values["source"]) == set(sources().index)
    assert not values.duplicated(["source", "dataset_key", "model_key", "metric", "k"]).any()
    # MMSSL prints R/P/N@20 of its 14 baselines on TikTok, Baby, Sports (Allrecipes not kept)
    assert len(values[values.source == "mmssl_readme"]) == 14 * 3 * 3


def test_diffmm_table1_shares_126_of_135_baseline_cells_with_mmssl() -> None:
    """baselines.md: 126 of the 135 baseline cells, every baseline but BM3, equal MMSSL's table."""
    paper = paper_results(experiment("diffmm.table1"))
    assert len(baseline_cells(paper)) == 135  # 15 baselines x 3 datasets x 3 metrics; DiffMM never compared
    found = cell_sources(paper)
    assert (found == MMSSL).sum() == 126
    assert set(paper.loc[found == MMSSL, "model_key"]) == set(paper.model_key) - {"bm3", "diffmm"}
    rows = row_sources(paper)
    assert rows[("tiktok", "lightgcn", "full")] == f"{MMSSL}: 3 of 3 cells"
    assert ("tiktok", "bm3", "full") not in rows and ("tiktok", "diffmm", "full") not in rows
    (line,) = provenance_lines(paper)
    assert line.startswith(f"126 of 135 printed baseline cells equal {MMSSL} (HKUDS/MMSSL README.md @f8d8955;")
    assert line.endswith("rows with none: BM3")


def test_ld4mrec_table2_and_diffcl_table2_against_mmrec() -> None:
    """ld4mrec.md / paper_tables README: MF-BPR and BM3 12 of 12, LightGCN and VBPR 11, MMGCN Baby and
    Sports; DiffCL: SLMRec on Baby and Sports and FREEDOM Baby N@10 only."""
    ld4 = paper_results(experiment("ld4mrec.table2"))
    found = ld4[cell_sources(ld4) == MMREC]
    per_model = found.groupby("model_key").size().to_dict()
    assert per_model == {"mf_bpr": 12, "bm3": 12, "lightgcn": 11, "vbpr": 11, "mmgcn": 8}
    rows = row_sources(ld4)
    assert rows[("sports", "lightgcn", "full")] == f"{MMREC}: 3 of 4 cells"  # N@10: 0.0313 vs MMRec's 0.0311
    assert rows[("elec", "vbpr", "full")] == f"{MMREC}: 3 of 4 cells"  # R@20: 0.0453 vs 0.0458
    # LATTICE on Electronics is a dash in both tables: nothing printed, nothing compared
    assert ("elec", "lattice", "full") not in rows
    assert provenance_lines(ld4)[0].startswith("54 of 116 printed baseline cells")
    dcl = paper_results(experiment("diffcl.table2"))
    found = dcl[cell_sources(dcl) == MMREC]
    assert sorted(zip(found.model_key, found.dataset_key)).count(("slmrec", "baby")) == 4
    assert set(zip(found.model_key, found.dataset_key, found.metric_key)) >= {("freedom", "baby", "ndcg@10")}
    assert len(found) == 9
    assert provenance_lines(paper_results(experiment("diffmm.table2"))) == []  # ablations: no baseline rows


@pytest.fixture()
def table1_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ExperimentPlan:
    monkeypatch.chdir(tmp_path)
    Path("stats.json").write_text(json.dumps({"modalities": {"image": 128, "audio": 128}}))
    skipped = [Skipped("diffmm.table1", "tiktok", m, "full", "not at this scale") for m in ("lightgcn", "bm3")]
    datasets = {"tiktok": {"label": "TikTok", "stats": "stats.json"}}
    return ExperimentPlan("diffmm.table1", "table", "paper", [1], datasets, [], skipped)


def test_tables_and_reproduction_show_the_source(table1_plan: ExperimentPlan, tmp_path: Path) -> None:
    table = result_table(table1_plan)
    assert list(table[SOURCE_COLUMN]) == [f"{MMSSL}: 3 of 3 cells", ""]
    text = write_reproduction([table1_plan], tmp_path / "reproduction.md").read_text()
    assert f"| LightGCN | LightGCN | recall@20 | 0.0653 | {MMSSL} |" in text
    assert "| BM3 | BM3 | recall@20 | 0.0957 |  |" in text
    assert f"The paper's numbers: 126 of 135 printed baseline cells equal {MMSSL}" in text


def test_a_table_no_paper_prints_has_no_source(table1_plan: ExperimentPlan) -> None:
    assert list(paper_results(experiment("diffmm.table1")).columns) == RESULT_COLUMNS
    skipped = [Skipped("bench.diffusion", "tiktok", "lightgcn", "full", "not at this scale")]
    plan = ExperimentPlan("bench.diffusion", "table", "paper", [1], table1_plan.datasets, [], skipped)
    assert paper_results(experiment("bench.diffusion")).empty and list(result_table(plan)[SOURCE_COLUMN]) == [""]
