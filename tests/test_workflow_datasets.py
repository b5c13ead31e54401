"""The workflow's datasets beyond the release layout: LD4MRec's noisy copies (derived datasets)
and MMRec-layout folders, in the plan, the tables, a dry run and the data rules themselves."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from mmdiffbench.collect import tidy_metrics
from mmdiffbench.data import DataError, dataset_stats, load_dataset, load_mmrec, make_synthetic, write_mmrec
from mmdiffbench.data.noisy import add_random_noise
from mmdiffbench.experiments import RegistryError, experiment, parse_entry
from mmdiffbench.jobs import implemented_models
from mmdiffbench.plan import build_plan
from mmdiffbench.plan_types import PlanError
from mmdiffbench.report.paper import paper_results
from mmdiffbench.report.tables import display_frame, result_table
from tests._workflow_helpers import REPO, copy_workflow, job_counts, load_default_config, snakemake, write_config

NOISY_TABLE = "ld4mrec.table3"


def noisy_config(data_dir: str, datasets: list[str], models: list[str]) -> dict:
    """LD4MRec's Table 3 alone, one seed, at the paper scale."""
    config = load_default_config()
    config["data_dir"] = data_dir
    config["scale"] = "paper"
    config["scales"]["paper"] = {
        "datasets": datasets,
        "seeds": [1],
        "experiments": [NOISY_TABLE],
        "models": models,
        "set": {"epochs": 1},
        "model_set": {},
    }
    return config


def toy_config(data_dir: Path) -> dict:
    """A synthetic MMRec-layout folder `toy` (not in the registry: it joins every experiment) and
    its noisy copy."""
    config = noisy_config(str(data_dir), ["toy"], ["lightgcn"])
    config["datasets"]["toy"] = {"label": "Toy (MMRec)", "layout": "mmrec", "size": "small"}
    config["datasets"]["toy_noisy"] = {
        "label": "Toy (noisy)",
        "derived_from": "toy",
        "transform": "random_noise",
        "noise_ratio": 0.1,
        "seed": 3,
    }
    return config


@pytest.fixture
def toy_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    write_mmrec(make_synthetic(n_users=40, n_items=30, n_clusters=3, interactions_per_user=6, seed=2), data / "toy")
    return data


def paper_value(csv_name: str, dataset: str, model: str, metric: str, k: str) -> float:
    """One number of a packaged paper CSV, read with the csv module (not the report's reader)."""
    path = REPO / "src" / "mmdiffbench" / "report" / "paper_tables" / csv_name
    with path.open() as handle:
        rows = [
            r
            for r in csv.DictReader(handle)
            if (r["dataset_key"], r["model_key"], r["metric"], r["k"]) == (dataset, model, metric, k)
        ]
    assert len(rows) == 1
    return float(rows[0]["value"])


# ---- plan level --------------------------------------------------------------------------


def test_the_noisy_table_plans_clean_and_noisy_cells(tmp_path: Path) -> None:
    config = noisy_config(str(tmp_path), ["tiktok"], ["lightgcn", "ld4mrec"])
    plan = build_plan(config, models=implemented_models(), base=tmp_path)
    table = plan.experiments[NOISY_TABLE]
    assert list(table.datasets) == ["tiktok", "tiktok_noisy"]
    assert table.datasets["tiktok_noisy"]["derived_from"] == "tiktok"
    cells = {(c.dataset, c.model) for c in table.cells}
    assert cells == {(d, m) for d in ("tiktok", "tiktok_noisy") for m in ("lightgcn", "ld4mrec")}
    assert {r.run_dir for r in plan.runs} == {
        f"results/{config['scale']}/runs/{d}/{m}/full/seed1"
        for d in ("tiktok", "tiktok_noisy")
        for m in ("lightgcn", "ld4mrec")
    }
    assert plan.data_datasets == ["tiktok", "tiktok_noisy"]
    # the noisy copy has its source's modalities and size: LD4MRec (needs features) runs on it
    noisy = {c.model: c for c in table.cells if c.dataset == "tiktok_noisy"}
    assert noisy["ld4mrec"].resources == {c.model: c for c in table.cells if c.dataset == "tiktok"}["ld4mrec"].resources
    # no other experiment takes the noisy copy
    config["scales"]["paper"]["experiments"] = ["diffmm.table1", NOISY_TABLE]
    plan = build_plan(config, models=implemented_models(), base=tmp_path)
    assert list(plan.experiments["diffmm.table1"].datasets) == ["tiktok"]


