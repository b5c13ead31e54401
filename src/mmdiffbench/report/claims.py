"""The papers' headline claims (claims.yaml) rechecked on our runs: the "Claims" section of
results/reproduction.md.

Each claim is checked per dataset of its experiment, metric and epoch selection, from the
per-seed test values of the runs (never the paper's numbers), with a paired t-test over the
seeds both sides ran (report/significance.py). Status:
- holds: our means agree with the claim and the claim's test has p < 0.05;
- not significant: our means agree, p >= 0.05 (with 3 seeds, a likely outcome);
- does not hold: our means contradict the claim (its p says whether the contradiction is
  significant itself);
- not run here: the model, a variant or every baseline has no run (experiment, dataset or model
  not at this scale, or not implemented);
- smoke run: runs cut short to test the workflow are never judged.
Run folders keep averages only (metrics.json `test`, `test_groups`), no per-user metrics, so no
test pairs users: every test pairs seeds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pandas as pd
import yaml

from mmdiffbench.experiments import Experiment, experiment, paper_info
from mmdiffbench.plan_types import ExperimentPlan
from mmdiffbench.report.collect import PROTOCOLS
from mmdiffbench.report.paper import paper_results
from mmdiffbench.report.significance import paired_t_test, relative_gains, t_test

KINDS = ("beats_baselines", "improvement", "ablation_order")
CLAIM_KEYS = {"paper", "kind", "experiment", "model", "metrics", "order", "where"}
HOLDS, FAILS, NOT_SIGNIFICANT = "holds", "does not hold", "not significant"
NOT_RUN, SMOKE_RUN = "not run here", "smoke run (not a reproduction)"
COLUMNS = ["claim", "dataset", "metric", "protocol", "paper's", "ours", "test", "status"]
INTRO = (
    "Each paper's headline claims (src/mmdiffbench/claims.yaml), recomputed from our runs: per dataset, "
    "metric and epoch selection (val_selected, best_test_epoch), from the per-seed test values. Tests: "
    "two-sided t-tests over seeds, paired by seed (n = seeds both sides ran); with n = 3 (2 degrees of "
    "freedom) p < 0.05 needs |t| > 4.30, so 'not significant' is weak evidence either way, and no "
    "correction for the many rows is made. Status: holds (our means agree, p < 0.05), not significant "
    "(they agree, p >= 0.05), does not hold (they contradict the claim; p of the contradiction given), "
    "not run here, smoke run. Beats: the model against our strongest baseline (the others are below it "
    "in mean). Improvement: ours = mean(model) / mean(strongest baseline) - 1, beside the paper's "
    "computed the same way from its table; when ours is smaller, the test compares the per-seed "
    "improvements with the paper's value. Ablation order: every claimed step (a tier above the next) "
    "tested, the weakest shown. Run folders hold no per-user metrics, so no test pairs users."
)


class ClaimError(ValueError):
    """A malformed claims.yaml entry; the message names it."""


@dataclass(frozen=True)
class Claim:
    paper: str
    kind: str
    experiment: str
    model: str
    metrics: tuple[str, ...]
    where: str
    order: str | tuple[tuple[str, ...], ...] = "table"

    @property
    def name(self) -> str:
        """The paper's model as the paper names it (`DiffMM`)."""
        return str(paper_info(self.paper).get("name", self.model)).split(" (")[0]

    @property
    def title(self) -> str:
        what = {
            "beats_baselines": "beats every baseline",
            "improvement": "improves on the strongest baseline by at least the paper's margin",
            "ablation_order": "ranks its ablation variants as the paper does",
        }[self.kind]
        return f"{self.name} {what} ({experiment(self.experiment).title})"


