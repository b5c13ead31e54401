"""results/reproduction.md: every paper cell of DiffMM Tables 1-5 next to ours.

For each paper cell and each protocol: our mean ± std over seeds, the difference
(ours - paper), and whether the paper's value lies within one standard deviation of our
mean ("n/a" with a single seed). Cells we did not run say why (left out with the plan's
reason, not at this scale, or a model this benchmark does not implement).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mmdiffbench.plan import ExperimentPlan
from mmdiffbench.report.collect import PROTOCOLS, mean_pm_std, summarize, tidy_metrics
from mmdiffbench.report.paper import PAPER_TABLES, load_paper_table, paper_results

RESULT_EXPERIMENTS = ["overall", "ablation", "tau_lambda1", "cl_variants"]


def _md_table(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "_(none)_\n"
    cols = list(frame.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"


def within(paper: float, mean: float, std: float, n: int) -> str:
    if pd.isna(mean) or pd.isna(paper):
        return ""
    if n < 2 or pd.isna(std):
        return "n/a (1 seed)"
    return "yes" if abs(mean - paper) <= std else "no"


def comparison(experiment: str, plan: ExperimentPlan | None, summary: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (paper cell, protocol)."""
    paper = paper_results(experiment)
    ran = {(c.dataset, c.model, c.variant) for c in plan.cells} if plan else set()
    skipped = {(s.dataset, s.model, s.variant): s.reason for s in plan.skipped} if plan else {}
    rows = []
    for p in paper.itertuples(index=False):
        key = (p.dataset_key, p.model_key, p.variant)
        base = {
            "table": p.table,
            "dataset": p.dataset,
            "model": p.model,
            "variant": p.label_as_printed,
            "metric": p.metric_key,
            "paper": p.value,
        }
        if key not in ran:
            if key in skipped:
                status = f"left out: {skipped[key]}"
            elif plan is None:
                status = "experiment not run at this scale"
            elif p.dataset_key not in plan.datasets:
                status = "dataset not at this scale"
            else:
                status = "model not in this benchmark"
            rows.append({**base, "protocol": "", "ours": "", "diff": "", "within 1 std": "", "status": status})
            continue
        for protocol, label in PROTOCOLS.items():
            hit = summary[
                (summary.dataset == key[0])
                & (summary.model == key[1])
                & (summary.variant == key[2])
                & (summary.protocol == protocol)
                & (summary.metric == p.metric_key)
            ]
            if hit.empty:
                rows.append(
                    {**base, "protocol": label, "ours": "", "diff": "", "within 1 std": "", "status": "metric missing"}
                )
                continue
            mean, std, n = float(hit["mean"].iloc[0]), float(hit["std"].iloc[0]), int(hit["n_seeds"].iloc[0])
            rows.append(
                {
                    **base,
                    "protocol": label,
                    "ours": mean_pm_std(mean, std),
                    "diff": f"{mean - p.paper_value:+.4f}" if pd.notna(p.paper_value) else "",
                    "within 1 std": within(p.paper_value, mean, std, n),
                    "status": f"ok ({n} seed{'s' if n != 1 else ''})",
                }
            )
    return pd.DataFrame(rows)


def stats_comparison(plan: ExperimentPlan | None) -> pd.DataFrame:
    paper = load_paper_table(PAPER_TABLES["datasets"])
    rows = []
    for p in paper.itertuples(index=False):
        ours = ""
        if plan and p.dataset_key in plan.datasets:
            path = Path(plan.datasets[p.dataset_key]["stats"])
            if path.is_file():
                stats = json.loads(path.read_text())
                if p.quantity == "feature_dim":
                    names = {"visual": "image", "acoustic": "audio", "textual": "text"}
                    ours = stats.get("modalities", {}).get(names.get(p.modality, p.modality), "absent")
                elif p.quantity == "sparsity":
                    ours = f"{stats['sparsity_percent']:.3f}%"
                elif p.quantity == "interactions":
                    ours = f"{stats['train_interactions']} train / {stats['interactions']} all"
                else:
                    ours = stats.get(p.quantity, "")
        rows.append(
            {
                "dataset": p.dataset,
                "quantity": p.quantity,
                "modality": p.modality if pd.notna(p.modality) else "",
                "paper": p.value_as_printed,
                "ours": ours,
            }
        )
    return pd.DataFrame(rows)


def write_reproduction(plans: list[ExperimentPlan], path: Path | str) -> Path:
    path = Path(path)
    by_name = {p.name: p for p in plans}
    any_plan = plans[0] if plans else None
    paths = sorted({m for p in plans for m in p.metrics_paths()})
    summary = summarize(tidy_metrics(paths))
    out = ["# Reproduction of the DiffMM paper: every paper cell beside ours\n"]
    if any_plan:
        out.append(f"Scale **{any_plan.scale}**, seeds {', '.join(map(str, any_plan.seeds))}. ")
    out.append(
        "Ours = mean ± sample std over seeds, under each protocol: *validation-selected* (epoch with the best "
        "validation Recall@20) and *best test epoch* (epoch with the best test Recall@20, the protocol of the "
        "paper's official code). diff = ours - paper. 'within 1 std' = |ours - paper| <= our seed std. "
        "Tables 2-4 print no K in the paper; K = 20 (see paper_tables/README.md).\n"
    )
    skipped = [s for p in plans for s in p.skipped]
    out.append(f"\n## Cells left out ({len(skipped)})\n")
    out.append("".join(f"- {s.line()}\n" for s in skipped) or "_(none)_\n")
    titles = {
        "overall": "Table 1 (overall)",
        "ablation": "Table 2 (ablation)",
        "tau_lambda1": "Table 3 (tau, lambda_1)",
        "cl_variants": "Table 4 (CL variants)",
    }
    for name in RESULT_EXPERIMENTS:
        out.append(f"\n## {titles[name]}\n\n")
        out.append(_md_table(comparison(name, by_name.get(name), summary)))
    out.append("\n## Table 5 (dataset statistics)\n\n")
    out.append(_md_table(stats_comparison(by_name.get("datasets"))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(out))
    return path
