"""Report tables from hand-made metrics.json files, compared with hand-computed numbers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from mmdiffbench.collect import mean_pm_std, summarize, tidy_groups, tidy_metrics
from mmdiffbench.experiments import experiment, registry
from mmdiffbench.plan_types import Cell, ExperimentPlan, Skipped
from mmdiffbench.report import tables
from mmdiffbench.report.labels import SMOKE_STATUS
from mmdiffbench.report.paper import load_paper_table, paper_column, paper_modalities, paper_results
from mmdiffbench.report.reproduction import within, write_reproduction
from mmdiffbench.report.tables import (
    datasets_table,
    display_frame,
    mean_col,
    result_table,
    std_col,
    table_figure,
    write_table,
)

WO_DM = next(c for c in experiment("diffmm.table2").cells if c.variant == "wo_dm")

# recall@20 / ndcg@20 per seed under each protocol (validation-selected, best test epoch)
VALUES = {
    ("full", 1): {"val": (0.10, 0.040), "best": (0.11, 0.045)},
    ("full", 2): {"val": (0.12, 0.050), "best": (0.12, 0.050)},
    ("full", 3): {"val": (0.14, 0.060), "best": (0.16, 0.061)},
    ("wo_cl", 1): {"val": (0.09, 0.030), "best": (0.095, 0.031)},
    ("wo_cl", 2): {"val": (0.08, 0.020), "best": (0.085, 0.022)},
    ("wo_cl", 3): {"val": (0.10, 0.040), "best": (0.105, 0.041)},
}


def _metrics(variant: str, seed: int) -> dict:
    v = VALUES[(variant, seed)]
    groups = {
        "0-5": {"n_users": 10, "recall@20": v["val"][0] / 2, "ndcg@20": v["val"][1] / 2},
        "6+": {"n_users": 5, "recall@20": v["val"][0] * 2, "ndcg@20": v["val"][1] * 2},
    }
    return {
        "model": "diffmm",
        "variant": "full",  # the library variant; the report reads the workflow's name
        "workflow_variant": variant,
        "dataset": "tiktok",
        "seed": seed,
        "selected_epoch": 7,
        "test": {"recall@20": v["val"][0], "ndcg@20": v["val"][1], "precision@20": 0.005},
        "test_groups": groups,
        "paper_protocol": {
            "epoch": 9,
            "test": {"recall@20": v["best"][0], "ndcg@20": v["best"][1], "precision@20": 0.006},
            "test_groups": groups,
        },
    }


@pytest.fixture()
def plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ExperimentPlan:
    monkeypatch.chdir(tmp_path)
    Path("stats.json").write_text(json.dumps({"modalities": {"image": 128, "audio": 128}}))
    cells = []
    for variant in ("full", "wo_cl"):
        dirs = []
        for seed in (1, 2, 3):
            run = Path(f"results/paper/runs/tiktok/diffmm/{variant}/seed{seed}")
            run.mkdir(parents=True)
            (run / "metrics.json").write_text(json.dumps(_metrics(variant, seed)))
            dirs.append(str(run))
        cells.append(Cell("diffmm.table2", "tiktok", "diffmm", variant, variant, [], dirs))
    skipped = [Skipped("diffmm.table2", "tiktok", "diffmm", "wo_dm", "a reason given by the plan", note=WO_DM.note)]
    datasets = {"tiktok": {"label": "TikTok", "stats": "stats.json"}}
    return ExperimentPlan("diffmm.table2", "table", "paper", [1, 2, 3], datasets, cells, skipped)


def test_tidy_and_summary_match_hand_computation(plan: ExperimentPlan) -> None:
    tidy = tidy_metrics(plan.cell_metrics())
    assert len(tidy) == 6 * 2 * 3  # runs x protocols x metrics
    summary = summarize(tidy)
    row = summary[
        (summary.variant == "full") & (summary.protocol == "val_selected") & (summary.metric == "recall@20")
    ].iloc[0]
    # mean(0.10, 0.12, 0.14) = 0.12; sample std = sqrt(((-.02)^2 + 0 + .02^2) / 2) = 0.02
    assert row["mean"] == pytest.approx(0.12)
    assert row["std"] == pytest.approx(0.02)
    assert row["n_seeds"] == 3
    row = summary[
        (summary.variant == "full") & (summary.protocol == "best_test_epoch") & (summary.metric == "recall@20")
    ].iloc[0]
    # mean(0.11, 0.12, 0.16) = 0.13; std = sqrt((0.0004 + 0.0001 + 0.0009) / 2) = sqrt(0.0007)
    assert row["mean"] == pytest.approx(0.13)
    assert row["std"] == pytest.approx(math.sqrt(0.0007))


def test_cells_sharing_a_run_each_get_its_row(plan: ExperimentPlan) -> None:
    # a cell whose settings resolve to full's is planned onto full's runs (run = "full")
    full = plan.cells[0]
    plan.cells.append(Cell("diffmm.table2", "tiktok", "diffmm", "same_as_full", "full", [], full.run_dirs, run="full"))
    table = result_table(plan).set_index("variant")
    assert table.loc["same_as_full", "status"] == "ok"
    for protocol in ("val_selected", "best_test_epoch"):
        column = mean_col("recall@20", protocol)
        assert table.loc["same_as_full", column] == table.loc["full", column]
    assert table.loc["same_as_full", mean_col("recall@20", "val_selected")] == pytest.approx(0.12)
    assert len(plan.metrics_paths()) == 6  # the workflow asks for each shared metrics.json once


def test_ablation_table_has_both_protocols_and_paper_columns(plan: ExperimentPlan) -> None:
    table = result_table(plan)
    assert list(table["variant"]) == ["full", "wo_cl", "wo_dm"]
    assert list(table["label"]) == ["DiffMM", "w/o CL", "w/o DM"]  # the paper's row labels
    full = table.iloc[0]
    assert full[mean_col("ndcg@20", "val_selected")] == pytest.approx(0.05)
    assert full[std_col("ndcg@20", "val_selected")] == pytest.approx(0.01)
    assert full[mean_col("ndcg@20", "best_test_epoch")] == pytest.approx((0.045 + 0.050 + 0.061) / 3)
    wo_cl = table.iloc[1]
    assert wo_cl[mean_col("recall@20", "val_selected")] == pytest.approx(0.09)
    assert wo_cl[std_col("recall@20", "val_selected")] == pytest.approx(0.01)
    # the paper's numbers, in columns named as the paper's (DiffMM Table 2, TikTok)
    assert full["paper Recall@20"] == pytest.approx(0.1129)
    assert full["paper NDCG@20"] == pytest.approx(0.0456)
    assert wo_cl["paper Recall@20"] == pytest.approx(0.1026)
    assert table.iloc[2]["status"] == "left out: a reason given by the plan"
    assert math.isnan(table.iloc[2][mean_col("recall@20", "val_selected")])
    # every TikTok row compared with the paper says ours has two modalities, the paper's three
    ran = table[table["status"] == "ok"]
    assert len(ran) == 2 and all("ours image+audio (2; text absent" in n and "(3)" in n for n in ran["note"])
    # the w/o DM row says that it has no MSI loss either (left out here: only that note)
    assert table.iloc[2]["note"] == WO_DM.note and "drops the MSI loss" in WO_DM.note
    assert "MSI" not in table.iloc[1]["note"]


def test_write_table_files(plan: ExperimentPlan, tmp_path: Path) -> None:
    csv, png = write_table(plan, tmp_path / "tables")
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"
    frame = pd.read_csv(csv)
    assert frame.loc[0, "recall@20 mean [val_selected]"] == pytest.approx(0.12)


def test_groups_tidy(plan: ExperimentPlan) -> None:
    groups = summarize(tidy_groups(plan.cell_metrics()), ["variant", "protocol", "group", "metric"])
    row = groups[
        (groups.variant == "full")
        & (groups.protocol == "val_selected")
        & (groups.group == "6+")
        & (groups.metric == "recall@20")
    ].iloc[0]
    assert row["mean"] == pytest.approx(0.24)


def test_reproduction_markdown(plan: ExperimentPlan, tmp_path: Path) -> None:
    path = write_reproduction([plan], tmp_path / "reproduction.md")
    text = path.read_text()
    # full, validation-selected recall: 0.1200 ± 0.0200 vs paper 0.1129: diff +0.0071, within 1 std
    assert (
        "| Table 2 | TikTok | DiffMM | DiffMM | recall@20 | 0.1129 |  | full | validation-selected epoch | "
        "0.1200 ± 0.0200 | +0.0071 | yes | ok (3 seeds) | modalities: ours image+audio (2;" in text
    )
    # w/o CL, validation-selected NDCG: 0.0300 ± 0.0100 vs 0.0420: diff -0.0120, not within
    assert (
        "| w/o CL | ndcg@20 | 0.0420 |  | wo_cl | validation-selected epoch | 0.0300 ± 0.0100 | -0.0120 | no |" in text
    )
    assert "left out: a reason given by the plan | w/o DM also drops the MSI loss" in text
    assert "tiktok / diffmm: a reason given by the plan (1 cell(s): diffmm.table2)" in text
    # every registry entry with the paper's numbers has a section, run at this scale or not
    for entry in registry().values():
        if entry.paper_csv and entry.kind != "case_study":
            assert f"({entry.key};" in text, entry.key
    assert "experiment not run at this scale" in text


def test_within_and_formatting() -> None:
    assert within(0.1, 0.12, 0.02, 3) == "yes"
    assert within(0.1, 0.12, 0.01, 3) == "no"
    assert within(0.1, 0.12, float("nan"), 1) == "n/a (1 seed)"
    assert mean_pm_std(0.123456, 0.0012) == "0.1235 ± 0.0012"
    assert mean_pm_std(0.5, float("nan")) == "0.5000"


def test_paper_tables_are_packaged_and_match_the_registry() -> None:
    t1 = paper_results(experiment("diffmm.table1"))
    assert len(t1) == 144
    assert paper_column("ndcg@20") == "paper NDCG@20"
    stats = load_paper_table("diffmm_table5_dataset_stats.csv")
    assert set(stats.dataset_key) == {"tiktok", "baby", "sports"}
    assert paper_modalities("diffmm", "tiktok") == ["image", "audio", "text"]
    for entry in registry().values():
        if entry.kind != "table" or not entry.paper_csv:
            continue
        paper = paper_results(entry)
        assert not paper.empty, entry.key
        # every paper row is a cell of the registry entry, with the entry's metrics
        cells = {(c.model, c.paper_key) for c in entry.cells}
        assert set(zip(paper.model_key, paper.variant)) <= cells, entry.key
        assert set(paper.metric_key) == set(entry.metrics), entry.key
        assert set(paper.dataset_key) <= set(entry.datasets), entry.key  # ld4mrec.table3 adds TikTok


@pytest.fixture()
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """The arguments of every table figure written (title, footnote, colour) and the figure."""
    calls: list[dict] = []

    def keep(frame: pd.DataFrame, title: str, footnote: str = "", color: str = "black") -> plt.Figure:
        fig = table_figure(frame, title, footnote, color)
        calls.append({"frame": frame, "title": title, "footnote": footnote, "color": color, "fig": fig})
        return fig

    monkeypatch.setattr(tables, "table_figure", keep)
    return calls


def test_a_smoke_scale_says_so_and_is_never_compared(plan: ExperimentPlan, tmp_path: Path, drawn: list) -> None:
    plan.smoke = True
    text = write_reproduction([plan], tmp_path / "reproduction.md").read_text()
    assert text.count("**SMOKE TEST**") == 1 and "not a reproduction, never compare with the paper" in text
    rows = [line for line in text.splitlines() if "| recall@20 | 0.1129 |  | full |" in line]  # '' = paper source
    assert len(rows) == 2  # both protocols: our numbers shown, no status "ok", no difference, no verdict
    assert all(f"| {SMOKE_STATUS} |" in row and "| ok (" not in row and "| +0.0071 |" not in row for row in rows)
    assert "| yes |" not in text and "| no |" not in text  # no 'within 1 std' verdict on a smoke run
    assert plan.scope_line().startswith("SMOKE TEST (runs cut to a few epochs")
    # the table: no row "ok" beside the paper's column; the PNG's title and footnote say SMOKE TEST
    csv, _ = write_table(plan, tmp_path / "tables")
    table = pd.read_csv(csv)
    assert list(table["status"]) == [SMOKE_STATUS, SMOKE_STATUS, "left out: a reason given by the plan"]
    assert table.loc[0, "recall@20 mean [val_selected]"] == pytest.approx(0.12)  # the numbers stay
    (call,) = drawn
    assert call["title"].endswith("\nSMOKE TEST: runs cut short, not a reproduction")
    assert call["footnote"].startswith("SMOKE TEST (") and call["color"] != "black"
    plan.smoke = False
    write_table(plan, tmp_path / "tables")
    assert "SMOKE" not in drawn[1]["title"] + drawn[1]["footnote"]
    assert set(pd.read_csv(csv)["status"]) == {"ok", "left out: a reason given by the plan"}


def test_table_image_headed_by_paper_names(plan: ExperimentPlan) -> None:
    shown = display_frame(plan, result_table(plan))
    assert list(shown.columns[:3]) == ["Dataset", "Model", "Row"]
    assert list(shown["Dataset"]) == ["TikTok"] * 3 and list(shown["Model"]) == ["DiffMM"] * 3  # declare.label
    assert list(shown["Row"]) == ["DiffMM", "w/o CL", "w/o DM"]
    assert "Recall@20\nval-sel." in shown.columns and "paper\nNDCG@20" in shown.columns
    assert not [c for c in shown.columns if "recall@" in c or "ndcg@" in c]  # no code names in a header
    assert shown.loc[2, "Recall@20\nval-sel."] == "left out"
    plan.name = "bench.diffusion"  # no paper rows: variant full is named by the model's label
    assert list(result_table(plan)["label"]) == ["DiffMM", "wo_cl", "wo_dm"]


def _cell_texts_inside(fig: plt.Figure) -> list[tuple[str, bool]]:
    """(text, whether it lies inside its cell) for every cell of the figure's table."""
    renderer = FigureCanvasAgg(fig).get_renderer()  # a closed figure has lost its canvas
    fig.draw(renderer)
    out = []
    for cell in fig.axes[0].tables[0].get_celld().values():
        text, box = cell.get_text().get_window_extent(renderer), cell.get_window_extent(renderer)
        inside = box.x0 <= text.x0 and text.x1 <= box.x1 and box.y0 <= text.y0 and text.y1 <= box.y1
        out.append((cell.get_text().get_text(), inside))
    return out


