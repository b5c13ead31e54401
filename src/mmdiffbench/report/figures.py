"""Figures of the registry (kinds `user_groups`, `sweep`, `case_study`) as PNG and PDF, plus the
plotted numbers as CSV.

User groups and sweeps draw both protocols in separate panels (validation-selected, best test
epoch); points are means over seeds with one-std error bars; a sweep's x is the cell's axis value
from the plan. A case study draws what `mmdiffbench case-study` exported. An experiment with no
runnable cell still gets its files: a figure that says which cells were left out and why.
"""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from mmdiffbench.collect import PROTOCOLS, summarize, tidy_groups, tidy_metrics
from mmdiffbench.experiments import experiment
from mmdiffbench.plan_types import ExperimentPlan
from mmdiffbench.report.labels import axis_label, metric_label, model_label, title_color, titled

ASSUMED = "*"  # marks a user group whose bounds the paper does not state
CASE_FILES = (
    "summary.json",
    "generated_edges.csv",
    "original_edges.csv",
    "item_similarity.csv",
)  # `mmdiffbench case-study`
PAIR_KINDS = {  # summary.json key -> bar label
    "generated_pairs": "generated\n+ generated",
    "generated_history": "generated\n+ training",
    "original_pairs": "training\n+ training",
    "random_pairs": "random\npairs",
}
CASE_COLUMNS = ("dataset", "modality", "k", "kind", "user", "generated_item", "train_item", "in_train", "cosine")
CASE_USERS = 3  # heat maps per modality: the first users of the case study's sample
CASE_HISTORY = 12  # training items shown per user
CASE_ABOUT = (
    "one run (first seed). Bars: mean cosine of the raw modality features of two items linked to one user "
    "(n/a: no user has two such items, as generated + generated when k = 1; k is in each panel title)."
    "\nHeat maps: a user's generated items (* = already a training item) "
    f"against their first {CASE_HISTORY} training items; blank = the same item."
)


def _save(fig: plt.Figure, out_dir: Path, name: str) -> None:
    fig.savefig(out_dir / f"{name}.png", dpi=150, bbox_inches="tight")
    fig.savefig(out_dir / f"{name}.pdf", bbox_inches="tight")
    plt.close(fig)


def _finish(fig: plt.Figure, plan: ExperimentPlan, out_dir: Path, footnote: str) -> None:
    """Title, footnote, layout, PNG + PDF."""
    title = titled(experiment(plan.name).title, plan)
    fig.suptitle(title, x=0.01, ha="left", fontweight="bold", color=title_color(plan))
    fig.text(0.01, -0.02, footnote, fontsize=7, va="top")
    fig.tight_layout()
    _save(fig, out_dir, plan.name)


def _footnote(plan: ExperimentPlan, about: str = "mean ± std over seeds", extra: tuple[str, ...] = ()) -> str:
    """Scale, seeds, what the numbers are, the registry's note, `extra` lines, and the cells left out."""
    note = experiment(plan.name).note
    return "\n".join([plan.scope_line(about), *([note] if note else []), *extra, *plan.left_out_lines(6, model_label)])


def _empty(plan: ExperimentPlan, out_dir: Path, message: str = "No runnable cell at this scale.") -> pd.DataFrame:
    fig, ax = plt.subplots(figsize=(8, 2.5))
    ax.axis("off")
    ax.set_title(titled(experiment(plan.name).title, plan), loc="left", fontweight="bold", color=title_color(plan))
    ax.text(0, 0.8, message, transform=ax.transAxes, wrap=True)
    ax.text(0, 0.0, _footnote(plan), transform=ax.transAxes, fontsize=7, va="bottom", wrap=True)
    _save(fig, out_dir, plan.name)
    return pd.DataFrame(columns=["dataset", "model", "variant", "protocol", "metric", "mean", "std", "n_seeds"])


def group_label(group: str, paper_groups: tuple[str, ...]) -> str:
    """The group's label, marked when its bounds are ours (the paper does not state them)."""
    return group if group in paper_groups else f"{group}{ASSUMED}"


