"""A comparison for people: rich terminal tables, CSV files and one self-contained HTML report."""

from __future__ import annotations

import html
import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from territory.compare import Comparison, common_account_ids
from territory.explain import REASONS
from territory.run_files import write_csv, write_run_dir
from territory.run_view import RunView, account_rows

MARKER = "figures.csv"
MAX_TERMINAL_REPS = 40
MAX_HTML_MOVES = 500


def _number(digits: int) -> Callable[[object], str]:
    return lambda v: f"{float(v):,.{digits}f}"  # type: ignore[arg-type]


def _percent(digits: int) -> Callable[[object], str]:
    return lambda v: f"{100 * float(v):.{digits}f}%"  # type: ignore[arg-type]


FIGURE_ROWS: tuple[tuple[str, str, Callable[[object], str]], ...] = (
    ("status", "status", str),
    ("gap", "gap to lower bound", _percent(3)),
    ("reps", "reps", _number(0)),
    ("accounts", "accounts compared", _number(0)),
    ("uncovered_accounts", "uncovered accounts", _number(0)),
    ("potential_index_min", "potential index min", _number(2)),
    ("potential_index_max", "potential index max", _number(2)),
    ("potential_index_spread", "potential index spread (points)", _number(2)),
    ("potential_index_max_min", "potential index max/min", _number(3)),
    ("potential_index_cv", "potential index CV", _number(4)),
    ("potential_per_fte_gini", "Gini of potential per FTE", _number(4)),
    ("workload_index_min", "workload index min", _number(2)),
    ("workload_index_max", "workload index max", _number(2)),
    ("total_distance_km", "total distance (km)", _number(0)),
    ("mean_distance_km", "mean distance (km)", _number(1)),
    ("potential_weighted_mean_distance_km", "potential-weighted mean distance (km)", _number(1)),
    ("moved_accounts", "moved from today's reps (accounts)", _number(0)),
    ("moved_potential_share", "moved from today's reps (potential)", _percent(1)),
    ("changed_accounts", "changed vs baseline (accounts)", _number(0)),
    ("changed_potential_share", "changed vs baseline (potential)", _percent(1)),
)


