"""Readable terminal summaries of a plan (rich tables on stdout)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from territory.align import Plan

MAX_REP_ROWS = 40


def _fmt(value: float | None, spec: str = ",.1f") -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return format(value, spec)


def headline(plan: Plan) -> list[tuple[str, str]]:
    """The figures that say whether a plan is good, as label/value pairs."""
    m = plan.metrics()
    rows = [("status", plan.status)]
    outcome = plan.outcome
    if outcome is not None:
        rows += [
            ("objective", _fmt(plan.objective, ",.6g")),
            ("lower bound", _fmt(outcome.lower_bound, ",.6g")),
            ("gap", "–" if outcome.gap is None else f"{outcome.gap:.3%}"),
        ]
    rows += [
        ("potential index", f"{_fmt(m['potential_index_min'])} – {_fmt(m['potential_index_max'])}"),
    ]
    if plan.inputs.has_workload:
        rows.append(
            ("workload index", f"{_fmt(m['workload_index_min'])} – {_fmt(m['workload_index_max'])}")
        )
    word = plan.item_word
    rows.append(("mean distance", f"{_fmt(m['mean_distance_km'])} km"))
    if plan.tracks_changes:
        rows += [
            (
                "moved",
                f"{m['moved_accounts']:,} {word}, "
                f"{(m['moved_potential_share'] or 0):.1%} of potential",
            ),
            ("inherited", f"{m['inherited_accounts']:,} {word} from departed or no rep"),
        ]
    rows.append(
        (
            "uncovered" if plan.outcome is not None else "without a rep",
            f"{m['uncovered_accounts']:,} {word}",
        )
    )
    return rows


def print_plan(
    console: Console,
    plan: Plan,
    out_dir: Path | None,
    title: str = "plan",
    reps_table: bool = True,
) -> None:
    """Headline figures, then the per-rep table (the extremes only for large rosters)."""
    summary = Table(title=title, show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    for label, value in headline(plan):
        summary.add_row(label, value)
    if plan.outcome is not None:
        summary.add_row("message", plan.outcome.message)
    if out_dir is not None:
        summary.add_row("written to", str(out_dir))
    console.print(summary)
    if not reps_table:
        return
    table = plan.rep_summary()
    order = np.argsort(table["potential_index"].to_numpy(), kind="stable")
    if len(order) > MAX_REP_ROWS:
        order = np.r_[order[: MAX_REP_ROWS // 2], order[-MAX_REP_ROWS // 2 :]]
    reps = Table(title="reps (by potential index)", title_justify="left")
    counted = "units" if "units" in table.columns and plan.item_word == "units" else "accounts"
    for name in (
        "rep",
        "name",
        counted,
        "potential idx",
        "workload idx",
        "mean km",
        "gained",
        "lost",
    ):
        reps.add_column(name, justify="left" if name in ("rep", "name") else "right")
    for i in order:
        row = table.iloc[int(i)]
        reps.add_row(
            str(row["rep_id"]),
            str(row.get("name", "")),
            f"{int(row[counted]):,}",
            _fmt(row["potential_index"]),
            _fmt(row["workload_index"]) if plan.inputs.has_workload else "–",
            _fmt(row["mean_distance_km"], ",.0f"),
            f"{int(row['accounts_gained']):,}",
            f"{int(row['accounts_lost']):,}",
        )
    console.print(reps)
