"""The DAG: job counts of `snakemake -n` for small configs, shared runs counted once (also two
cells that resolve to the same settings), a bad config stopped by the schema naming the key, and
cells that cannot run reported with a reason.

Plan-level tests call mmdiffbench.plan directly (fast); a few run `snakemake -n` for real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mmdiffbench.config import declaration, list_variants
from mmdiffbench.experiments import registry
from mmdiffbench.jobs import ModelInfo, implemented_models, release_files
from mmdiffbench.plan import build_plan
from mmdiffbench.plan_types import NOT_IMPLEMENTED, PlanError, left_out_file, left_out_summary
from tests._workflow_helpers import copy_workflow, job_counts, load_default_config, snakemake, write_config

HINTS = {"small": {"runtime": 10, "mem_mb": 1000}, "large": {"runtime": 20, "mem_mb": 3000}}
MODELS_WITHOUT_DIFFMM = {"mf_bpr": ModelInfo(("full",), False, HINTS), "lightgcn": ModelInfo(("full",), False, HINTS)}
MODELS_WITH_DIFFMM = {**MODELS_WITHOUT_DIFFMM, "diffmm": ModelInfo(tuple(list_variants("diffmm")), True, HINTS)}
BASELINES = {"mf_bpr", "lightgcn"}


def small_config(data_dir: str, **changes) -> dict:
    """Baby and Sports (no features), two seeds, Table 1 (2 baselines runnable there) and Fig. 2
    (the same two baselines: shared runs)."""
    config = load_default_config()
    config["data_dir"] = data_dir
    config["scale"] = "paper"
    config["scales"]["paper"] = {
        "datasets": ["baby", "sports"],
        "seeds": [1, 2],
        "experiments": ["diffmm.table1", "diffmm.fig2"],
        "models": sorted(BASELINES),
        "set": {"epochs": 1},
        "model_set": {},
    }
    config.update(changes)
    return config


# ---- plan level ------------------------------------------------------------------------


def test_shared_run_counted_once(tmp_path: Path) -> None:
    plan = build_plan(small_config(str(tmp_path)), models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    # Table 1: 2 datasets x 2 baselines x 2 seeds = 8; Fig. 2 needs the same runs
    assert len(plan.runs) == 8
    fig2 = plan.experiments["diffmm.fig2"]
    assert len(fig2.metrics_paths()) == 8
    assert set(fig2.metrics_paths()) == {f"{r.run_dir}/metrics.json" for r in plan.runs}


def test_default_config_plans_every_experiment(tmp_path: Path) -> None:
    config = load_default_config()
    config["data_dir"] = str(tmp_path)  # no local copy: features only where config lists them
    plan = build_plan(config, models=MODELS_WITH_DIFFMM, base=tmp_path)
    assert list(plan.experiments) == list(registry())
    # DiffMM needs features; only TikTok has feature files in the config
    diffmm_runs = [r for r in plan.runs if r.model == "diffmm"]
    assert {r.dataset for r in diffmm_runs} == {"tiktok"}
    variants = {
        c.variant for e in registry().values() if "tiktok" in e.datasets for c in e.cells if c.model == "diffmm"
    }
    assert {"official_eval", "lambda0_0.001", "tau_1.0_lambda1_0.01", "fusion_ratio_0.2"} <= variants
    # under the TikTok preset these set what `full` already has: they are full's runs
    same_as_full = {"fusion_ratio_0", "anchor_main", "trans_linear", "lambda0_0.1", "omega_0.5", "tau_0.5_lambda1_0.01"}
    assert same_as_full <= variants
    assert len(diffmm_runs) == (len(variants) - len(same_as_full)) * 3  # one run per distinct setting and seed
    cells = [c for e in plan.experiments.values() for c in e.cells if c.model == "diffmm" and c.dataset == "tiktok"]
    full = next(c.run_dirs for c in cells if c.variant == "full")
    assert {c.variant for c in cells if c.run_dirs == full} == {"full", *same_as_full}
    assert full[0] == "results/paper/runs/tiktok/diffmm/full/seed421"
    # tiktok_noisy: the noisy copy LD4MRec's Table 3 trains on (config datasets.tiktok_noisy)
    assert {r.dataset for r in plan.runs if r.model == "lightgcn"} == {"tiktok", "tiktok_noisy", "baby", "sports"}
    reasons = [s for s in plan.skipped if s.dataset in ("baby", "sports") and s.model == "diffmm"]
    assert reasons and all("no feature files" in s.reason for s in reasons)


def test_cells_with_the_same_resolved_settings_share_one_run(tmp_path: Path) -> None:
    # n_layers=2 is LightGCN's Sports preset (its validation grid), so on Sports the sweep point is
    # the `full` cell's configuration; Baby's preset (4 layers) makes it a run of its own
    sweeps = {"diffmm.table1": [{"model": "lightgcn", "axes": {"n_layers": [3, 2]}}]}
    plan = build_plan(small_config(str(tmp_path), sweeps=sweeps), models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    cells = {(c.dataset, c.variant): c for c in plan.experiments["diffmm.table1"].cells if c.model == "lightgcn"}
    assert cells[("sports", "n_layers_2")].run_dirs == cells[("sports", "full")].run_dirs  # both cells, one run
    assert cells[("sports", "n_layers_2")].run == "full"
    assert cells[("sports", "n_layers_3")].run_dirs != cells[("sports", "full")].run_dirs
    assert cells[("baby", "n_layers_2")].run_dirs != cells[("baby", "full")].run_dirs
    # x 2 seeds: mf_bpr on 2 datasets; lightgcn full, n_layers_3, n_layers_2 on Baby, full and n_layers_3 on Sports
    assert len(plan.runs) == (2 + 3 + 2) * 2
    assert sorted({r.name for r in plan.runs if r.model == "lightgcn"}) == ["full", "n_layers_2", "n_layers_3"]


def test_a_sweep_key_no_model_has_stops_the_plan(tmp_path: Path) -> None:
    sweeps = {"diffmm.table1": [{"model": "lightgcn", "axes": {"n_layerz": [1]}}]}
    with pytest.raises(PlanError, match="diffmm.table1: lightgcn/n_layerz_1 on baby: unknown key 'n_layerz'"):
        build_plan(small_config(str(tmp_path), sweeps=sweeps), models=MODELS_WITHOUT_DIFFMM, base=tmp_path)


def test_scales_plan_into_their_own_trees(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    config["scales"]["quick"] = {**config["scales"]["paper"], "set": {"epochs": 2}}
    for scale in ("paper", "quick"):
        plan = build_plan({**config, "scale": scale}, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
        assert plan.runs and all(r.run_dir.startswith(f"results/{scale}/runs/") for r in plan.runs)
        assert {r.epochs for r in plan.runs} == {1 if scale == "paper" else 2}


def test_models_not_implemented_are_planned_as_left_out(tmp_path: Path) -> None:
    config = load_default_config()
    config["data_dir"] = str(tmp_path)
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    assert all(r.model != "diffmm" for r in plan.runs)
    assert all(s.reason == NOT_IMPLEMENTED for s in plan.skipped if s.model == "diffmm")
    # the DiffCL / LD4MRec tables are planned: their cells are left out, Baby and Sports only
    # (video / elec: not configured); LD4MRec's Table 3 also on TikTok, clean and noisy
    noisy_table = {"tiktok", "tiktok_noisy", "baby", "sports"}
    expected = {"diffcl.table3": {"baby", "sports"}, "ld4mrec.table3": noisy_table, "ld4mrec.fig3": {"baby", "sports"}}
    for key, datasets in expected.items():
        skipped = plan.experiments[key].skipped
        assert skipped and {s.reason for s in skipped} == {NOT_IMPLEMENTED}
        assert {s.dataset for s in skipped} == datasets
    ld4mrec = plan.experiments["ld4mrec.table2"]
    assert {c.model for c in ld4mrec.cells} == BASELINES
    summary = left_out_summary(plan.skipped, 100)
    assert summary[0].startswith(f"{sum(s.reason == NOT_IMPLEMENTED for s in plan.skipped)} cell(s): {NOT_IMPLEMENTED}")


def test_local_feature_files_make_a_multimodal_cell_runnable(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    models = {**MODELS_WITHOUT_DIFFMM, "mf_bpr": ModelInfo(("full",), True, HINTS)}  # pretend, to exercise the rule
    plan = build_plan(config, models=models, base=tmp_path)
    table1 = plan.experiments["diffmm.table1"]
    assert {(s.dataset, s.model) for s in table1.skipped if s.model in BASELINES} == {
        ("baby", "mf_bpr"),
        ("sports", "mf_bpr"),
    }
    (tmp_path / "baby").mkdir()
    (tmp_path / "baby" / "text_feat.npy").write_bytes(b"")
    plan = build_plan(config, models=models, base=tmp_path)
    table1 = plan.experiments["diffmm.table1"]
    assert {(s.dataset, s.model) for s in table1.skipped if s.model in BASELINES} == {("sports", "mf_bpr")}


def test_case_study_is_planned_where_diffmm_can_run(tmp_path: Path) -> None:
    config = load_default_config()
    config["data_dir"] = str(tmp_path)
    case = build_plan(config, models=MODELS_WITH_DIFFMM, base=tmp_path).experiments["diffmm.fig5"]
    assert [(c.dataset, c.model, c.variant) for c in case.cells] == [("tiktok", "diffmm", "full")]
    assert [(s.dataset, "no feature files" in s.reason) for s in case.skipped] == [("baby", True)]


def test_unknown_experiment_and_library_variant_are_config_errors(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    config["scales"]["paper"]["experiments"] = ["diffmm.tabel1"]
    with pytest.raises(PlanError, match=r"scales.paper.experiments: unknown experiment 'diffmm.tabel1'"):
        build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    config = small_config(
        str(tmp_path), sweeps={"diffmm.table1": [{"model": "lightgcn", "variant": "nope", "axes": {"n_layers": [1]}}]}
    )
    with pytest.raises(PlanError, match="diffmm.table1: lightgcn/n_layers_1: library variant 'nope' unknown"):
        build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    config = small_config(str(tmp_path), sweeps={"diffmm.tabel1": []})
    with pytest.raises(PlanError, match="sweeps: unknown experiment 'diffmm.tabel1'"):
        build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)


def test_sweep_overrides_merge_scale_model_and_sweep_point(tmp_path: Path) -> None:
    config = small_config(str(tmp_path), sweeps={"diffmm.table1": [{"model": "lightgcn", "axes": {"n_layers": [1]}}]})
    config["scales"]["paper"]["model_set"] = {"lightgcn": {"epochs": 2, "n_layers": 2}}
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    cells = {(c.model, c.variant): c for c in plan.experiments["diffmm.table1"].cells if c.dataset == "baby"}
    assert cells[("lightgcn", "n_layers_1")].library_variant == "full"
    assert cells[("lightgcn", "n_layers_1")].params == {"n_layers": 1}
    assert cells[("lightgcn", "n_layers_1")].overrides == ["epochs=2", "n_layers=1"]
    assert cells[("lightgcn", "full")].overrides == ["epochs=2", "n_layers=2"]
    assert cells[("mf_bpr", "full")].overrides == ["epochs=1"]


def test_registry_sweeps_name_cells_as_the_paper_csvs() -> None:
    cells = registry()["diffmm.table3"].cells
    assert [c.variant for c in cells[:2]] == ["tau_0.1_lambda1_1", "tau_0.1_lambda1_0.1"]
    assert cells[0].params == (("tau", 0.1), ("lambda1", 1))
    assert [c.variant for c in registry()["diffmm.fig3a"].cells] == [
        "lambda0_1",
        "lambda0_0.5",
        "lambda0_0.1",
        "lambda0_0.01",
        "lambda0_0.001",
    ]


# ---- real dry runs ---------------------------------------------------------------------


def test_dry_run_small_config_job_counts(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    write_config(work, small_config(str(tmp_path / "nodata")))
    out = snakemake(work, "-n", "--quiet", "rules")
    counts = job_counts(out.stdout + out.stderr)
    assert counts == {
        "all": 1,
        "data": 2,
        "train": 8,  # Fig. 2's runs are Table 1's, counted once
        "plan": 2,
        "table_diffmm_table1": 1,
        "figure_diffmm_fig2": 1,
        "reproduction": 1,
    }


def test_dry_run_default_config_lists_every_experiment(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    out = snakemake(work, "-n", "--quiet", "rules")
    counts = job_counts(out.stdout + out.stderr)
    for key, entry in registry().items():
        kind = "figure" if entry.is_figure else "table"
        assert counts.get(f"{kind}_{key.replace('.', '_')}") == 1, key
    assert counts["plan"] == len(registry())
    config = load_default_config()
    expected = build_plan(config, models=implemented_models(), base=work)
    assert counts["train"] == len(expected.runs)
    assert counts["case_study"] == len(expected.experiments["diffmm.fig5"].cells) == 1
    assert counts["data"] == 3
    # cells that cannot run: one short line, the list with reasons in the scale's tree
    said = [line for line in out.stderr.splitlines() if "left out" in line]
    assert said == [
        f"mmdiffbench: {len(expected.skipped)} cell(s) left out; the list and why: results/paper/left_out.txt"
    ]
    assert (work / "results/paper/left_out.txt").read_text() == left_out_file(expected.skipped)
    # the cost, before anything runs
    assert f"mmdiffbench: {len(expected.runs)} training job(s) planned" in out.stderr


def test_bad_config_stops_naming_the_key(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    config = load_default_config()
    config["scales"]["quick"]["datasetz"] = config["scales"]["quick"].pop("datasets")
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


def test_checksums_live_in_the_package(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    args = [(n, c.split(":")[0]) for n, _, c in release_files(config, "baby")]
    assert args == [("trnMat.pkl", "sha256"), ("tstMat.pkl", "sha256"), ("valMat.pkl", "sha256")]
    # a second copy of a known checksum in config.yaml is refused, naming the key
    config["datasets"]["baby"]["files"]["trnMat.pkl"] = {"url": None, "sha256": "0" * 64}
    with pytest.raises(PlanError, match=r"datasets.baby.files.trnMat.pkl: its checksum lives in"):
        build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    # a file the package does not know must bring its own
    config = small_config(str(tmp_path))
    config["datasets"]["baby"]["files"]["image_feat.npy"] = "https://example.org/image_feat.npy"
    with pytest.raises(PlanError, match=r"datasets.baby.files.image_feat.npy: no checksum known"):
        build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    config["datasets"]["baby"]["files"]["image_feat.npy"] = {"url": None, "git_blob": "1" * 40}
    assert ("image_feat.npy", None, "git_blob:" + "1" * 40) in release_files(config, "baby")


def test_resources_come_from_the_model_declarations(tmp_path: Path) -> None:
    config = small_config(str(tmp_path))
    config["datasets"]["baby"]["size"] = "small"
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    sizes = {c.dataset: c.resources for c in plan.experiments["diffmm.table1"].cells}
    assert sizes == {"baby": HINTS["small"], "sports": HINTS["large"]}
    config["scales"]["paper"]["resources"] = {"runtime": 5}  # a scale may replace a hint
    plan = build_plan(config, models=MODELS_WITHOUT_DIFFMM, base=tmp_path)
    assert plan.experiments["diffmm.table1"].cells[0].resources == {"runtime": 5, "mem_mb": 1000}


def test_train_jobs_get_the_declared_resources(tmp_path: Path) -> None:
    work = copy_workflow(tmp_path / "wf")
    config = small_config(str(tmp_path / "nodata"))
    config["scales"]["paper"]["experiments"] = ["diffmm.table1"]
    write_config(work, config)
    out = snakemake(work, "-n")
    blocks = [b for b in (out.stdout + out.stderr).split("\n\n") if "rule train:" in b]
    hints = declaration("lightgcn")["resources"]["large"]
    lightgcn = [b for b in blocks if "/lightgcn/" in b]
    assert lightgcn and all(f"mem_mb={hints['mem_mb']}" in b and f"runtime={hints['runtime']}" in b for b in lightgcn)