def cell(value: object, fmt: Callable[[object], str] = str) -> str:
    """A value as display text; missing values and NaN as an en dash."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return fmt(value)


def figure_table(comparison: Comparison) -> list[tuple[str, list[str]]]:
    """Rows of (figure label, value per run), the runs side by side."""
    records = comparison.figures.to_dict("records")
    rows = []
    for key, label, fmt in FIGURE_ROWS:
        values = [cell(r.get(key), fmt) for r in records]
        if key.startswith("workload") and all(v == "–" for v in values):
            continue
        rows.append((label, values))
    return rows


def handover_summary(handovers: pd.DataFrame) -> pd.DataFrame:
    """Per rep one line each for "gains from" and "loses to" ("(uncovered)" for no rep)."""
    lines: dict[str, dict[str, list[str]]] = {}
    for row in handovers.to_dict("records"):
        counterpart = row["counterpart_rep"] or "(uncovered)"
        text = f"{counterpart}: {int(row['accounts'])} ({float(row['potential']):,.0f})"
        lines.setdefault(row["rep_id"], {"gains_from": [], "loses_to": []})[
            row["direction"]
        ].append(text)
    return pd.DataFrame(
        [
            {
                "rep_id": rep,
                "gains_from": "; ".join(d["gains_from"]),
                "loses_to": "; ".join(d["loses_to"]),
            }
            for rep, d in sorted(lines.items())
        ],
        columns=["rep_id", "gains_from", "loses_to"],
    )


REP_COLUMNS: tuple[tuple[str, str, Callable[[object], str]], ...] = (
    ("accounts", "accounts", _number(0)),
    ("potential", "potential", _number(0)),
    ("potential_index", "index", _number(1)),
    ("workload", "workload", _number(1)),
    ("mean_distance_km", "mean km", _number(1)),
)


def _before_after(row: dict, key: str, fmt: Callable[[object], str]) -> str:
    return f"{cell(row[f'{key}_before'], fmt)} → {cell(row[f'{key}_after'], fmt)}"


def changed_reps(reps: pd.DataFrame) -> pd.DataFrame:
    """Reps added, removed, or with other accounts than in the baseline; biggest change first."""
    delta = (reps["potential_after"].fillna(0) - reps["potential_before"].fillna(0)).abs()
    changed = (
        (reps["presence"] != "kept")
        | (reps["accounts_before"].fillna(-1) != reps["accounts_after"].fillna(-1))
        | (delta > 0)
    )
    out = reps[changed.to_numpy()].assign(_delta=delta[changed.to_numpy()])
    return out.sort_values(["_delta", "rep_id"], ascending=[False, True], kind="stable")


TERMINAL_REP_COLUMNS = (
    ("accounts", "accounts", _number(0)),
    ("potential_index", "potential index", _number(1)),
    ("mean_distance_km", "mean km", _number(1)),
)


def _counterparts(handovers: pd.DataFrame, rep: str, direction: str) -> str:
    rows = handovers[(handovers["rep_id"] == rep) & (handovers["direction"] == direction)]
    return ", ".join(
        f"{r['counterpart_rep'] or '(uncovered)'}×{int(r['accounts'])}"
        for r in rows.to_dict("records")
    )


def print_comparison(console: Console, comparison: Comparison) -> None:
    """Figures side by side, then per compared run the changed reps and their handovers."""
    labels = comparison.labels
    table = Table(title=f"baseline: {labels[0]}", title_justify="left")
    table.add_column("figure", style="bold")
    for label in labels:
        table.add_column(Text(label), justify="right")
    for label, values in figure_table(comparison):
        table.add_row(label, *values)
    console.print(table)
    for note in comparison.notes:
        console.print(Text(f"note: {note}"))
    for label in labels[1:]:
        reps = comparison.reps[comparison.reps["run"] == label]
        hand = comparison.handovers
        hand = hand[hand["run"] == label]
        changed = changed_reps(reps)
        shown = changed.head(MAX_TERMINAL_REPS)
        title = f"{label} vs {labels[0]}: {len(changed)} of {len(reps)} reps changed"
        if len(changed) > len(shown):
            title += f" (the {len(shown)} largest changes shown)"
        rep_view = Table(title=Text(title), title_justify="left")
        rep_view.add_column("rep")
        rep_view.add_column("")
        for _, header, _fmt in TERMINAL_REP_COLUMNS:
            rep_view.add_column(header, justify="right")
        rep_view.add_column("gains from (accounts)")
        rep_view.add_column("loses to (accounts)")
        for row in shown.to_dict("records"):
            rep = row["rep_id"]
            rep_view.add_row(
                Text(rep),
                row["presence"] if row["presence"] != "kept" else "",
                *[_before_after(row, key, fmt) for key, _, fmt in TERMINAL_REP_COLUMNS],
                Text(_counterparts(hand, rep, "gains_from")),
                Text(_counterparts(hand, rep, "loses_to")),
            )
        console.print(rep_view)


def write_comparison(
    comparison: Comparison, views: list[RunView], out_dir: Path, *, draw_map: bool = True
) -> Path:
    """Write the CSV files and ``report.html`` into ``out_dir`` atomically."""

    def writer(tmp: Path) -> None:
        write_csv(comparison.figures, tmp / "figures.csv")
        write_csv(comparison.reps, tmp / "reps.csv")
        write_csv(comparison.handovers, tmp / "handovers.csv")
        write_csv(comparison.moved, tmp / "moved_accounts.csv")
        page = report_html(comparison, views, draw_map=draw_map)
        (tmp / "report.html").write_bytes(page.encode("utf-8"))

    return write_run_dir(Path(out_dir), writer, marker=MARKER, kind="comparison")


def esc(value: object) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def html_table(headers: list[str], rows: list[list[str]], text_columns: int = 1) -> str:
    """A table of already formatted values (escaped here); the first columns left-aligned."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="t">{esc(v)}</td>' if i < text_columns else f"<td>{esc(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _change_map(comparison: Comparison, views: list[RunView], view: RunView) -> str:
    from maps.change import change_map_html

    base = views[0]
    common = comparison.figures.set_index("run").loc[view.label]
    account_ids = common_account_ids(views)
    summary = {
        "status": view.info.get("status"),
        "gap": view.info.get("gap"),
        "metrics": {
            "potential_index_min": common["potential_index_min"],
            "potential_index_max": common["potential_index_max"],
            "moved_potential_share": common["changed_potential_share"],
            "uncovered_accounts": common["uncovered_accounts"],
        },
    }
    page = change_map_html(
        account_rows(base, account_ids),
        account_rows(view, account_ids),
        view.reps,
        base.reps,
        summary,
        f"{view.label} vs {base.label}",
    )
    return (
        f'<iframe class="map" sandbox="allow-scripts" title="change map" '
        f'srcdoc="{esc(page)}"></iframe>'
    )


def _run_section(
    comparison: Comparison, views: list[RunView], view: RunView, draw_map: bool
) -> str:
    label, base = view.label, comparison.labels[0]
    reps = comparison.reps[comparison.reps["run"] == label]
    rep_rows = [
        [r["rep_id"], r["name"], r["presence"]]
        + [_before_after(r, key, fmt) for key, _, fmt in REP_COLUMNS]
        for r in reps.to_dict("records")
    ]
    hand = comparison.handovers
    lines = handover_summary(hand[hand["run"] == label])
    moved = comparison.moved[comparison.moved["run"] == label]
    top = moved.sort_values(["potential", "account_id"], ascending=[False, True], kind="stable")
    top = top.head(MAX_HTML_MOVES)
    move_rows = [
        [
            m["account_id"],
            m["name"],
            m["from_rep"] or "(uncovered)",
            m["to_rep"] or "(uncovered)",
            cell(m["potential"], _number(0)),
            cell(m["distance_before_km"], _number(1)),
            cell(m["distance_after_km"], _number(1)),
            m["reason"],
        ]
        for m in top.to_dict("records")
    ]
    parts = [f"<h2>{esc(label)} vs {esc(base)}</h2>"]
    if draw_map:
        parts += [
            "<h3>Change map</h3>",
            "<p>Territories of this run; dashed outlines: the baseline's territories; "
            "accounts with a thick outline changed rep.</p>",
            _change_map(comparison, views, view),
        ]
    parts += [
        "<h3>Reps before / after</h3>",
        html_table(
            ["rep", "name", "presence"] + [h for _, h, _ in REP_COLUMNS], rep_rows, text_columns=3
        ),
        "<h3>Handovers</h3>",
        html_table(
            ["rep", "gains from (accounts, potential)", "loses to (accounts, potential)"],
            lines.values.tolist(),
            text_columns=3,
        ),
        f"<h3>Accounts that changed rep ({len(moved):,})</h3>",
    ]
    if len(moved) > len(top):
        parts.append(f"<p>The {len(top):,} largest by potential; all in moved_accounts.csv.</p>")
    parts.append(
        html_table(
            ["account", "name", "from", "to", "potential", "km before", "km after", "reason"],
            move_rows,
            text_columns=4,
        )
    )
    return "\n".join(parts)


STYLE = """
body { font: 14px/1.45 sans-serif; margin: 1.5em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; vertical-align: top; }
th { background: #f0f0f0; }
td.t { text-align: left; }
iframe.map { width: 100%; height: 75vh; border: 1px solid #ccc; }
"""

DEFINITIONS = [
    "Every figure is recomputed from each run's assignments.csv and roster, on the accounts "
    "present in every run, so all runs are scored the same way.",
    "Potential index: 100 × potential / the rep's FTE share of the covered potential. CV: "
    "standard deviation / mean of the indices. Gini of potential per FTE: each rep weighted by "
    "its FTE (0 = equal).",
    "Distances: great-circle km from each account to its rep's home base. Mean distance: per "
    "covered account. Potential-weighted mean distance: Σ potential × km / covered potential.",
    "Moved from today's reps: the account's previous rep is on the run's roster and its rep "
    "differs (the run's own disruption). Changed vs baseline: the rep differs from the "
    "baseline's, coverage changes included.",
    "Reasons for changes use the compared run's band prices (LP duals of its final LP, see "
    "`territory explain`):",
    *[f"{reason}: {text}" for reason, text in REASONS.items()],
]


def report_html(comparison: Comparison, views: list[RunView], *, draw_map: bool = True) -> str:
    """The whole comparison as one self-contained page (no external resources)."""
    labels = comparison.labels
    figures = figure_table(comparison)
    notes = "".join(f"<li>{esc(n)}</li>" for n in comparison.notes)
    sections = [_run_section(comparison, views, view, draw_map) for view in views[1:]]
    definitions = "".join(f"<li>{esc(d)}</li>" for d in DEFINITIONS)
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>{esc(f"Territory comparison: {', '.join(labels)}")}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Territory comparison</h1>
<p>Baseline: <b>{esc(labels[0])}</b>. Compared: {esc(", ".join(labels[1:]))}.
Accounts compared: {comparison.common_accounts:,}.</p>
{f"<ul>{notes}</ul>" if notes else ""}
<h2>Figures</h2>
{html_table(["figure", *labels], [[label, *values] for label, values in figures])}
{"".join(sections)}
<h2>Definitions</h2>
<ul>{definitions}</ul>
</body>
</html>
"""
