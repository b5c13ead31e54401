"""The claims section: t-tests against scipy and closed forms, verdicts on hand-made seeds, and
the section written from hand-made run folders."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mmdiffbench.experiments import experiment
from mmdiffbench.plan_types import Cell, ExperimentPlan, Skipped
from mmdiffbench.report.claim_specs import ClaimError, claims, parse_claim
from mmdiffbench.report.claims import INTRO, SMOKE_RUN
from mmdiffbench.report.paper import paper_results
from mmdiffbench.report.reproduction import write_reproduction
from mmdiffbench.report.significance import ALPHA, paired_t_test, relative_gains, t_test
from mmdiffbench.report.verdicts import (
    FAILS,
    HOLDS,
    NOT_RUN,
    NOT_SIGNIFICANT,
    judge_beats,
    judge_improvement,
    judge_order,
    paper_tiers,
)


def seeds(*values: float, at: tuple[int, ...] = (421, 1, 2)) -> pd.Series:
    return pd.Series(values, index=list(at[: len(values)]))


EMPTY = pd.Series(dtype=float)


# --- statistics -------------------------------------------------------------------------------


def test_paired_t_test_matches_scipy_and_the_closed_form_for_two_degrees_of_freedom() -> None:
    a, b = seeds(0.13, 0.12, 0.15), seeds(0.12, 0.10, 0.12)  # differences 0.01, 0.02, 0.03
    test = paired_t_test(a, b)
    reference = stats.ttest_rel(a.to_numpy(), b.to_numpy())
    assert test.n == 3 and test.t == pytest.approx(reference.statistic) and test.p == pytest.approx(reference.pvalue)
    # by hand: mean 0.02, sd 0.01, t = 0.02 / (0.01 / sqrt 3) = 2 sqrt 3; with 2 degrees of freedom the
    # two-sided p is 1 - t / sqrt(2 + t^2) (the t(2) cdf is 1/2 + t / (2 sqrt(2 + t^2)))
    t = 2 * math.sqrt(3)
    assert test.mean == pytest.approx(0.02)
    assert test.t == pytest.approx(t)
    assert test.p == pytest.approx(1 - t / math.sqrt(2 + t * t))  # 0.0742: not significant with 3 seeds
    assert not test.significant and test.text() == "n=3, t=3.46, p=0.0742"


def test_the_section_states_the_critical_t_of_three_seeds() -> None:
    assert f"p < 0.05 needs |t| > {stats.t.ppf(1 - ALPHA / 2, 2):.2f}" in INTRO  # two-sided, 2 degrees of freedom


def test_pairs_by_seed_and_leaves_unpaired_seeds_out() -> None:
    a = pd.Series([0.30, 0.10, 0.20, 0.90], index=[3, 1, 2, 7])
    b = pd.Series([0.15, 0.05, 0.12], index=[2, 1, 3])
    test = paired_t_test(a, b)
    reference = stats.ttest_rel([0.10, 0.20, 0.30], [0.05, 0.15, 0.12])  # seeds 1, 2, 3 in order
    assert test.n == 3 and test.p == pytest.approx(reference.pvalue)
    assert relative_gains(a, b) == pytest.approx([0.10 / 0.05 - 1, 0.20 / 0.15 - 1, 0.30 / 0.12 - 1])


def test_one_sample_t_test_and_degenerate_cases() -> None:
    values = np.array([0.12, 0.15, 0.19, 0.11])
    reference = stats.ttest_1samp(values, 0.2)
    test = t_test(values, 0.2)
    assert test.t == pytest.approx(reference.statistic) and test.p == pytest.approx(reference.pvalue)
    single = paired_t_test(seeds(0.2), seeds(0.1))
    assert single.n == 1 and math.isnan(single.p) and not single.significant and single.text() == "n=1: no test"
    assert t_test(np.array([0.1, 0.1, 0.1]), 0.1).p == 1.0  # no spread, no difference
    assert t_test(np.array([0.1, 0.1, 0.1])).p == 0.0  # no spread, a difference: certain


# --- verdicts on hand-made seeds --------------------------------------------------------------


def test_beats_holds_is_not_significant_or_fails() -> None:
    model = seeds(0.100, 0.104, 0.103)
    weak, strong = seeds(0.050, 0.052, 0.049), seeds(0.089, 0.090, 0.088)
    verdict = judge_beats("M", model, {"A": weak, "B": strong, "C": EMPTY}, tuned={"B", "C"})
    assert verdict.status == HOLDS  # differences to B 0.011, 0.014, 0.015: t = 11.1, p = 0.008
    # C is tuned but not run: only the run baselines count
    assert verdict.ours == "M 0.1023 vs B 0.0890 (2 of 3 baselines run, 1 of them tuned on validation)"
    assert verdict.test == f"vs B: {paired_t_test(model, strong).text()}"
    noisy = seeds(0.080, 0.110, 0.090)  # mean 0.0933 < 0.1023, differences 0.020, -0.006, 0.013
    assert judge_beats("M", model, {"B": noisy}, ()).status == NOT_SIGNIFICANT
    better = seeds(0.110, 0.101, 0.120)
    failed = judge_beats("M", model, {"A": weak, "B": better}, ())
    assert failed.status == FAILS and failed.ours.endswith("not beaten: B")
    assert judge_beats("M", EMPTY, {"A": weak}, ()).status == NOT_RUN
    assert judge_beats("M", model, {"A": EMPTY}, ()).ours == "no baseline run"


def test_improvement_reaches_the_papers_margin_or_not() -> None:
    model, baseline = seeds(0.120, 0.123, 0.121), seeds(0.100, 0.101, 0.100)  # about +21%
    assert judge_improvement("M", model, {"B": baseline}, 0.10, ()).status == HOLDS
    small = judge_improvement("M", model, {"B": baseline}, 0.73, ())  # the paper claims +73%
    gain = model.mean() / baseline.mean() - 1  # 0.121333 / 0.100333 - 1 = +20.9%
    assert (
        small.status == FAILS
        and small.ours == f"{gain:+.1%} over B (1 of 1 baselines run, 0 of them tuned on validation)"
    )
    gains = np.array([0.20, 0.123 / 0.101 - 1, 0.21])
    assert small.test == f"per-seed gain vs the paper's +73.0%: {t_test(gains, 0.73).text()}"
    assert t_test(gains, 0.73).p == pytest.approx(stats.ttest_1samp(gains, 0.73).pvalue)


def test_order_holds_fails_on_a_reversed_step_and_needs_every_variant() -> None:
    ours = {
        "full": seeds(0.110, 0.112, 0.111),
        "w/o A": seeds(0.100, 0.101, 0.099),
        "w/o B": seeds(0.090, 0.092, 0.091),
    }
    verdict = judge_order([["full"], ["w/o A"], ["w/o B"]], ours)
    assert verdict.status == HOLDS and verdict.ours == "full > w/o A > w/o B"
    weakest = max(paired_t_test(ours["full"], ours["w/o A"]).p, paired_t_test(ours["w/o A"], ours["w/o B"]).p)
    assert verdict.test.endswith(f"p={weakest:.3g}")
    failed = judge_order([["full"], ["w/o B"], ["w/o A"]], ours)  # the claim puts w/o B above w/o A
    assert failed.status == FAILS and failed.ours == "full > w/o A > w/o B; against the claim: w/o B <= w/o A"
    tiered = judge_order([["full"], ["w/o A", "w/o B"]], ours)  # variants of one tier are not ordered
    assert tiered.status == HOLDS
    assert judge_order([["full"], ["w/o C"]], ours).status == NOT_RUN


def test_paper_tiers_put_equal_values_together() -> None:
    paper = pd.DataFrame({"variant": ["a", "b", "c", "d"], "paper_value": [0.09, 0.10, 0.09, 0.08]})
    assert paper_tiers(paper, {v: v.upper() for v in "abcd"}) == [["B"], ["A", "C"], ["D"]]


# --- the claims file --------------------------------------------------------------------------


def test_every_claim_loads_and_its_paper_values_exist() -> None:
    loaded = claims()
    assert {(c.paper, c.kind) for c in loaded} >= {
        ("diffmm", "beats_baselines"),
        ("diffmm", "improvement"),
        ("diffmm", "ablation_order"),
        ("diffcl", "ablation_order"),
        ("ld4mrec", "ablation_order"),
    }
    for claim in loaded:
        entry = experiment(claim.experiment)
        if claim.kind == "ablation_order" and claim.order != "table":
            assert {v for tier in claim.order for v in tier} <= {c.variant for c in entry.cells}
            continue
        paper = paper_results(entry)
        own = paper[(paper.model_key == claim.model) & paper.paper_value.notna()]
        printed = set(paper.dataset_key) & set(entry.datasets)  # TikTok joins ld4mrec.table3 without paper rows
        assert printed, claim
        for dataset in printed:
            assert set(claim.metrics) <= set(own[own.dataset_key == dataset].metric_key), (claim, dataset)


def test_bad_claims_fail_with_one_line() -> None:
    good = {"paper": "diffmm", "kind": "beats_baselines", "experiment": "diffmm.table1", "model": "diffmm"}
    with pytest.raises(ClaimError, match=r"claims\[0\].kind: 'wins'"):
        parse_claim({**good, "kind": "wins", "metrics": ["recall@20"]}, "claims[0]")
    with pytest.raises(ClaimError, match="must be a non-empty subset"):
        parse_claim({**good, "metrics": ["recall@50"]}, "claims[0]")
    with pytest.raises(ClaimError, match="'diffcl' has no cell in diffmm.table1"):
        parse_claim({**good, "model": "diffcl", "metrics": ["recall@20"]}, "claims[0]")
    with pytest.raises(ClaimError, match="no paper table; list the tiers"):
        parse_claim(
            {
                **good,
                "kind": "ablation_order",
                "experiment": "ld4mrec.fig3",
                "model": "ld4mrec",
                "metrics": ["recall@20"],
            },
            "claims[0]",
        )


# --- the section in reproduction.md -----------------------------------------------------------

RECALL = {"diffmm": (0.100, 0.104, 0.103), "lightgcn": (0.089, 0.090, 0.088)}


def _runs(experiment_key: str, dataset: str, model: str, variant: str, recall: tuple[float, ...]) -> Cell:
    """One cell's run folders, a metrics.json per seed (421, 1, 2): NDCG = recall / 2, both protocols alike."""
    dirs = []
    for seed, value in zip((421, 1, 2), recall):
        run = Path(f"results/runs/{dataset}/{model}/{variant}/seed{seed}")
        run.mkdir(parents=True, exist_ok=True)
        test = {"recall@20": value, "ndcg@20": value / 2, "precision@20": value / 20}
        metrics = {
            "model": model,
            "variant": variant,
            "dataset": dataset,
            "seed": seed,
            "selected_epoch": 5,
            "test": test,
            "paper_protocol": {"epoch": 5, "test": test},
        }
        (run / "metrics.json").write_text(json.dumps(metrics))
        dirs.append(str(run))
    return Cell(experiment_key, dataset, model, variant, variant, [], dirs)