def lower_bound(group: str) -> int:
    """`11-20` -> 11, `51+` -> 51: groups in the order of their bounds (metrics.json sorts them as text)."""
    return int(group.split("-")[0].rstrip("+"))


def size_label(n_users: pd.Series) -> str:
    """`n=1234`: the group's test users (a range if the runs disagree)."""
    lo, hi = int(n_users.min()), int(n_users.max())
    return f"n={lo}" if lo == hi else f"n={lo}-{hi}"


def user_groups_figure(plan: ExperimentPlan, out_dir: Path) -> pd.DataFrame:
    """Bars per group and model; each tick gives the group's test users; a group with none is
    drawn empty, labelled, and named in the footnote."""
    entry = experiment(plan.name)
    tidy = tidy_groups(plan.cell_metrics())
    tidy = tidy[tidy.metric.isin(entry.metrics)]
    summary = summarize(tidy, ["dataset", "model", "variant", "protocol", "group", "n_users", "metric"])
    summary = summary.sort_values("group", key=lambda g: g.map(lower_bound), kind="stable", ignore_index=True)
    summary["bounds"] = ["paper" if g in entry.paper_groups else "assumed" for g in summary["group"]]
    datasets = list(dict.fromkeys(c.dataset for c in plan.cells))
    panels = [(d, m) for d in datasets for m in entry.metrics]
    fig, axes = plt.subplots(len(PROTOCOLS), len(panels), figsize=(3.8 * len(panels), 6.4), squeeze=False)
    for row, protocol in enumerate(PROTOCOLS):
        for col, (dataset, metric) in enumerate(panels):
            ax = axes[row][col]
            data = summary[(summary.protocol == protocol) & (summary.dataset == dataset) & (summary.metric == metric)]
            groups = list(dict.fromkeys(data["group"]))
            sizes = data.groupby("group", sort=False)["n_users"]
            models = list(dict.fromkeys(data["model"]))
            width = 0.8 / max(1, len(models))
            for i, model in enumerate(models):
                part = data[data.model == model].set_index("group").reindex(groups)
                x = np.arange(len(groups)) + (i - (len(models) - 1) / 2) * width
                means = part["mean"].to_numpy(dtype=float)  # NaN: a group without test users, drawn empty
                ax.bar(x, means, width, yerr=part["std"].fillna(0), label=model_label(model), capsize=2)
                for pos in x[means == 0]:  # a bar of height 0, not a missing one
                    ax.text(pos, 0, "0", ha="center", va="bottom", fontsize=6)
            for pos, group in enumerate(groups):
                if sizes.get_group(group).max() == 0:
                    ax.text(pos, 0, "no test user", rotation=90, ha="center", va="bottom", fontsize=7, color="0.4")
            ticks = [f"{group_label(g, entry.paper_groups)}\n{size_label(sizes.get_group(g))}" for g in groups]
            ax.set_xticks(np.arange(len(groups)), ticks, fontsize=7)
            label = plan.datasets[dataset]["label"]
            ax.set_title(f"{label}: {metric_label(metric)}\n{PROTOCOLS[protocol]}", fontsize=8)
            ax.set_xlabel("training interactions per user (n = test users)", fontsize=7)
            if col == 0:
                ax.set_ylabel(metric_label(metric))
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8)
    _finish(fig, plan, out_dir, _footnote(plan, extra=tuple(_empty_groups(plan, summary))))
    return summary


def _empty_groups(plan: ExperimentPlan, summary: pd.DataFrame) -> list[str]:
    """One footnote line per dataset with groups that hold no test user."""
    sizes = summary.groupby(["dataset", "group"], sort=False)["n_users"].max()
    lines = []
    for dataset in dict.fromkeys(summary["dataset"]):
        empty = [g for g, n in sizes[dataset].items() if n == 0]
        if empty:
            lines.append(
                f"{plan.datasets[dataset]['label']}: no test user in group(s) {', '.join(empty)} "
                "(drawn empty with 'no test user', kept in the CSV with n_users 0)"
            )
    return lines


