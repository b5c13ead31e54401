"""The DAG: job counts of `snakemake -n` for small configs, shared runs counted once, a bad
config stopped by the schema naming the key, and cells that cannot run reported with a reason.

Plan-level tests call mmdiffbench.plan directly (fast); a few run `snakemake -n` for real.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from mmdiffbench.plan import EXPERIMENTS, FIGURES, TABLES, PlanError, build_plan, registered_models
from tests._workflow_helpers import copy_workflow, job_counts, load_default_config, snakemake, write_config

MODELS_WITHOUT_DIFFMM = {"mf_bpr": ["full"], "lightgcn": ["full"]}
MODELS_WITH_DIFFMM = {**MODELS_WITHOUT_DIFFMM, "diffmm": sorted(load_default_config()["models"]["diffmm"]["variants"])}


def small_config(data_dir: str, **changes) -> dict:
    """Two datasets without features, two models, two experiments sharing the LightGCN run."""
    config = load_default_config()
    config["data_dir"] = data_dir
    config["scale"] = "paper"
    config["scales"]["paper"] = {
        "datasets": ["baby", "sports"],
        "seeds": [1, 2],
        "experiments": ["overall", "sparsity"],
        "set": {"epochs": 1},
        "model_set": {},
    }
    config["experiments"] = {
        "overall": {"datasets": ["baby", "sports"], "models": {"mf_bpr": ["full"], "lightgcn": ["full"]}},
        "sparsity": {"datasets": ["baby"], "models": {"lightgcn": ["full"]}},
    }
    config.update(changes)
    return config


# ---- plan level ------------------------------------------------------------------------


def test_shared_run_counted_once(tmp_path: Path) -> None:
    plan = build_plan(small_config(str(tmp_path)), models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    # overall: 2 datasets x 2 models x 2 seeds = 8; sparsity's 2 baby/lightgcn runs are among them
    assert len(plan.runs) == 8
    assert len(plan.experiments["sparsity"].metrics_paths()) == 2
    assert set(plan.experiments["sparsity"].metrics_paths()) <= {f"{r.run_dir}/metrics.json" for r in plan.runs}


def test_default_config_plans_every_experiment(tmp_path: Path) -> None:
    config = load_default_config()
    config["data_dir"] = str(tmp_path)  # no local copy: features only where config lists them
    plan = build_plan(config, models=MODELS_WITH_DIFFMM, base=tmp_path)
    assert list(plan.experiments) == list(EXPERIMENTS)
    # DiffMM needs features; only TikTok has feature files in the config
    diffmm_runs = [r for r in plan.runs if r.model == "diffmm"]
    assert {r.dataset for r in diffmm_runs} == {"tiktok"}
    variants = {
        v
        for e, vs in config["experiments"].items()
        for m, vv in vs["models"].items()
        if m == "diffmm"
        for v in vv
        if "tiktok" in vs["datasets"]
    }
    assert len(diffmm_runs) == len(variants) * 3  # each distinct variant once per seed (full is shared)
    assert {r.dataset for r in plan.runs if r.model == "lightgcn"} == {"tiktok", "baby", "sports"}
    reasons = [s for s in plan.skipped if s.dataset in ("baby", "sports") and s.model == "diffmm"]
    assert reasons and all("no feature files" in s.reason for s in reasons)


def test_unregistered_model_is_left_out_with_reason(tmp_path: Path) -> None:
    config = load_default_config()
    config["data_dir"] = str(tmp_path)
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    assert all(r.model != "diffmm" for r in plan.runs)
    assert any("not registered" in s.reason for s in plan.skipped if s.model == "diffmm")


def test_local_feature_files_make_a_multimodal_cell_runnable(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    config["models"]["mf_bpr"]["multimodal"] = True  # pretend, to exercise the rule
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    assert {(s.dataset, s.model) for s in plan.skipped} == {("baby", "mf_bpr"), ("sports", "mf_bpr")}
    (tmp_path / "baby").mkdir()
    (tmp_path / "baby" / "text_feat.npy").write_bytes(b"")
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    assert {(s.dataset, s.model) for s in plan.skipped} == {("sports", "mf_bpr")}


def test_case_study_is_planned_where_diffmm_can_run(tmp_path: Path) -> None:
    config = load_default_config()
    config["data_dir"] = str(tmp_path)
    case = build_plan(config, models=MODELS_WITH_DIFFMM, base=tmp_path).experiments["case_study"]
    assert [(c.dataset, c.model, c.variant) for c in case.cells] == [("tiktok", "diffmm", "full")]
    assert [(s.dataset, "no feature files" in s.reason) for s in case.skipped] == [("baby", True)]


def test_unknown_variant_is_a_config_error(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    config["experiments"]["overall"]["models"]["lightgcn"] = ["nope"]
    with pytest.raises(PlanError, match="nope"):
        build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)


def test_variant_overrides_merge_scale_model_and_variant(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    config["scales"]["paper"]["model_set"] = {"lightgcn": {"epochs": 2, "n_layers": 2}}
    config["models"]["lightgcn"]["variants"]["l1"] = {"variant": "full", "set": {"n_layers": 1}}
    config["experiments"]["overall"]["models"]["lightgcn"] = ["full", "l1"]
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    cells = {(c.model, c.variant): c for c in plan.experiments["overall"].cells if c.dataset == "baby"}
    assert cells[("lightgcn", "l1")].library_variant == "full"
    assert cells[("lightgcn", "l1")].overrides == ["epochs=2", "n_layers=1"]
    assert cells[("mf_bpr", "full")].overrides == ["epochs=1"]


# ---- real dry runs ---------------------------------------------------------------------


def test_dry_run_small_config_job_counts(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    write_config(work, small_config(str(tmp_path / "nodata")))
    out = snakemake(work, "-n", "--quiet", "rules")
    counts = job_counts(out.stdout + out.stderr)
    assert counts == {
        "all": 1,
        "data": 2,
        "train": 8,  # the shared baby/lightgcn runs are counted once
        "plan": 2,
        "table_overall": 1,
        "figure_sparsity": 1,
        "reproduction": 1,
    }


def test_dry_run_default_config_lists_every_experiment(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    out = snakemake(work, "-n", "--quiet", "rules")
    counts = job_counts(out.stdout + out.stderr)
    for name in TABLES:
        assert counts.get(f"table_{name}") == 1, name
    for name in FIGURES:
        assert counts.get(f"figure_{name}") == 1, name
    assert counts["plan"] == len(EXPERIMENTS)
    config = load_default_config()
    expected = build_plan(config, models=registered_models(), base=work)
    assert counts["train"] == len(expected.runs)
    assert counts["case_study"] == len(expected.experiments["case_study"].cells) == 1
    assert counts["data"] == 3
    # cells that cannot run are printed with their reason
    text = out.stdout + out.stderr
    assert "left out" in text
    for skipped in expected.skipped:
        assert skipped.line() in text


def test_bad_config_stops_naming_the_key(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    config = load_default_config()
    config["experiments"]["ablation"]["datasetz"] = config["experiments"]["ablation"].pop("datasets")
    write_config(work, config)
    out = snakemake(work, "-n", check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "Error validating config file" in text and "'datasetz' was unexpected" in text

    config = load_default_config()
    config["device"] = "gpu"
    write_config(work, config)
    out = snakemake(work, "-n", check=False)
    assert out.returncode != 0
    text = out.stdout + out.stderr
    assert "'gpu' is not one of ['cpu', 'cuda']" in text and "device" in text


def test_bad_checksum_in_config_stops(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    config = copy.deepcopy(load_default_config())
    config["datasets"]["tiktok"]["files"]["trnMat.pkl"]["sha256"] = "xyz"
    write_config(work, config)
    out = snakemake(work, "-n", check=False)
    assert out.returncode != 0 and "'xyz' does not match" in out.stdout + out.stderr