@pytest.fixture()
def table1_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ExperimentPlan:
    monkeypatch.chdir(tmp_path)
    Path("stats.json").write_text(json.dumps({"modalities": {"image": 128, "audio": 128}}))
    cells = [_runs("diffmm.table1", "tiktok", model, "full", values) for model, values in RECALL.items()]
    skipped = [Skipped("diffmm.table1", "tiktok", "bm3", "full", "model not implemented")]
    datasets = {"tiktok": {"label": "TikTok", "stats": "stats.json"}}
    return ExperimentPlan("diffmm.table1", "table", "paper", [421, 1, 2], datasets, cells, skipped)


def _rows(text: str, tag: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(f"| {tag} |")]


def test_reproduction_has_the_claims_section(table1_plan: ExperimentPlan, tmp_path: Path) -> None:
    text = write_reproduction([table1_plan], tmp_path / "reproduction.md").read_text()
    assert "## Claims of the papers, rechecked on our runs" in text and "no test pairs users" in text
    beats = _rows(text, "C1")
    assert len(beats) == 2 * 2 + 2  # TikTok: 2 metrics x 2 protocols; Baby and Sports not at this scale
    # DiffMM 0.1023 vs LightGCN 0.0890 per seed differences 0.011, 0.014, 0.015: significant (p = 0.008)
    p = stats.ttest_rel(RECALL["diffmm"], RECALL["lightgcn"]).pvalue
    assert (
        "| C1 | tiktok | recall@20 | val_selected | DiffMM 0.1129 vs BM3 0.0957 | DiffMM 0.1023 vs LightGCN 0.0890 "
        f"(1 of 15 baselines run, 1 of them tuned on validation) | vs LightGCN: n=3, t=11.09, p={p:.3g} | holds |"
        in beats
    )
    assert "| C1 | baby |  |  |  |  |  | not run here: dataset not at this scale |" in beats
    # the paper's +18.0% (0.1129 / 0.0957 - 1) is not reached: ours +14.9%
    gain = np.mean(RECALL["diffmm"]) / np.mean(RECALL["lightgcn"]) - 1
    (row,) = [r for r in _rows(text, "C2") if "| recall@20 | val_selected |" in r]
    tuned = "1 of 15 baselines run, 1 of them tuned on validation"  # LightGCN's TikTok preset: its grid's choice
    assert f"| +18.0% over BM3 | {gain:+.1%} over LightGCN ({tuned}) |" in row and row.endswith("| does not hold |")
    assert "| C3 | all |" in text and "experiment not at this scale" in _rows(text, "C3")[0]


