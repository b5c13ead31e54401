"""Validation grids: the choice reads validation only, the preset writer keeps comments and
round-trips through the config loader, the command refuses grids that cannot choose, and only
the paper scale plans the grids."""

from __future__ import annotations

import json
import re
import statistics
from pathlib import Path

import pandas as pd
import pytest
import yaml

import mmdiffbench.config as config_module
import mmdiffbench.tuning.presets as presets_module
from mmdiffbench.cli import main
from mmdiffbench.collect import tidy_splits
from mmdiffbench.config import ConfigError, model_file, resolve
from mmdiffbench.experiments import experiment
from mmdiffbench.plan import build_plan
from mmdiffbench.plan_types import Cell, ExperimentPlan
from mmdiffbench.report.tables import write_table
from mmdiffbench.tuning.grid import choices, display_grid, grid_table, score_col
from mmdiffbench.tuning.presets import check_keys, grid_chosen, model_yaml, set_preset
from tests._workflow_helpers import load_default_config

KEY = "tune.lightgcn"
CELLS = [c for c in experiment(KEY).cells][:3]  # n_layers 1 x reg_weight 1e-2, 1e-4, 1e-6
SEEDS = (421, 1)
# validation and test recall@20 per (cell, seed): validation prefers cell 1, test prefers cell 2
SCORES = {
    (0, 421): (0.050, 0.060),
    (0, 1): (0.052, 0.058),
    (1, 421): (0.070, 0.061),
    (1, 1): (0.066, 0.063),
    (2, 421): (0.060, 0.090),
    (2, 1): (0.064, 0.094),
}


def _metrics(cell: int, seed: int) -> dict:
    val, test = SCORES[(cell, seed)]
    return {
        "dataset": "tiktok",
        "model": "lightgcn",
        "variant": "full",
        "workflow_variant": CELLS[cell].variant,
        "seed": seed,
        "val": {"recall@20": val, "ndcg@20": val / 2},
        "test": {"recall@20": test, "ndcg@20": test / 2},
    }


def _plan(root: Path, smoke: bool = False, written: tuple[int, ...] = (0, 1, 2)) -> ExperimentPlan:
    """The first three cells of tune.lightgcn on TikTok, two seeds; metrics.json of the `written` cells."""
    cells = []
    for i, spec in enumerate(CELLS):
        dirs = [f"results/runs/tiktok/lightgcn/{spec.variant}/seed{s}" for s in SEEDS]
        for seed, run in zip(SEEDS, dirs):
            if i in written:
                (root / run).mkdir(parents=True)
                (root / run / "metrics.json").write_text(json.dumps(_metrics(i, seed)))
        cells.append(Cell(KEY, "tiktok", "lightgcn", spec.variant, "full", [], dirs, dict(spec.params)))
    plan = ExperimentPlan(KEY, "tuning", "paper", list(SEEDS), {"tiktok": {"label": "TikTok", "stats": ""}}, cells)
    plan.smoke = smoke
    return plan


def test_the_choice_is_the_best_mean_validation_score_not_the_best_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = _plan(tmp_path)
    table = grid_table(plan)
    for i, spec in enumerate(CELLS):
        row = table[table.variant == spec.variant].iloc[0]
        vals = [SCORES[(i, s)][0] for s in SEEDS]
        tests = [SCORES[(i, s)][1] for s in SEEDS]
        assert row[score_col("val", "recall@20", "mean")] == pytest.approx(statistics.mean(vals))
        assert row[score_col("val", "recall@20", "std")] == pytest.approx(statistics.stdev(vals))
        assert row[score_col("test", "recall@20", "mean")] == pytest.approx(statistics.mean(tests))
        assert row["n_seeds"] == 2 and row["n_layers"] == 1
    assert table["chosen"].tolist() == [False, True, False]  # test would pick the third
    [choice] = choices(plan, table)
    assert choice.params == {"n_layers": 1, "reg_weight": 1.0e-4}
    assert choice.mean == pytest.approx(0.068) and choice.seeds == SEEDS
    assert choice.comment()[0].startswith(f"{KEY}: best validation recall@20 0.0680 ± 0.0028")
    assert choice.comment()[1].startswith(f"{KEY} grid (3 cells): n_layers {{1}} x reg_weight {{0.01, 0.0001, 1e-06}}")
    assert "not used for the choice" in score_col("test", "recall@20", "mean")