def parse_claim(raw: dict[str, Any], origin: str) -> Claim:
    unknown = set(raw) - CLAIM_KEYS
    if unknown:
        raise ClaimError(f"{origin}: unknown field(s) {sorted(unknown)}; known: {sorted(CLAIM_KEYS)}")
    if raw.get("kind") not in KINDS:
        raise ClaimError(f"{origin}.kind: {raw.get('kind')!r} is not one of {', '.join(KINDS)}")
    entry = experiment(str(raw.get("experiment")))
    if raw.get("model") not in {c.model for c in entry.cells}:
        raise ClaimError(f"{origin}.model: {raw.get('model')!r} has no cell in {entry.key}")
    metrics = tuple(raw.get("metrics") or ())
    if not metrics or set(metrics) - set(entry.metrics):
        raise ClaimError(f"{origin}.metrics: {list(metrics)} must be a non-empty subset of {list(entry.metrics)}")
    order = raw.get("order", "table")
    if order == "table" and not entry.paper_csv and raw["kind"] == "ablation_order":
        raise ClaimError(f"{origin}.order: {entry.key} has no paper table; list the tiers")
    if order != "table":
        order = tuple(tuple(tier) for tier in order)
    return Claim(raw["paper"], raw["kind"], entry.key, raw["model"], metrics, raw.get("where", ""), order)


@cache
def claims() -> tuple[Claim, ...]:
    raw = yaml.safe_load((resources.files("mmdiffbench") / "claims.yaml").read_text())
    return tuple(parse_claim(c, f"claims[{i}]") for i, c in enumerate(raw["claims"]))


@dataclass(frozen=True)
class Verdict:
    status: str
    ours: str
    test: str = ""


def _strongest(name: str, model: pd.Series, baselines: dict[str, pd.Series]) -> tuple[str, pd.Series, str] | Verdict:
    """(label and per-seed values of our strongest baseline by mean, 'k of n baselines run'), or
    the verdict `not run here` when the model or every baseline has no run."""
    run = {label: s for label, s in baselines.items() if len(s)}
    if not len(model) or not run:
        return Verdict(NOT_RUN, f"{name} not run" if not len(model) else "no baseline run")
    best = max(run, key=lambda label: float(run[label].mean()))
    return best, run[best], f"{len(run)} of {len(baselines)} baselines run"


def judge_beats(name: str, model: pd.Series, baselines: dict[str, pd.Series]) -> Verdict:
    """`model` beats every baseline: per-seed values (index = seed); an empty Series = not run."""
    strongest = _strongest(name, model, baselines)
    if isinstance(strongest, Verdict):
        return strongest
    best, values, count = strongest
    test = paired_t_test(model, values)
    ours = f"{name} {model.mean():.4f} vs {best} {values.mean():.4f} ({count})"
    above = [label for label, s in baselines.items() if len(s) and s.mean() >= model.mean()]
    if above:
        return Verdict(FAILS, f"{ours}; not beaten: {', '.join(above)}", f"vs {best}: {test.text()}")
    return Verdict(HOLDS if test.significant else NOT_SIGNIFICANT, ours, f"vs {best}: {test.text()}")


def judge_improvement(name: str, model: pd.Series, baselines: dict[str, pd.Series], paper_gain: float) -> Verdict:
    """Our relative improvement over the strongest baseline reaches the paper's `paper_gain`."""
    strongest = _strongest(name, model, baselines)
    if isinstance(strongest, Verdict):
        return strongest
    best, values, count = strongest
    gain = float(model.mean() / values.mean()) - 1.0
    ours = f"{gain:+.1%} over {best} ({count})"
    if gain >= paper_gain:
        test = paired_t_test(model, values)
        return Verdict(HOLDS if test.significant else NOT_SIGNIFICANT, ours, f"vs {best}: {test.text()}")
    test = t_test(relative_gains(model, values), paper_gain)
    return Verdict(FAILS, ours, f"per-seed gain vs the paper's {paper_gain:+.1%}: {test.text()}")