def test_a_model_not_run_takes_one_row_per_dataset(table1_plan: ExperimentPlan, tmp_path: Path) -> None:
    skipped = [Skipped("diffmm.table2", "tiktok", "diffmm", v, "a reason") for v in ("wo_cl", "wo_dm", "wo_msi")]
    ablation = ExperimentPlan("diffmm.table2", "table", "paper", [421, 1, 2], table1_plan.datasets, [], skipped)
    text = write_reproduction([table1_plan, ablation], tmp_path / "reproduction.md").read_text()
    row = _rows(text, "C3")[0]  # DiffMM's full run is Table 1's: one run serves every table that needs it
    assert row == "| C3 | tiktok |  |  |  | not run: w/o CL, w/o DM, w/o MSI (left out: a reason) |  | not run here |"
    assert len(_rows(text, "C3")) == 3  # TikTok, and Baby and Sports not at this scale


def test_claimed_orders_print_unordered_tiers_in_braces(table1_plan: ExperimentPlan, tmp_path: Path) -> None:
    baby = {"baby": table1_plan.datasets["tiktok"]}
    plans = []
    for key in ("diffcl.table3", "ld4mrec.fig3"):
        cells = [_runs(key, "baby", c.model, c.variant, (0.1, 0.1, 0.1)) for c in experiment(key).cells]
        plans.append(ExperimentPlan(key, "table", "paper", [421, 1, 2], baby, cells))
    text = write_reproduction(plans, tmp_path / "reproduction.md").read_text()
    # DiffCL Table III, Baby R@20: align+h 0.0993 > full 0.0987 > h = diff+h 0.0986 > diff 0.0925 > ...
    (row,) = [r for r in _rows(text, "C6") if "| baby | recall@20 | val_selected |" in r]
    assert "| DiffCL_align+h > DiffCL > {DiffCL_h, DiffCL_diff+h} > DiffCL_diff > DiffCL_diff+align > " in row
    assert row.endswith("| does not hold |")  # every variant scores 0.1 on every seed: no step holds
    (row,) = [r for r in _rows(text, "C10") if "| baby | ndcg@20 | best_test_epoch |" in r]
    assert "| full > {wo_bg, wo_bd, wo_sr} (stated) |" in row


