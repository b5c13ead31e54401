"""benchmarks/README.md's result tables are typed by hand: each of their numbers must be the one
the committed run CSVs give (baselines_summary.csv; DiffMM's seeds in diffmm_tiktok.csv, recomputed
here), so a row left behind when a model is rerun fails here instead of misleading a reader."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pandas as pd
import pytest

from mmdiffbench.models import MODELS
from mmdiffbench.report.labels import model_label
from mmdiffbench.report.paper import load_paper_table
from tests.test_benchmark_reports import benchmark_module

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BASELINES_HEADER = "| dataset | model | ours | paper DiffMM | ours vs DiffMM | paper LD4MRec | paper DiffCL |"
TIKTOK_HEADER = "| model | R@20 | N@20 | best-test-epoch R@20 | paper DiffMM R@20 | ours vs paper | TikTok setting |"


def readme_rows(header: str, occurrence: int = 0) -> list[list[str]]:
    """The cells of the README table that starts with `header` (its `occurrence`-th), one list per row."""
    lines = (ROOT / "benchmarks" / "README.md").read_text().splitlines()
    start = [i for i, line in enumerate(lines) if line == header][occurrence] + 2  # the header and its |---| line
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


def mean_sd(values: pd.Series) -> str:
    return f"{values.mean():.4f} ± {values.std():.4f}"


def diffmm_cells() -> dict[str, str]:
    """DiffMM's README cells recomputed from its per-seed rows (the tag the README names; the rows that count
    chosen as claims.py and recall_figure.py choose them)."""
    readme = (ROOT / "benchmarks" / "README.md").read_text()
    tag = re.search(r"DiffMM from `results/diffmm_tiktok.csv` \(tag `(\w+)`", readme).group(1)
    run_csvs = benchmark_module("run_csvs")
    parser = argparse.ArgumentParser()
    run_csvs.add_run_csv_args(parser)
    assert parser.parse_args([]).diffmm_tag == tag  # claims.py and the figure read the runs the README shows
    rows = run_csvs.diffmm_rows(pd.read_csv(RESULTS / "diffmm_tiktok.csv"), tag)
    selected, best = rows[rows.eval_mode == "val_selected"], rows[rows.eval_mode == "best_test_epoch"]
    assert sorted(selected.seed) == [1, 2, 421]
    paper = load_paper_table("diffmm_table1_overall.csv")
    cell = paper[(paper.dataset_key == "tiktok") & (paper.model_key == "diffmm") & (paper.metric == "recall")]
    paper_value = float(cell[cell.k == 20]["value"].iloc[0])
    return {
        "R@20": mean_sd(selected["recall@20"]),
        "N@20": mean_sd(selected["ndcg@20"]),
        "best": f"{best['recall@20'].mean():.4f}",
        "paper": f"{paper_value:.4f}",
        "vs": f"{100 * (selected['recall@20'].mean() / paper_value - 1):+.0f}%",
    }


def baseline_cells(summary: pd.DataFrame, model: str) -> dict[str, str]:
    selected = summary[(summary.model == model) & (summary.protocol == "validation-selected")].iloc[0]
    best = summary[(summary.model == model) & (summary.protocol == "best-test-epoch (paper)")].iloc[0]
    paper = selected["paper DiffMM Recall@20"]
    return {
        "R@20": f"{selected['recall@20_mean']:.4f} ± {selected['recall@20_std']:.4f}",
        "N@20": f"{selected['ndcg@20_mean']:.4f} ± {selected['ndcg@20_std']:.4f}",
        "best": f"{best['recall@20_mean']:.4f}",
        "paper": "" if pd.isna(paper) else f"{paper:.4f}",
        "vs": "" if pd.isna(paper) else f"{selected['recall@20 vs paper DiffMM (%)']:+.0f}%",
    }


def test_the_tiktok_table_of_the_benchmarks_readme_is_the_run_csvs() -> None:
    summary = pd.read_csv(RESULTS / "baselines_summary.csv")
    summary = summary[summary.dataset == "tiktok"]
    models = {model_label(model): model for model in summary.model.unique()}
    rows = readme_rows(TIKTOK_HEADER)
    assert sorted(row[0] for row in rows) == sorted([*models, "DiffMM"])  # every model run, each once
    for label, r20, n20, best, paper, versus, _setting in rows:
        expected = diffmm_cells() if label == "DiffMM" else baseline_cells(summary, models[label])
        if not expected["paper"]:
            assert paper.startswith("-") and not versus, label
            expected |= {"paper": paper, "vs": versus}
        assert {"R@20": r20, "N@20": n20, "best": best, "paper": paper, "vs": versus} == expected, label


def test_the_tiktok_table_is_sorted_by_validation_selected_recall() -> None:
    means = [float(row[1].split(" ± ")[0]) for row in readme_rows(TIKTOK_HEADER)]
    assert means == sorted(means, reverse=True)


def test_the_three_dataset_table_of_the_benchmarks_readme_is_the_run_csvs() -> None:
    """Rows of settings no longer run (`before the grid`) are history, not CSV rows: left out."""
    summary = pd.read_csv(RESULTS / "baselines_summary.csv")
    selected = summary[summary.protocol == "validation-selected"].set_index(["dataset", "model"])
    models = {model_label(model): model for model in summary.model.unique()}
    checked = 0
    for dataset, label, ours, diffmm, versus, ld4mrec, diffcl in readme_rows(BASELINES_HEADER):
        if "before the grid" in label:
            continue
        row = selected.loc[(dataset.lower(), models[label.split(" (")[0]])]
        spread = f" ± {row['recall@20_std']:.4f}" if row["n_seeds"] > 1 else ""
        assert ours == f"{row['recall@20_mean']:.4f}{spread}", label
        for cell, column in ((diffmm, "DiffMM"), (ld4mrec, "LD4MRec"), (diffcl, "DiffCL")):
            paper = row[f"paper {column} Recall@20"]
            assert cell == ("-" if pd.isna(paper) else f"{paper:.4f}"), (dataset, label, column)
        gap = row["recall@20 vs paper DiffMM (%)"]
        assert versus == ("" if pd.isna(gap) else f"{gap:+.0f}%"), (dataset, label)
        checked += 1
    assert checked >= 16


HEADLINE_MODELS = ("DiffMM", "LightGCN", "MGCN", "NCL", "DiffCL", "LD4MRec", "DiffRec")


def test_the_top_readme_headline_numbers_are_the_run_csvs() -> None:
    """The project README's TikTok headline (its Benchmarks section) quotes a model's validation-selected
    test Recall@20 as the first number after its name: each must be the table's, DiffMM's with its spread."""
    readme = (ROOT / "README.md").read_text()
    headline = readme[readme.index("What they show so far") : readme.index("- `benchmarks/eval_speed.py`")]
    summary = pd.read_csv(RESULTS / "baselines_summary.csv")
    summary = summary[summary.dataset == "tiktok"]
    models = {model_label(model): model for model in summary.model.unique()}
    for label in HEADLINE_MODELS:
        quoted = re.search(rf"\b{label}\b\D*?(0\.\d{{4}}(?: ± 0\.\d{{4}})?)", headline)
        assert quoted, label
        cells = diffmm_cells() if label == "DiffMM" else baseline_cells(summary, models[label])
        expected = cells["R@20"] if "±" in quoted.group(1) else cells["R@20"].split(" ± ")[0]
        assert quoted.group(1) == expected, label


def github_anchor(heading: str) -> str:
    """The id GitHub gives a heading: lower case, punctuation other than - and _ dropped, spaces to -."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def test_every_contents_link_of_the_benchmarks_readme_reaches_a_heading() -> None:
    text = (ROOT / "benchmarks" / "README.md").read_text()
    headings = {github_anchor(line.lstrip("#").strip()) for line in text.splitlines() if line.startswith("#")}
    links = re.findall(r"\]\(#([^)]+)\)", text)
    assert len(links) >= 15
    assert [link for link in links if link not in headings] == []


