"""Figures from hand-made metrics.json files: files written, plotted numbers = hand means."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import yaml

from mmdiffbench.experiments import experiment
from mmdiffbench.plan_types import Cell, ExperimentPlan, Skipped
from mmdiffbench.report import figures
from mmdiffbench.report.figures import group_label, write_figure

DIFFMM_LABEL = yaml.safe_load((Path(figures.__file__).parents[1] / "configs/diffmm.yaml").read_text())["declare"][
    "label"
]


@pytest.fixture()
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[plt.Figure]:
    """Every figure written, to read its texts."""
    kept: list[plt.Figure] = []
    save = figures._save

    def keep(fig: plt.Figure, out_dir: Path, name: str) -> None:
        kept.append(fig)
        save(fig, out_dir, name)

    monkeypatch.setattr(figures, "_save", keep)
    return kept


def _texts(fig: plt.Figure) -> str:
    """Every text of the figure: titles, labels, ticks, legends, annotations, footnotes."""
    return "\n".join(t.get_text() for t in fig.findobj(plt.Text))


def _write(run: Path, recall: float, seed: int, variant: str) -> None:
    run.mkdir(parents=True)
    groups = {
        "0-5": {"n_users": 3, "recall@20": recall, "ndcg@20": recall / 2},
        "6-10": {"n_users": 2, "recall@20": recall * 2, "ndcg@20": recall},
        "11-20": {"n_users": 0},
        "21+": {"n_users": 1, "recall@20": 0.0, "ndcg@20": 0.0},
    }
    test = {"recall@20": recall, "ndcg@20": recall / 2}
    metrics = {
        "model": "diffmm",
        "variant": "full",
        "workflow_variant": variant,
        "dataset": "tiktok",
        "seed": seed,
        "selected_epoch": 1,
        "test": test,
        "test_groups": groups,
        "paper_protocol": {"epoch": 2, "test": {k: v + 0.01 for k, v in test.items()}, "test_groups": groups},
    }
    (run / "metrics.json").write_text(json.dumps(metrics, sort_keys=True))  # groups as text: 0-5, 11-20, 21+, 6-10


def _plan(tmp_path: Path, name: str, variants: list[str], axis: str = "") -> ExperimentPlan:
    cells = []
    for i, variant in enumerate(variants):
        dirs = []
        for seed, offset in ((1, 0.0), (2, 0.02)):
            run = tmp_path / f"results/paper/runs/tiktok/diffmm/{variant}/seed{seed}"
            _write(run, 0.1 + 0.01 * i + offset, seed, variant)
            dirs.append(str(run))
        params = {axis: float(variant.rsplit("_", 1)[1])} if axis else {}
        cells.append(Cell(name, "tiktok", "diffmm", variant, "full", [], dirs, params))
    return ExperimentPlan(
        name,
        experiment(name).kind,
        "paper",
        [1, 2],
        {"tiktok": {"label": "TikTok", "stats": ""}},
        cells,
        [Skipped(name, "baby", "diffmm", variants[0], "no features")],
    )


def test_sweep_figure(tmp_path: Path, drawn: list[plt.Figure]) -> None:
    plan = _plan(tmp_path, "diffmm.fig3b", ["omega_0.1", "omega_0.5"], axis="omega")
    write_figure(plan, tmp_path / "figures")
    for suffix in ("png", "pdf", "csv"):
        assert (tmp_path / "figures" / f"diffmm.fig3b.{suffix}").stat().st_size > 0
    data = pd.read_csv(tmp_path / "figures" / "diffmm.fig3b.csv")
    row = data[(data.variant == "omega_0.5") & (data.metric == "recall@20") & (data.protocol == "val_selected")].iloc[0]
    assert row["mean"] == pytest.approx((0.11 + 0.13) / 2)
    assert row["x"] == 0.5 and row["value_of"] == "omega"  # the cell's axis value from the plan
    best = data[
        (data.variant == "omega_0.5") & (data.metric == "recall@20") & (data.protocol == "best_test_epoch")
    ].iloc[0]
    assert best["mean"] == pytest.approx((0.11 + 0.13) / 2 + 0.01)
    (fig,) = drawn
    ax = fig.axes[0]
    assert (ax.get_ylabel(), ax.get_xlabel()) == ("Recall@20", "ω (weight of Norm(H₀))")  # the paper's names
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["TikTok"]
    assert "SMOKE" not in _texts(fig)
    assert "left out: baby / DiffMM: no features" in _texts(fig)  # the model as the paper names it


def test_user_groups_figure_counts_users_and_keeps_empty_groups(tmp_path: Path, drawn: list[plt.Figure]) -> None:
    plan = _plan(tmp_path, "diffmm.fig2", ["full"])
    write_figure(plan, tmp_path / "figures")
    data = pd.read_csv(tmp_path / "figures" / "diffmm.fig2.csv")
    row = data[(data.group == "0-5") & (data.metric == "recall@20") & (data.protocol == "val_selected")].iloc[0]
    assert row["mean"] == pytest.approx(0.11)
    # every group recorded, with its test users; 11-20 holds none: kept, no number, not dropped
    sizes = data.groupby("group", sort=False)["n_users"].unique()
    assert {g: list(n) for g, n in sizes.items()} == {"0-5": [3], "6-10": [2], "11-20": [0], "21+": [1]}
    assert list(sizes.index) == ["0-5", "6-10", "11-20", "21+"]  # by their bounds
    empty = data[data.group == "11-20"]
    assert len(empty) == 2 * 2 and empty["mean"].isna().all() and (empty["n_seeds"] == 0).all()  # metrics x protocols
    # only the first group's bounds are the paper's; the others are ours, and say so
    bounds = {"0-5": "paper", "6-10": "assumed", "11-20": "assumed", "21+": "assumed"}
    assert dict(zip(data.group, data.bounds)) == bounds
    paper_groups = experiment("diffmm.fig2").paper_groups
    assert group_label("0-5", paper_groups) == "0-5" and group_label("6-10", paper_groups) == "6-10*"
    assert "assumed" in experiment("diffmm.fig2").note
    (fig,) = drawn
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0-5\nn=3", "6-10*\nn=2", "11-20*\nn=0", "21+*\nn=1"]
    marks = {t.get_text(): t.get_position()[0] for t in ax.texts}
    assert marks["no test user"] == 2 and marks["0"] == 3  # empty group, and a bar of height 0 (not missing)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [DIFFMM_LABEL]  # declare.label, not 'diffmm'
    assert ax.get_ylabel() == "Recall@20" and "TikTok: Recall@20" in ax.get_title()
    assert "TikTok: no test user in group(s) 11-20" in _texts(fig)


def test_smoke_figures_say_so(tmp_path: Path, drawn: list[plt.Figure]) -> None:
    plan = _plan(tmp_path, "diffmm.fig2", ["full"])
    plan.smoke = True
    write_figure(plan, tmp_path / "figures")
    empty = ExperimentPlan("diffmm.fig4", "sweep", "quick", [1], {}, [], [], smoke=True)
    write_figure(empty, tmp_path / "figures")
    titles = [drawn[0].get_suptitle(), drawn[1].axes[0].get_title(loc="left")]
    assert all(t.endswith("\nSMOKE TEST: runs cut short, not a reproduction") for t in titles), titles
    assert all("SMOKE TEST (runs cut to a few epochs" in _texts(fig) for fig in drawn)  # the footnotes


def test_figure_without_runnable_cells_still_written(tmp_path: Path) -> None:
    skipped = [Skipped("diffmm.fig4", "baby", "diffmm", "fusion_ratio_0", "no features")]
    plan = ExperimentPlan("diffmm.fig4", "sweep", "paper", [1], {}, [], skipped)
    write_figure(plan, tmp_path / "figures")
    assert (tmp_path / "figures" / "diffmm.fig4.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "figures" / "diffmm.fig4.pdf").is_file()
    assert "ours" in experiment("diffmm.fig4").note  # the fusion construction and keep rate are ours


def _write_case_study(folder: Path) -> None:
    """Two users, two modalities; cosine(a, b) = a + b / 10 (image) and -(a + b / 10) (audio)."""
    folder.mkdir(parents=True)
    means = {
        "generated_pairs": 0.5,
        "generated_history": 0.4,
        "original_pairs": 0.3,
        "random_pairs": 0.1,
        "edges_per_user": 2,
    }
    summary = {"image": means, "audio": {**means, "generated_pairs": None, "edges_per_user": 1}}
    (folder / "summary.json").write_text(json.dumps(summary))  # null: no generated pairs with k = 1
    pd.DataFrame({"user": [3, 3, 7, 7, 7], "item": [0, 1, 2, 3, 4]}).to_csv(folder / "original_edges.csv", index=False)
    generated = [
        ("image", 3, 1, True),
        ("image", 3, 5, False),
        ("image", 7, 5, False),
        ("image", 7, 6, False),
        ("audio", 3, 6, False),
        ("audio", 7, 0, False),
    ]
    pd.DataFrame(generated, columns=["modality", "user", "item", "in_train"]).to_csv(
        folder / "generated_edges.csv", index=False
    )
    pairs = [
        (m, a, b, sign * (a + b / 10))
        for m, sign in (("image", 1), ("audio", -1))
        for a in range(7)
        for b in range(a + 1, 7)
    ]
    pd.DataFrame(pairs, columns=["modality", "item_a", "item_b", "cosine"]).to_csv(
        folder / "item_similarity.csv", index=False
    )


def _case_plan(datasets: list[str]) -> ExperimentPlan:
    cells = [
        Cell("diffmm.fig5", d, "diffmm", "full", "full", [], [f"results/paper/runs/{d}/diffmm/full/seed1"])
        for d in datasets
    ]
    return ExperimentPlan(
        "diffmm.fig5", "case_study", "paper", [1], {d: {"label": d.title(), "stats": ""} for d in datasets}, cells, []
    )


def test_case_study_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(tmp_path)  # the report reads results/paper/case_study/<dataset>/ of the workflow folder
    _write_case_study(tmp_path / "results/paper/case_study/tiktok")
    write_figure(_case_plan(["tiktok", "baby"]), tmp_path / "figures")
    assert (tmp_path / "figures/diffmm.fig5.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "figures/diffmm.fig5.pdf").is_file()
    assert (
        "results/paper/case_study/baby/summary.json" in capsys.readouterr().out
    )  # missing: said, and drawn without it
    data = pd.read_csv(tmp_path / "figures/diffmm.fig5.csv")
    means = data[data.kind != "user"].set_index(["modality", "kind"])["cosine"]
    assert means[("image", "generated_pairs")] == 0.5 and means[("image", "random_pairs")] == 0.1
    assert np.isnan(means[("audio", "generated_pairs")])
    cells = data[data.kind == "user"]
    # image: user 3 has 2 generated x 2 training items, user 7 has 2 x 3; audio: 1 x 2 and 1 x 3
    assert cells.groupby("modality").size().to_dict() == {"audio": 5, "image": 10}
    cell = cells[
        (cells.modality == "audio") & (cells.user == 7) & (cells.generated_item == 0) & (cells.train_item == 4)
    ].iloc[0]
    assert cell.cosine == pytest.approx(-0.4) and not cell.in_train
    same = cells[(cells.modality == "image") & (cells.generated_item == 1) & (cells.train_item == 1)].iloc[0]
    assert same.in_train and np.isnan(same.cosine)  # an item with itself has no pair cosine
    assert set(data.k[data.modality == "audio"]) == {1}


def test_case_study_figure_without_output_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    write_figure(_case_plan(["tiktok"]), tmp_path / "figures")
    assert (tmp_path / "figures/diffmm.fig5.png").read_bytes()[:4] == b"\x89PNG"
    assert "missing" in capsys.readouterr().out