def test_a_smoke_run_is_never_judged(table1_plan: ExperimentPlan, tmp_path: Path) -> None:
    table1_plan.smoke = True
    text = write_reproduction([table1_plan], tmp_path / "reproduction.md").read_text()
    rows = _rows(text, "C1") + _rows(text, "C2")
    assert rows and all(r.endswith(f"| {SMOKE_RUN} |") for r in rows)


def test_noisy_training_claims_are_judged_on_the_noisy_runs_and_tiktok_has_no_paper_side(
    table1_plan: ExperimentPlan, tmp_path: Path
) -> None:
    """LD4MRec Table 3's claim is about noisy training: judged on `<source>_noisy` runs, never on
    the clean ones; TikTok, where the paper prints nothing, is judged without a paper side."""
    stats_file = table1_plan.datasets["tiktok"]["stats"]
    datasets = {
        "tiktok": {"label": "TikTok", "stats": stats_file},
        "tiktok_noisy": {
            "label": "TikTok (noisy)",
            "stats": stats_file,
            "derived_from": "tiktok",
            "transform": "random_noise",
        },
    }
    # clean runs: LightGCN above LD4MRec; noisy runs: LD4MRec above LightGCN on every seed
    cells = [
        _runs("ld4mrec.table3", "tiktok", "ld4mrec", "full", (0.070, 0.071, 0.072)),
        _runs("ld4mrec.table3", "tiktok", "lightgcn", "full", (0.090, 0.091, 0.092)),
        _runs("ld4mrec.table3", "tiktok_noisy", "ld4mrec", "full", (0.080, 0.083, 0.081)),
        _runs("ld4mrec.table3", "tiktok_noisy", "lightgcn", "full", (0.070, 0.072, 0.069)),
    ]
    plan = ExperimentPlan("ld4mrec.table3", "table", "paper", [421, 1, 2], datasets, cells)
    text = write_reproduction([plan], tmp_path / "reproduction.md").read_text()
    rows = _rows(text, "C9")
    (row,) = [r for r in rows if "| tiktok_noisy | recall@20 | val_selected |" in r]
    p = stats.ttest_rel((0.080, 0.083, 0.081), (0.070, 0.072, 0.069)).pvalue
    # LightGCN runs on the noisy data at TikTok's preset (the source's), its grid's choice: tuned
    ours = "LD4MRec 0.0813 vs LightGCN 0.0703 (1 of 3 baselines run, 1 of them tuned on validation)"
    assert f"| not in the paper | {ours} | vs LightGCN: n=3, t=" in row
    assert row.endswith(f"p={p:.3g} | holds |")
    assert not [r for r in rows if "| tiktok |" in r]  # the clean runs judge nothing here
    # Baby: the paper's noisy numbers, no noisy Baby in this plan: not run here, under its derived name
    assert "| C9 | baby+random_noise |  |  |  |  |  | not run here: dataset not at this scale |" in rows