def sweep_figure(plan: ExperimentPlan, out_dir: Path) -> pd.DataFrame:
    """One line per dataset over the sweep's first axis (the cell's value from the plan)."""
    entry = experiment(plan.name)
    axis = entry.sweep_axes[0]
    tidy = tidy_metrics(plan.cell_metrics())
    tidy = tidy[tidy.metric.isin(entry.metrics)]
    summary = summarize(tidy)
    x_of = {(c.dataset, c.model, c.variant): c.params[axis] for c in plan.cells}
    summary["value_of"] = axis
    summary["x"] = [float(x_of[key]) for key in zip(summary["dataset"], summary["model"], summary["variant"])]
    log_x = bool((summary["x"] > 0).all()) and summary["x"].max() >= 100 * summary["x"].min()  # lambda_0
    fig, axes = plt.subplots(len(entry.metrics), len(PROTOCOLS), figsize=(10, 3.5 * len(entry.metrics)), squeeze=False)
    for row, metric in enumerate(entry.metrics):
        for col, protocol in enumerate(PROTOCOLS):
            ax = axes[row][col]
            for dataset in dict.fromkeys(summary["dataset"]):
                part = summary[
                    (summary.dataset == dataset) & (summary.metric == metric) & (summary.protocol == protocol)
                ].sort_values("x")
                ax.errorbar(
                    part["x"],
                    part["mean"],
                    yerr=part["std"].fillna(0),
                    marker="o",
                    capsize=3,
                    label=plan.datasets[dataset]["label"],
                )
            if log_x:
                ax.set_xscale("log")
            ax.set_xlabel(axis_label(axis))
            ax.set_ylabel(metric_label(metric))
            ax.set_title(PROTOCOLS[protocol], fontsize=9)
            ax.legend(fontsize=7)
    _finish(fig, plan, out_dir, _footnote(plan))
    return summary


def _case_study_data(dataset: str, folder: Path) -> pd.DataFrame:
    """One dataset's plotted numbers: per modality the summary means (kind = pair kind), then the
    feature cosine of each (generated item, training item) of the first sampled users (kind = user)."""
    summary = json.loads((folder / "summary.json").read_text())
    generated = pd.read_csv(folder / "generated_edges.csv")
    original = pd.read_csv(folder / "original_edges.csv")
    similarity = pd.read_csv(folder / "item_similarity.csv")
    rows = []
    for modality, means in summary.items():
        base = {"dataset": dataset, "modality": modality, "k": means["edges_per_user"]}
        rows += [{**base, "kind": kind, "cosine": means[kind]} for kind in PAIR_KINDS]
        pairs = similarity[similarity.modality == modality]
        cosine = dict(
            zip(zip(pairs.item_a, pairs.item_b), pairs.cosine)
        )  # item_a < item_b; an item with itself is absent
        edges = generated[generated.modality == modality]
        for user in sorted(set(edges.user))[:CASE_USERS]:
            history = sorted(original[original.user == user].item)[:CASE_HISTORY]
            for item, in_train in edges[edges.user == user][["item", "in_train"]].itertuples(index=False):
                rows += [
                    {
                        **base,
                        "kind": "user",
                        "user": user,
                        "generated_item": item,
                        "train_item": own,
                        "in_train": in_train,
                        "cosine": cosine.get((min(item, own), max(item, own)), np.nan),
                    }
                    for own in history
                ]
    integers = {"user": "Int64", "generated_item": "Int64", "train_item": "Int64"}
    return pd.DataFrame(rows, columns=list(CASE_COLUMNS)).astype({**integers, "in_train": "boolean"})


def _summary_bars(ax: plt.Axes, means: pd.DataFrame, title: str) -> None:
    """The one-number answer: generated pairs against original and random pairs."""
    ax.bar(range(len(means)), means["cosine"].fillna(0), color=sns.color_palette(n_colors=len(means)))
    for x, value in enumerate(means["cosine"]):
        ax.text(
            x,
            0 if np.isnan(value) else value,
            "n/a" if np.isnan(value) else f"{value:.3f}",
            ha="center",
            va="bottom",
            fontsize=7,
        )
    ax.set_xticks(range(len(means)), [PAIR_KINDS[k] for k in means["kind"]], fontsize=7)
    ax.margins(y=0.12)  # room for the value above the tallest bar
    ax.set_ylabel("mean feature cosine")
    ax.set_title(title, fontsize=9)