def test_paper_numbers_sit_beside_the_noisy_rows_only(tmp_path: Path) -> None:
    config = noisy_config(str(tmp_path), ["baby"], ["lightgcn", "ld4mrec"])
    config["datasets"]["baby_noisy"] = {"label": "Baby (noisy)", "derived_from": "baby", "transform": "random_noise"}
    table = build_plan(config, models=implemented_models(), base=tmp_path).experiments[NOISY_TABLE]
    frame = result_table(table, tidy_metrics([])).set_index(["dataset", "model"])
    paper = paper_value("ld4mrec_table3_noisy.csv", "baby", "ld4mrec", "recall", "20")
    assert frame.loc[("baby_noisy", "ld4mrec"), "paper Recall@20"] == paper
    assert frame.loc[("baby", "ld4mrec"), "paper Recall@20"] != frame.loc[("baby", "ld4mrec"), "paper Recall@20"]  # NaN
    # without a noisy copy of a paper dataset its noisy rows are named as absent, never given to the clean one
    keys = set(paper_results(experiment(NOISY_TABLE), table.datasets)["dataset_key"])
    assert keys == {"baby_noisy", "sports+random_noise", "elec+random_noise"}


def test_derived_datasets_and_entries_are_checked(tmp_path: Path) -> None:
    config = noisy_config(str(tmp_path), ["tiktok"], ["lightgcn"])
    config["datasets"]["x_noisy"] = {"label": "x", "derived_from": "nope", "transform": "random_noise"}
    with pytest.raises(PlanError, match="datasets.x_noisy.derived_from: unknown dataset 'nope'"):
        build_plan(config, models=implemented_models(), base=tmp_path)
    config["datasets"]["x_noisy"]["derived_from"] = "tiktok_noisy"
    with pytest.raises(PlanError, match="'tiktok_noisy' is itself derived; name its source"):
        build_plan(config, models=implemented_models(), base=tmp_path)
    raw = {"kind": "table", "datasets": ["tiktok"], "derived": ["flip"], "cells": {"lightgcn": ["full"]}}
    with pytest.raises(RegistryError, match=r"experiments.x.y.derived: \['flip'\] not among random_noise"):
        parse_entry("x.y", raw)


def test_an_mmrec_dataset_is_planned_and_shown_under_its_label(toy_dir: Path) -> None:
    plan = build_plan(toy_config(toy_dir), models=implemented_models(), base=toy_dir.parent)
    table = plan.experiments[NOISY_TABLE]
    assert list(table.datasets) == ["toy", "toy_noisy"]
    shown = display_frame(table, result_table(table, tidy_metrics([])))
    assert set(shown["Dataset"]) == {"Toy (MMRec)", "Toy (noisy)"}


def test_a_configured_layout_must_match_the_folder(toy_dir: Path) -> None:
    assert load_dataset(toy_dir / "toy", layout="mmrec").n_users == 40
    with pytest.raises(DataError, match="configured as the release layout but holds the mmrec layout"):
        load_dataset(toy_dir / "toy", layout="release")


# ---- Snakemake ---------------------------------------------------------------------------


def test_dry_run_of_the_noisy_table_holds_the_noisy_data_job(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    write_config(work, noisy_config(str(tmp_path / "nodata"), ["tiktok"], ["lightgcn", "ld4mrec"]))
    out = snakemake(work, "-n", "--quiet", "rules")
    assert job_counts(out.stdout + out.stderr) == {
        "all": 1,
        "data": 1,
        "noisy_data": 1,
        "train": 4,  # LightGCN and LD4MRec, clean and noisy, one seed
        "plan": 1,
        "table_ld4mrec_table3": 1,
        "reproduction": 1,
    }


def test_the_data_rules_make_an_mmrec_folder_and_its_noisy_copy(toy_dir: Path, tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    write_config(work, toy_config(toy_dir))
    out = snakemake(work, "-n", "--quiet", "rules")
    assert job_counts(out.stdout + out.stderr)["noisy_data"] == 1
    snakemake(work, "--cores", "1", "resources/data/toy_noisy/stats.json")
    clean = load_mmrec(toy_dir / "toy")
    assert json.loads((work / "resources/data/toy/stats.json").read_text()) == json.loads(
        json.dumps(dataset_stats(clean))
    )
    stats = json.loads((work / "resources/data/toy_noisy/stats.json").read_text())
    expected = add_random_noise(clean, seed=3, ratio=0.1)  # the config's seed and ratio
    assert (stats["train_interactions"], stats["val_interactions"]) == (expected.train.nnz, expected.val.nnz)
    assert stats["test_interactions"] == clean.test.nnz
    total = clean.train.nnz + clean.val.nnz + clean.test.nnz
    assert stats["interactions"] == total + int(0.1 * total)  # 1.1 x the clean count
    assert stats["modalities"] == dataset_stats(clean)["modalities"]
    link = work / "resources/data/toy_noisy/image_feat.npy"
    assert link.is_symlink() and link.resolve() == (toy_dir / "toy" / "image_feat.npy").resolve()
