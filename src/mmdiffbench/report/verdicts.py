"""Verdicts on one claim from per-seed values (a Series per model or variant, index = seed; an
empty Series = no run): the status logic of the claims section, free of files and registry.

- holds: our means agree with the claim and its test has p < 0.05;
- not significant: our means agree, p >= 0.05 (with 3 seeds, a likely outcome);
- does not hold: our means contradict the claim (the test's p says whether the contradiction
  is itself significant);
- not run here: the model, a variant or every baseline has no run;
- not in the paper: an improvement on a dataset the paper prints no numbers for (ours is shown).
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd

from mmdiffbench.report.significance import paired_t_test, relative_gains, t_test

HOLDS, FAILS, NOT_SIGNIFICANT, NOT_RUN = "holds", "does not hold", "not significant", "not run here"
NOT_IN_PAPER = "not in the paper"  # a dataset of ours the paper prints no numbers for: nothing to check against


@dataclass(frozen=True)
class Verdict:
    status: str
    ours: str
    test: str = ""


def _strongest(
    name: str, model: pd.Series, baselines: dict[str, pd.Series], tuned: Collection[str]
) -> tuple[str, pd.Series, str] | Verdict:
    """(label and per-seed values of our strongest baseline by mean, 'k of n baselines run, j of
    them tuned on validation'), or the verdict `not run here` when the model or every baseline
    has no run. `tuned`: the labels of the baselines run at settings chosen on validation."""
    run = {label: s for label, s in baselines.items() if len(s)}
    if not len(model) or not run:
        return Verdict(NOT_RUN, f"{name} not run" if not len(model) else "no baseline run")
    best = max(run, key=lambda label: float(run[label].mean()))
    n_tuned = sum(label in tuned for label in run)
    return best, run[best], f"{len(run)} of {len(baselines)} baselines run, {n_tuned} of them tuned on validation"


def judge_beats(name: str, model: pd.Series, baselines: dict[str, pd.Series], tuned: Collection[str]) -> Verdict:
    """`model` beats every baseline: per-seed values (index = seed); an empty Series = not run."""
    strongest = _strongest(name, model, baselines, tuned)
    if isinstance(strongest, Verdict):
        return strongest
    best, values, count = strongest
    test = paired_t_test(model, values)
    ours = f"{name} {model.mean():.4f} vs {best} {values.mean():.4f} ({count})"
    above = [label for label, s in baselines.items() if len(s) and s.mean() >= model.mean()]
    if above:
        return Verdict(FAILS, f"{ours}; not beaten: {', '.join(above)}", f"vs {best}: {test.text()}")
    return Verdict(HOLDS if test.significant else NOT_SIGNIFICANT, ours, f"vs {best}: {test.text()}")


def judge_improvement(
    name: str, model: pd.Series, baselines: dict[str, pd.Series], paper_gain: float, tuned: Collection[str]
) -> Verdict:
    """Our relative improvement over the strongest baseline reaches the paper's `paper_gain`."""
    strongest = _strongest(name, model, baselines, tuned)
    if isinstance(strongest, Verdict):
        return strongest
    best, values, count = strongest
    gain = float(model.mean() / values.mean()) - 1.0
    ours = f"{gain:+.1%} over {best} ({count})"
    if math.isnan(paper_gain):
        return Verdict(NOT_IN_PAPER, ours, f"vs {best}: {paired_t_test(model, values).text()}")
    if gain >= paper_gain:
        test = paired_t_test(model, values)
        return Verdict(HOLDS if test.significant else NOT_SIGNIFICANT, ours, f"vs {best}: {test.text()}")
    test = t_test(relative_gains(model, values), paper_gain)
    return Verdict(FAILS, ours, f"per-seed gain vs the paper's {paper_gain:+.1%}: {test.text()}")


def judge_order(tiers: list[list[str]], ours: dict[str, pd.Series]) -> Verdict:
    """Every variant of a tier beats every variant of the tiers below (keys: variant labels)."""
    missing = sorted(v for tier in tiers for v in tier if not len(ours.get(v, ())))
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