def _user_heatmap(ax: plt.Axes, cells: pd.DataFrame, limits: tuple[float, float], random_mean: float | None) -> None:
    """One user's generated items (rows, * = already a training item) against their training items;
    with `random_mean`, a colour bar with that mean marked, to read cells against chance."""
    matrix = cells.pivot(index="generated_item", columns="train_item", values="cosine").astype(float)
    in_train = cells.groupby("generated_item")["in_train"].first()
    labels = [f"{item}*" if in_train[item] else str(item) for item in matrix.index]
    sns.heatmap(
        matrix,
        ax=ax,
        cmap="viridis",
        vmin=limits[0],
        vmax=limits[1],
        cbar=random_mean is not None,
        cbar_kws={"label": "cosine (line: random pairs)"},
        xticklabels=True,
        yticklabels=labels,
    )
    if random_mean is not None:
        colorbar = ax.collections[0].colorbar
        assert colorbar is not None  # seaborn's heatmap draws one
        colorbar.ax.axhline(random_mean, color="white", linewidth=2)
    ax.tick_params(labelsize=6)
    ax.set_xlabel("training items")
    ax.set_ylabel("generated items")
    ax.set_title(f"user {cells['user'].iloc[0]}", fontsize=9)


def case_study_figure(plan: ExperimentPlan, out_dir: Path, case_root: Path | None = None) -> pd.DataFrame:
    """Per dataset and modality: summary bars, then a heat map for each of the first sampled users."""
    case_root = case_root or Path(plan.root) / "case_study"
    frames, missing = [], []
    for dataset in dict.fromkeys(c.dataset for c in plan.cells):
        absent = [str(case_root / dataset / f) for f in CASE_FILES if not (case_root / dataset / f).is_file()]
        missing += absent
        if not absent:
            frames.append(_case_study_data(dataset, case_root / dataset))
    if missing:
        print(f"case study: missing {', '.join(missing)}")
    if not frames:
        return _empty(plan, out_dir, f"The case-study output is missing: {', '.join(missing)}"[:600])
    data = pd.concat(frames, ignore_index=True)
    panels = list(data[["dataset", "modality"]].drop_duplicates().itertuples(index=False))
    fig, axes = plt.subplots(
        len(panels), 1 + CASE_USERS, figsize=(3.4 * (1 + CASE_USERS), 2.8 * len(panels)), squeeze=False
    )
    for row, (dataset, modality) in zip(axes, panels):
        part = data[(data.dataset == dataset) & (data.modality == modality)]
        means, cells = part[part.kind != "user"], part[part.kind == "user"]
        _summary_bars(
            row[0], means, f"{plan.datasets[dataset]['label']} / {modality}: all users, k = {means['k'].iloc[0]}"
        )
        users = list(dict.fromkeys(cells["user"]))
        random_mean = float(means.loc[means.kind == "random_pairs", "cosine"].iloc[0])
        limits = (float(cells["cosine"].min()), float(cells["cosine"].max()))
        for col, ax in enumerate(row[1:]):
            if col < len(users):
                last = col == len(users) - 1
                _user_heatmap(ax, cells[cells.user == users[col]], limits, random_mean if last else None)
            else:
                ax.axis("off")
    _finish(fig, plan, out_dir, _footnote(plan, CASE_ABOUT))
    return data


def write_figure(plan: ExperimentPlan, out_dir: Path | str) -> Path:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sns.set_theme(style="whitegrid", context="paper")
    draw = {"user_groups": user_groups_figure, "sweep": sweep_figure, "case_study": case_study_figure}
    data = draw[plan.kind](plan, out_dir) if plan.cells else _empty(plan, out_dir)
    data.to_csv(out_dir / f"{plan.name}.csv", index=False, float_format="%.6g")
    return out_dir / f"{plan.name}.png"
