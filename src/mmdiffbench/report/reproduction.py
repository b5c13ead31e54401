"""results/<scale>/reproduction.md: every paper cell of the registry's tables next to ours.

For each registry entry with the paper's numbers (experiments.yaml `paper_csv`), each paper
cell and each protocol: our mean ± std over seeds, the difference (ours - paper), and whether
the paper's value lies within one standard deviation of our mean ("n/a" with a single seed),
with the row's note (how our setting differs). Cells we did not run say why (left out with the
plan's reason, e.g. a model not implemented, or not at this scale).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from mmdiffbench.collect import PROTOCOLS, mean_pm_std, summarize, tidy_metrics
from mmdiffbench.experiments import RESULT_KINDS, Experiment, paper_info, registry
from mmdiffbench.plan_types import SMOKE, ExperimentPlan, left_out_summary
from mmdiffbench.report.claims import INTRO as CLAIMS_INTRO
from mmdiffbench.report.claims import claims_table
from mmdiffbench.report.labels import SMOKE_STATUS, percent
from mmdiffbench.report.notes import row_note
from mmdiffbench.report.paper import MODALITY_NAMES, load_paper_table, paper_results
from mmdiffbench.report.provenance import cell_sources, provenance_lines

COLUMNS = [
    "table",
    "dataset",
    "model",
    "variant",
    "metric",
    "paper",
    "paper source",
    "our row",
    "protocol",
    "ours",
    "diff",
    "within 1 std",
    "status",
    "note",
]


def md_table(frame: pd.DataFrame) -> str:
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


def _status(key: tuple[str, str, str], plan: ExperimentPlan | None, skipped: dict) -> str:
    """Why a paper cell has no number of ours."""
    if key in skipped:
        return f"left out: {skipped[key].reason}"
    if plan is None:
        return "experiment not run at this scale"
    if key[0] not in plan.datasets:
        return "dataset not at this scale"
    return "not a cell of this experiment"


def comparison(entry: Experiment, plan: ExperimentPlan | None, summary: pd.DataFrame) -> pd.DataFrame:
    """Long table: one row per (paper cell, protocol, our cell compared with it)."""
    paper = paper_results(entry, plan.datasets if plan else None)
    ran: dict[tuple[str, str, str], list] = {}
    for c in plan.cells if plan else []:
        ran.setdefault((c.dataset, c.model, c.paper_key), []).append(c)
    skipped = {(s.dataset, s.model, s.paper_key): s for s in plan.skipped} if plan else {}
    rows = []
    for p, source in zip(paper.itertuples(index=False), cell_sources(paper)):
        key = (p.dataset_key, p.model_key, p.variant)
        base = {
            "table": p.table,
            "dataset": p.dataset,
            "model": p.model,
            "variant": p.label_as_printed,
            "metric": p.metric_key,
            "paper": p.value,
            "paper source": source,
        }
        if key not in ran:
            note = skipped[key].note if key in skipped else ""
            status = _status(key, plan, skipped)
            rows.append({**base, "status": status, "note": note})
            continue
        assert plan is not None  # `ran` holds cells only when there is a plan
        for cell in ran[key]:
            stats = plan.datasets[cell.dataset]["stats"]
            ours = {
                "our row": cell.label or cell.variant,
                "note": row_note(cell.note, entry.paper, plan.paper_dataset(cell.dataset), stats),
            }
            for protocol, label in PROTOCOLS.items():
                hit = summary[
                    (summary.dataset == cell.dataset)
                    & (summary.model == cell.model)
                    & (summary.variant == cell.variant)
                    & (summary.protocol == protocol)
                    & (summary.metric == p.metric_key)
                ]
                if hit.empty:
                    rows.append({**base, **ours, "protocol": label, "status": "metric missing"})
                    continue
                mean, std, n = float(hit["mean"].iloc[0]), float(hit["std"].iloc[0]), int(hit["n_seeds"].iloc[0])
                rows.append(
                    {
                        **base,
                        **ours,
                        "protocol": label,
                        "ours": mean_pm_std(mean, std),
                        "diff": f"{mean - p.paper_value:+.4f}" if pd.notna(p.paper_value) and not plan.smoke else "",
                        "within 1 std": "" if plan.smoke else within(p.paper_value, mean, std, n),
                        "status": SMOKE_STATUS if plan.smoke else f"ok ({n} seed{'s' if n != 1 else ''})",
                    }
                )
    return pd.DataFrame(rows, columns=COLUMNS)


def stats_comparison(entry: Experiment, plan: ExperimentPlan | None) -> pd.DataFrame:
    paper = load_paper_table(entry.paper_table)
    rows = []
    for p in paper.itertuples(index=False):
        ours = ""
        if plan and p.dataset_key in plan.datasets:
            path = Path(plan.datasets[p.dataset_key]["stats"])
            if path.is_file():
                stats = json.loads(path.read_text())
                if p.quantity == "feature_dim":
                    ours = stats.get("modalities", {}).get(MODALITY_NAMES.get(p.modality, p.modality), "absent")
                elif p.quantity == "sparsity":
                    ours = percent(stats["sparsity_percent"])
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
    runs = sorted({run for p in plans for run in p.cell_metrics()})
    tidy = tidy_metrics(runs)
    summary = summarize(tidy)
    out = ["# Reproduction of the papers (DiffMM, DiffCL, LD4MRec): every paper cell beside ours\n"]
    if any_plan and any_plan.smoke:
        out.append(f"**SMOKE TEST**: scale **{any_plan.scale}**, {SMOKE}.\n\n")
    if any_plan:
        out.append(f"Scale **{any_plan.scale}**, seeds {', '.join(map(str, any_plan.seeds))}. ")
    out.append(
        f"Ours = mean ± sample std over seeds, under each protocol: *{PROTOCOLS['val_selected']}* (epoch with the "
        f"best validation Recall@20) and *{PROTOCOLS['best_test_epoch']}* (epoch with the best test Recall@20, the "
        "epoch selection of the paper's official code; our masking and our undropped graphs; rows named "
        "[official_eval] also evaluate as the official code does). diff = ours - paper. 'paper source' = another "
        "published table printing the same number for the same model, dataset and metric (report/provenance.py). "
        "'within 1 std' = "
        "|ours - paper| <= our seed std. DiffMM Tables 2-4 print no K in the paper; K = 20 "
        "(see paper_tables/README.md).\n"
    )
    skipped = [s for p in plans for s in p.skipped]
    out.append(f"\n## Cells left out ({len(skipped)})\n")
    out.append("".join(f"- {line}\n" for line in left_out_summary(skipped, len(skipped))) or "_(none)_\n")
    claim_lines, claim_table = claims_table(plans, tidy)
    out.append(f"\n## Claims of the papers, rechecked on our runs\n\n{CLAIMS_INTRO}\n\n")
    out.append("".join(f"- {line}\n" for line in claim_lines) + "\n" + md_table(claim_table))
    for entry in registry().values():
        if not entry.paper_csv or entry.kind not in (*RESULT_KINDS, "dataset_stats"):
            continue
        out.append(f"\n## {entry.title} ({entry.key}; {paper_info(entry.paper)['name']})\n\n")
        if entry.note:
            out.append(f"{entry.note}.\n\n")
        if entry.kind in RESULT_KINDS:
            out.append("".join(f"The paper's numbers: {line}.\n\n" for line in provenance_lines(paper_results(entry))))
        plan = by_name.get(entry.key)
        table = stats_comparison(entry, plan) if entry.kind == "dataset_stats" else comparison(entry, plan, summary)
        out.append(md_table(table))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(out))
    return path
