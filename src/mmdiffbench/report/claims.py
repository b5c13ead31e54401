"""The "Claims" section of results/<scale>/reproduction.md: each claim of claims.yaml (report/claim_specs.py)
rechecked on our runs, per dataset of its experiment, metric and epoch selection, from the runs'
per-seed test values (never the paper's numbers), judged by report/verdicts.py with t-tests
paired by seed (report/significance.py). A smoke run is never judged. Run folders keep averages
only (metrics.json `test`, `test_groups`), no per-user metrics, so no test pairs users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from mmdiffbench.collect import PROTOCOLS
from mmdiffbench.experiments import Experiment, experiment
from mmdiffbench.plan_types import ExperimentPlan
from mmdiffbench.report.claim_specs import Claim, claims
from mmdiffbench.report.labels import model_label
from mmdiffbench.report.paper import paper_results
from mmdiffbench.report.verdicts import (
    NOT_IN_PAPER,
    NOT_RUN,
    Verdict,
    judge_beats,
    judge_improvement,
    judge_order,
    paper_tiers,
)
from mmdiffbench.tuning.presets import grid_chosen

SMOKE_RUN = "smoke run (not a reproduction)"
COLUMNS = ["claim", "dataset", "metric", "protocol", "paper's", "ours", "test", "status"]
INTRO = (
    "Each paper's headline claims (src/mmdiffbench/claims.yaml), recomputed from our runs: per dataset, "
    "metric and epoch selection (val_selected, best_test_epoch), from the per-seed test values. Tests: "
    "two-sided t-tests over seeds, paired by seed (n = seeds both sides ran); with n = 3 (2 degrees of "
    "freedom) p < 0.05 needs |t| > 4.30, so 'not significant' is weak evidence either way, and no "
    "correction for the many rows is made. Status: holds (our means agree, p < 0.05), not significant "
    "(they agree, p >= 0.05), does not hold (they contradict the claim; p of the contradiction given), "
    "not run here, not in the paper (a dataset the paper has no numbers for: ours shown, the "
    "beats claim still judged), smoke run. Claims on transformed data (LD4MRec's noisy training) are judged on "
    "the transformed runs only. Beats: the model against our strongest baseline (the others are below it "
    "in mean). Baselines tuned on validation: those whose preset for the dataset (a derived dataset: its "
    "source's) sets a setting their validation grid (tune.<model>) sweeps; the others run at their reference "
    "implementation's defaults. Improvement: ours = mean(model) / mean(strongest baseline) - 1, beside the paper's "
    "computed the same way from its table; when ours is smaller, the test compares the per-seed "
    "improvements with the paper's value. Ablation order: every claimed step (a tier above the next) "
    "tested, the weakest shown; braces hold variants the claim does not order (equal in the paper, or "
    "unordered in its text). Run folders hold no per-user metrics, so no test pairs users."
)


def _tiers_text(tiers: list[list[str]]) -> str:
    """`a > {b, c} > d`: braces hold a tier whose variants are not ordered (equal values, or unstated)."""
    return " > ".join(tier[0] if len(tier) == 1 else "{" + ", ".join(tier) + "}" for tier in tiers)


def _per_seed(tidy: pd.DataFrame, dataset: str, protocol: str, metric: str) -> dict[tuple[str, str], pd.Series]:
    """(model, variant) -> its per-seed values (index = seed) on one dataset, protocol and metric."""
    hit = tidy[(tidy.dataset == dataset) & (tidy.protocol == protocol) & (tidy.metric == metric)]
    return {
        (str(model), str(variant)): pd.Series(group["value"].to_numpy(dtype=float), index=group["seed"].to_numpy())
        for (model, variant), group in hit.groupby(["model", "variant"])
    }


def _labels(claim: Claim, entry: Experiment, paper: pd.DataFrame) -> tuple[dict[str, str], dict[str, str]]:
    """Display names: model key -> the paper's model name; the claim model's variant -> its row label."""
    models = dict(zip(paper["model_key"], paper["model"]))
    own = paper[paper.model_key == claim.model]
    variants = dict(zip(own["variant"], own["label_as_printed"]))
    for cell in entry.cells:
        # a model the paper's table does not have (LightGCN in LD4MRec's Table 3): its declared label
        models.setdefault(cell.model, model_label(cell.model))
        if cell.model == claim.model:
            variants.setdefault(cell.paper_key, cell.label or cell.variant)
    return models, variants


@dataclass(frozen=True)
class _Context:
    """What the verdicts of one claim need: the claim, its registry entry, display names."""

    claim: Claim
    entry: Experiment
    models: dict[str, str]
    variants: dict[str, str]

    def tiers(self, paper: pd.DataFrame) -> list[list[str]]:
        """The claimed order of the variants (labels) on one dataset and metric."""
        if self.claim.order == "table":
            return paper_tiers(paper[paper.model_key == self.claim.model], self.variants)
        return [[self.variants.get(v, v) for v in tier] for tier in self.claim.order]

    def paper_side(self, paper: pd.DataFrame) -> tuple[str, float]:
        """What the paper says on one dataset and metric, and its relative improvement (NaN if none)."""
        claim = self.claim
        if claim.kind == "ablation_order":
            return _tiers_text(self.tiers(paper)) + ("" if claim.order == "table" else " (stated)"), math.nan
        rows = paper[paper.variant == "full"].dropna(subset=["paper_value"])
        own_rows, others = rows[rows.model_key == claim.model], rows[rows.model_key != claim.model]
        if own_rows.empty or others.empty:  # a dataset of ours the paper has no numbers for (TikTok in LD4MRec)
            return NOT_IN_PAPER, math.nan
        own = float(own_rows["paper_value"].iloc[0])
        best = others.loc[others["paper_value"].idxmax()]
        gain = own / float(best["paper_value"]) - 1.0
        if claim.kind == "improvement":
            return f"{gain:+.1%} over {best['model']}", gain
        return f"{claim.name} {own:.4f} vs {best['model']} {best['paper_value']:.4f}", gain

    def tuned(self, dataset: str) -> frozenset[str]:
        """Labels of the baselines whose preset for `dataset` holds settings of their validation grid."""
        return frozenset(
            self.models[c.model]
            for c in self.entry.cells
            if c.model != self.claim.model and grid_chosen(c.model, dataset)
        )

    def verdict(
        self, values: dict[tuple[str, str], pd.Series], paper: pd.DataFrame, gain: float, tuned: frozenset[str]
    ) -> Verdict:
        claim, empty = self.claim, pd.Series(dtype=float)
        if claim.kind == "ablation_order":
            mine = [c for c in self.entry.cells if c.model == claim.model and c.variant == c.paper_key]
            ours = {self.variants[c.paper_key]: values.get((c.model, c.variant), empty) for c in mine}
            return judge_order(self.tiers(paper), ours)
        model = values.get((claim.model, "full"), empty)
        baselines = {
            self.models[c.model]: values.get((c.model, c.variant), empty)
            for c in self.entry.cells
            if c.model != claim.model
        }
        if claim.kind == "improvement":
            return judge_improvement(claim.name, model, baselines, gain, tuned)
        return judge_beats(claim.name, model, baselines, tuned)


def judged_datasets(entry: Experiment, plan: ExperimentPlan) -> list[str]:
    """The datasets a claim of `entry` is judged on: its datasets, or for an entry of transformed
    data (LD4MRec's noisy training) the plan's datasets derived from each by those transforms,
    never the clean source (`<source>+<transform>` when the plan has no such dataset: not run here)."""
    if not entry.derived:
        return list(entry.datasets)
    judged = []
    for source in entry.datasets:
        derived = [
            name
            for name, info in plan.datasets.items()
            if info.get("derived_from") == source and info.get("transform") in entry.derived
        ]
        judged += derived or [f"{source}+{transform}" for transform in entry.derived]
    return judged


def claim_rows(claim: Claim, plan: ExperimentPlan | None, tidy: pd.DataFrame, tag: str) -> list[dict[str, str]]:
    """The claim's rows: one per dataset, metric and protocol; one per dataset where nothing is judged."""
    if plan is None:
        return [{"claim": tag, "dataset": "all", "status": f"{NOT_RUN}: experiment not at this scale"}]
    entry = experiment(claim.experiment)
    paper = paper_results(entry, plan.datasets)
    context = _Context(claim, entry, *_labels(claim, entry, paper))
    rows = []
    for dataset in judged_datasets(entry, plan):
        if plan.smoke or dataset not in plan.datasets:
            status = SMOKE_RUN if plan.smoke else f"{NOT_RUN}: dataset not at this scale"
            rows.append({"claim": tag, "dataset": dataset, "status": status})
            continue
        judged = []
        tuned = context.tuned(plan.datasets[dataset].get("derived_from", dataset))  # whose presets apply
        for metric in claim.metrics:
            mine = paper[(paper.dataset_key == dataset) & (paper.metric_key == metric)]
            said, gain = context.paper_side(mine)
            for protocol in PROTOCOLS:
                verdict = context.verdict(_per_seed(tidy, dataset, protocol, metric), mine, gain, tuned)
                row = {"claim": tag, "dataset": dataset, "metric": metric, "protocol": protocol, "paper's": said}
                judged.append({**row, "ours": verdict.ours, "test": verdict.test, "status": verdict.status})
        if all(r["status"] == NOT_RUN for r in judged) and len({r["ours"] for r in judged}) == 1:
            why = next((s.reason for s in plan.skipped if (s.dataset, s.model) == (dataset, claim.model)), "")
            ours = judged[0]["ours"] + (f" (left out: {why})" if why else "")
            judged = [{"claim": tag, "dataset": dataset, "ours": ours, "status": NOT_RUN}]
        rows += judged
    return rows


def claims_table(plans: list[ExperimentPlan], tidy: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """The claims section: one line per claim (`C<n>. title: where`) and the table of their rows."""
    by_name = {p.name: p for p in plans}
    lines, rows = [], []
    for number, claim in enumerate(claims(), 1):
        tag = f"C{number}"
        lines.append(f"{tag}. {claim.title}. {claim.where}")
        rows += claim_rows(claim, by_name.get(claim.experiment), tidy, tag)
    return lines, pd.DataFrame(rows, columns=COLUMNS)