def _stats_plan(tmp_path: Path) -> ExperimentPlan:
    """TikTok's release statistics, with the sparsity computed here from the counts."""
    users, items, interactions = 9308, 6710, 68722
    stats = {
        "users": users,
        "items": items,
        "train_interactions": 59541,
        "val_interactions": 3051,
        "test_interactions": 6130,
        "interactions": interactions,
        "sparsity_percent": 100 * (1 - interactions / (users * items)),  # 99.88997
        "users_without_train": 10,
        "modalities": {"audio": 128, "image": 128},
    }
    (tmp_path / "stats.json").write_text(json.dumps(stats))
    datasets = {"tiktok": {"label": "TikTok", "stats": str(tmp_path / "stats.json")}}
    return ExperimentPlan("diffmm.table5", "dataset_stats", "quick", [421], datasets, smoke=True)


def test_dataset_statistics_printed_as_the_paper_prints_them(tmp_path: Path, drawn: list) -> None:
    plan = _stats_plan(tmp_path)
    shown = display_frame(plan, datasets_table(plan)).iloc[0]
    assert shown["Dataset"] == "TikTok" and shown["Users"] == "9,308" and shown["All"] == "68,722"
    assert shown["Sparsity"] == "99.890%"  # as the paper's 99.904%: three decimals
    assert shown["Features"] == "audio 128-d\nimage 128-d"
    # the paper's Table 5 (paper_tables/diffmm_table5_dataset_stats.csv), its modalities in our file names
    assert (shown["paper\nUsers"], shown["paper\nSparsity"]) == ("9,319", "99.904%")
    assert shown["paper\nFeatures"] == "image 128-d\naudio 128-d\ntext 768-d"
    write_table(plan, tmp_path / "tables")
    (call,) = drawn
    assert "mean ± std" not in call["footnote"] and "statistics of the release files" in call["footnote"]
    assert "SMOKE TEST" in call["title"]
    texts = _cell_texts_inside(call["fig"])
    assert ("99.890%", True) in texts and all(inside for _, inside in texts), texts  # nothing clipped


def test_long_row_labels_are_not_clipped() -> None:
    frame = pd.DataFrame(
        {"Model": ["DiffMM", "DiffMM"], "Row": ["DiffMM", "DiffMM [official_eval]"], "Recall@20\nval-sel.": ["0.1"] * 2}
    )
    texts = _cell_texts_inside(table_figure(frame, "title"))
    assert ("DiffMM [official_eval]", True) in texts and all(inside for _, inside in texts), texts