def judge_order(tiers: list[list[str]], ours: dict[str, pd.Series]) -> Verdict:
    """Every variant of a tier beats every variant of the tiers below (keys: variant labels)."""
    missing = [v for tier in tiers for v in tier if not len(ours.get(v, ()))]
    if missing:
        return Verdict(NOT_RUN, f"not run: {', '.join(missing)}")
    means = {v: float(ours[v].mean()) for tier in tiers for v in tier}
    ranked = " > ".join(sorted(means, key=lambda v: -means[v]))
    pairs = [(a, b) for i, upper in enumerate(tiers) for lower in tiers[i + 1 :] for a in upper for b in lower]
    against = [(a, b) for a, b in pairs if means[a] <= means[b]]
    if against:
        a, b = against[0]
        listed = ", ".join(f"{a} <= {b}" for a, b in against)
        return Verdict(
            FAILS, f"{ranked}; against the claim: {listed}", f"{a} vs {b}: {paired_t_test(ours[a], ours[b]).text()}"
        )
    steps = [
        (a, b, paired_t_test(ours[a], ours[b])) for i in range(len(tiers) - 1) for a in tiers[i] for b in tiers[i + 1]
    ]
    a, b, weakest = max(steps, key=lambda s: math.inf if math.isnan(s[2].p) else s[2].p)
    status = HOLDS if all(s[2].significant for s in steps) else NOT_SIGNIFICANT
    return Verdict(status, ranked, f"weakest step {a} > {b}: {weakest.text()}")


def paper_tiers(paper: pd.DataFrame, labels: dict[str, str]) -> list[list[str]]:
    """The paper's variants (labels) from best to worst value; equal values share a tier."""
    tiers: dict[float, list[str]] = {}
    for variant, value in zip(paper["variant"], paper["paper_value"]):
        tiers.setdefault(float(value), []).append(labels[variant])
    return [tiers[value] for value in sorted(tiers, reverse=True)]


def _tiers_text(tiers: list[list[str]]) -> str:
    return " > ".join(" = ".join(tier) for tier in tiers)


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
        models.setdefault(cell.model, cell.model)
        if cell.model == claim.model:
            variants.setdefault(cell.paper_key, cell.label or cell.variant)
    return models, variants


@dataclass(frozen=True)
class _Context:
    """What the verdicts of one experiment need: its registry entry, the paper's rows, display names."""

    claim: Claim
    entry: Experiment
    paper: pd.DataFrame
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
        own = float(rows.loc[rows.model_key == claim.model, "paper_value"].iloc[0])
        others = rows[rows.model_key != claim.model]
        best = others.loc[others["paper_value"].idxmax()]
        gain = own / float(best["paper_value"]) - 1.0
        if claim.kind == "improvement":
            return f"{gain:+.1%} over {best['model']}", gain
        return f"{claim.name} {own:.4f} vs {best['model']} {best['paper_value']:.4f}", gain

    def verdict(self, values: dict[tuple[str, str], pd.Series], paper: pd.DataFrame, gain: float) -> Verdict:
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
            return judge_improvement(claim.name, model, baselines, gain)
        return judge_beats(claim.name, model, baselines)


def claim_rows(claim: Claim, plan: ExperimentPlan | None, tidy: pd.DataFrame, tag: str) -> list[dict[str, str]]:
    """The claim's rows: one per dataset, metric and protocol (one per dataset when not judged)."""
    if plan is None:
        return [{"claim": tag, "dataset": "all", "status": f"{NOT_RUN}: experiment not at this scale"}]
    entry = experiment(claim.experiment)
    paper = paper_results(entry)
    context = _Context(claim, entry, paper, *_labels(claim, entry, paper))
    rows = []
    for dataset in entry.datasets:
        if plan.smoke or dataset not in plan.datasets:
            status = SMOKE_RUN if plan.smoke else f"{NOT_RUN}: dataset not at this scale"
            rows.append({"claim": tag, "dataset": dataset, "status": status})
            continue
        for metric in claim.metrics:
            mine = paper[(paper.dataset_key == dataset) & (paper.metric_key == metric)]
            said, gain = context.paper_side(mine)
            for protocol in PROTOCOLS:
                verdict = context.verdict(_per_seed(tidy, dataset, protocol, metric), mine, gain)
                row = {"claim": tag, "dataset": dataset, "metric": metric, "protocol": protocol, "paper's": said}
                rows.append({**row, "ours": verdict.ours, "test": verdict.test, "status": verdict.status})
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
