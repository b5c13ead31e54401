"""The papers' headline claims as data (src/mmdiffbench/claims.yaml), read and checked against
the experiment registry; report/claims.py rechecks them on our runs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml

from mmdiffbench.experiments import experiment, paper_info

KINDS = ("beats_baselines", "improvement", "ablation_order")
CLAIM_KEYS = {"paper", "kind", "experiment", "model", "metrics", "order", "where"}


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