EPOCH_HEADER = (
    "| model | s / epoch (est.) | of which | CPU-s / epoch | s / evaluation | peak RSS MiB | steps timed / per epoch |"
)


@pytest.mark.parametrize("dataset", ["tiktok", "sports"])
def test_the_model_epoch_tables_of_the_benchmarks_readme_are_the_csvs(dataset: str) -> None:
    """`model_epoch.py`'s tables (TikTok, then Sports' shapes: the first two with this header) are
    model_epoch_<dataset>.csv, every model once, all of one commit."""
    frame = pd.read_csv(RESULTS / f"model_epoch_{dataset}.csv").set_index("model")
    assert frame["commit"].nunique() == 1 and frame["commit"].iloc[0] != "unknown"
    rows = readme_rows(EPOCH_HEADER, occurrence=["tiktok", "sports"].index(dataset))
    assert sorted(row[0] for row in rows) == sorted(frame.index) == sorted(MODELS)
    for name, epoch, _phases, cpu, evaluation, peak, steps in rows:
        measured = frame.loc[name]
        expected = [
            f"{measured.epoch_s:.2f}",
            f"{measured.epoch_cpu_s:.2f}",
            f"{measured.eval_s:.2f}",
            f"{measured.peak_rss_mib:,.0f}",
            f"{measured.steps_run} / {measured.steps_per_epoch}",
        ]
        assert [epoch, cpu, evaluation, peak, steps] == expected, name


def test_the_top_readme_speed_and_memory_line_is_the_model_epoch_csvs() -> None:
    """The project README's `model_epoch.py` line: its commit, the TikTok epoch bound, the highest
    Sports-shaped peak and its model, each read from the CSVs."""
    readme = (ROOT / "README.md").read_text()
    line = re.search(
        r"At (\w+), idle: every TikTok\s+epoch under (\d+) s.*?\((\w+)'s ([\d,]+) MiB the highest\)", readme, re.DOTALL
    )
    assert line, "the model_epoch.py line of README.md"
    tiktok, sports = (pd.read_csv(RESULTS / f"model_epoch_{name}.csv") for name in ("tiktok", "sports"))
    assert all(commit.startswith(line.group(1)) for commit in (*tiktok["commit"], *sports["commit"]))
    assert tiktok["epoch_s"].max() < int(line.group(2)) <= tiktok["epoch_s"].max() + 1
    highest = sports.loc[sports["peak_rss_mib"].idxmax()]
    assert (line.group(3), line.group(4)) == (model_label(highest["model"]), f"{highest['peak_rss_mib']:,.0f}")
    assert highest["peak_rss_mib"] * 2**20 < 3e9