def test_a_cell_missing_a_seed_does_not_compete(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    plan = _plan(tmp_path)
    (tmp_path / plan.cells[1].run_dirs[1] / "metrics.json").unlink()  # the best cell has one seed of two
    table = grid_table(plan, tidy_splits([(v, p) for v, p in plan.cell_metrics() if Path(p).is_file()]))
    assert table["n_seeds"].tolist() == [2, 1, 2]
    assert table[table["chosen"]].variant.tolist() == [CELLS[2].variant]


def test_the_tuning_table_shows_validation_and_the_choice_and_labels_test(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    plan = _plan(tmp_path)
    csv, png = write_table(plan, tmp_path / "tables")
    table = pd.read_csv(csv)
    assert table.columns[:6].tolist() == ["dataset", "model", "variant", "n_layers", "reg_weight", "n_seeds"]
    assert table["chosen"].tolist() == [False, True, False]
    assert all("[not used for the choice]" in c for c in table.columns if c.startswith("test "))
    assert png.stat().st_size > 0
    shown = display_grid(experiment(KEY), grid_table(plan))
    assert shown[["n_layers", "reg_weight", "chosen"]].values.tolist() == [
        ["1", "0.01", ""],
        ["1", "0.0001", "chosen"],
        ["1", "1e-06", ""],
    ]
    assert shown.columns[-1] == "ndcg@20\ntest (not used)"


# ---- preset writing ----------------------------------------------------------------------


def _comments(text: str) -> list[str]:
    return [line.split("#", 1)[1].strip() for line in text.splitlines() if "#" in line]


@pytest.mark.parametrize(
    ("model", "dataset", "values"),
    [
        ("dualgnn", "tiktok", {"lr": 1.0e-4, "reg_weight": 1.0e-2}),  # `presets: {}`
        ("diffcl", "baby", {"lambda_cl": 0.01, "tau": 0.2}),  # a flow entry: its other keys stay
        ("diffcl", "tiktok", {"lambda_cl": 0.7}),  # a new entry beside flow entries
        ("ld4mrec", "tiktok", {"lr": 1.0e-4, "hidden_dim": 128}),  # a block entry with a commented key
    ],
)
def test_a_written_preset_reads_back_and_keeps_every_comment(model: str, dataset: str, values: dict) -> None:
    text = model_yaml(model).read_text()
    before = yaml.safe_load(text)
    first = set_preset(text, dataset, {k: v * 3 for k, v in values.items()}, ["tune.x: one", "tune.x grid"], "tune.x")
    written = set_preset(first, dataset, values, ["tune.x: two", "tune.x grid (2)"], "tune.x")
    after = yaml.safe_load(written)
    expected = {**(before["presets"] or {}).get(dataset, {}), **values}
    assert after["presets"][dataset] == expected
    assert {k: v for k, v in after["presets"].items() if k != dataset} == {
        k: v for k, v in (before["presets"] or {}).items() if k != dataset
    }
    assert {k: v for k, v in after.items() if k != "presets"} == {k: v for k, v in before.items() if k != "presets"}
    comments = _comments(written)
    assert all(c in comments for c in _comments(text))
    assert "tune.x: two" in comments and "tune.x: one" not in comments and comments.count("tune.x grid (2)") == 1
    assert written.endswith("\n") and len(written.splitlines()) < len(text.splitlines()) + 6 + len(values)


def test_the_config_loader_applies_the_written_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    text = set_preset(model_yaml("lightgcn").read_text(), "tiktok", {"n_layers": 1, "lr": 1.0e-4}, ["c"], "tune.x")
    real = model_file
    monkeypatch.setattr(
        config_module, "model_file", lambda name: yaml.safe_load(text) if name == "lightgcn" else real(name)
    )
    tuned, other = resolve("lightgcn", "tiktok"), resolve("lightgcn", "elec")  # Electronics: no LightGCN preset
    assert (tuned.model["n_layers"], tuned.trainer["lr"]) == (1, 1.0e-4)
    assert (other.model["n_layers"], other.trainer["lr"]) == (3, 5.0e-3)


def test_preset_writing_refuses_what_it_cannot_edit() -> None:
    with pytest.raises(ConfigError, match="x.yaml: no top-level `presets:` section"):
        set_preset("model: {a: 1}\n", "tiktok", {"a": 2}, [], "tune.x", "x.yaml")
    with pytest.raises(ConfigError, match="x.yaml: write `presets:` in block style"):
        set_preset("presets: {baby: {a: 1}}\n", "tiktok", {"a": 2}, [], "tune.x", "x.yaml")
    with pytest.raises(ConfigError, match="lightgcn: 'n_layer' is not a setting of the model"):
        check_keys("lightgcn", {"n_layer": 2})
    with pytest.raises(ConfigError, match="n_layers: expected int"):
        check_keys("lightgcn", {"n_layers": 0.5})


# ---- the command -------------------------------------------------------------------------


def _plan_file(root: Path, plan: ExperimentPlan) -> Path:
    path = root / "results" / "plan" / f"{plan.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan.to_json())
    return path


def test_choose_prints_the_preset_and_writes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    yaml_copy = tmp_path / "lightgcn.yaml"  # the model YAML with no preset written yet
    original = re.sub(
        r"^presets:\n(?:  .*\n)+", "presets: {}\n", model_yaml("lightgcn").read_text(), flags=re.MULTILINE
    )
    yaml_copy.write_text(original)
    monkeypatch.setattr("mmdiffbench.tuning.presets.model_yaml", lambda model: yaml_copy)
    plan = _plan_file(tmp_path, _plan(tmp_path))
    assert main(["tune", "choose", str(plan), "--root", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "tune.lightgcn on tiktok: n_layers=1, reg_weight=0.0001: best validation recall@20 0.0680" in out
    assert re.search(
        r"^  tiktok:\n    # tune.lightgcn: .*\n    # tune.lightgcn grid .*\n    n_layers: 1\n", out, re.MULTILINE
    )
    assert yaml_copy.read_text() == original  # printed only
    assert main(["tune", "choose", str(plan), "--root", str(tmp_path), "--write"]) == 0
    assert yaml.safe_load(yaml_copy.read_text())["presets"] == {"tiktok": {"n_layers": 1, "reg_weight": 1.0e-4}}


@pytest.mark.parametrize(
    ("smoke", "written", "args", "message"),
    [
        (True, (0, 1, 2), [], r"error \(tuning\): tune.lightgcn: the plan is of the smoke scale 'paper'"),
        (False, (0, 2), [], r"error \(tuning\): tune.lightgcn: 2 of 6 grid runs not finished \(first: .*seed421"),
        (False, (0, 1, 2), ["--dataset", "baby"], r"error \(tuning\): tune.lightgcn: no grid cell planned on baby"),
    ],
)
def test_choose_refuses_grids_that_cannot_choose(
    tmp_path: Path, capsys: pytest.CaptureFixture, smoke: bool, written: tuple[int, ...], args: list, message: str
) -> None:
    plan = _plan_file(tmp_path, _plan(tmp_path, smoke, written))
    assert main(["tune", "choose", str(plan), "--root", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert re.match(message, err) and len(err.splitlines()) == 1


# ---- the scales ----------------------------------------------------------------------------


def test_only_the_paper_scale_plans_the_grids(tmp_path: Path) -> None:
    config = load_default_config()
    config["data_dir"] = str(tmp_path)
    quick = build_plan({**config, "scale": "quick"}, base=tmp_path)
    assert not [k for k in quick.experiments if k.startswith("tune.")]
    paper = build_plan({**config, "scale": "paper"}, base=tmp_path)
    grids = {k: e for k, e in paper.experiments.items() if k.startswith("tune.")}
    assert len(grids) == 22
    lightgcn = grids["tune.lightgcn"]
    assert {c.dataset for c in lightgcn.cells} == {"tiktok", "baby", "sports"} and len(lightgcn.cells) == 3 * 12
    assert {c.dataset for c in grids["tune.vbpr"].cells} == {"tiktok"}  # features: TikTok only here


def test_grid_chosen_counts_only_the_settings_a_validation_grid_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    yamls = {
        "lightgcn": {"presets": {"tiktok": {"n_layers": 4, "lr": 1.0e-3}, "sports": {"eval_batch_size": 8}}},
        "diffmm": {"presets": {"tiktok": {"lambda1": 0.1}}},
    }
    monkeypatch.setattr(presets_module, "model_file", yamls.__getitem__)
    assert grid_chosen("lightgcn", "tiktok") == ("n_layers",)  # tune.lightgcn sweeps n_layers x reg_weight, not lr
    assert grid_chosen("lightgcn", "sports") == ()  # a preset, but of a setting no grid chose
    assert grid_chosen("lightgcn", "baby") == ()  # no preset: the reference defaults
    assert grid_chosen("diffmm", "tiktok") == ()  # no tune.diffmm
