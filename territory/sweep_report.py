"""A sweep's output directory: ``pareto.csv``, ``pareto.png``, ``pareto.html``, ``sweep.json``.

Both charts show two panels with the same points: balance (largest distance of a potential index
from 100) against mean travel, and moved potential against mean travel. Pareto points are
filled, the others hollow, points without a plan that meets their constraints are crosses, and
the knee is ringed. The PNG is byte-stable (no software or date metadata); the HTML is one
self-contained file (inline SVG, a few lines of script, no network).
"""

from __future__ import annotations

import html
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory import __version__
from territory.run_files import write_csv, write_json, write_run_dir
from territory.runs import FEASIBLE_STATUSES, save_run
from territory.sweep import CRITERIA, KNEE_RULE, Sweep

SWEEP_MARKER = "sweep.json"
PANELS = (
    ("max_index_deviation", 1.0, "balance: largest |potential index − 100| (points)"),
    ("moved_potential_share", 100.0, "disruption: moved potential (% of total)"),
)
Y_FIELD, Y_LABEL = "mean_distance_km", "mean distance to rep (km)"


def point_label(params_tolerance: float, max_moved: float | None) -> str:
    """A point's run directory name, e.g. ``tol-0.05_moved-none``."""
    moved = "none" if max_moved is None else f"{max_moved:g}"
    return f"tol-{params_tolerance:g}_moved-{moved}"


def _legend(label: str, mask: np.ndarray) -> str:
    return label if mask.any() else "_nolegend_"  # no legend entry for an empty group


def write_png(table: pd.DataFrame, path: Path, title: str) -> None:
    """The trade-off chart as PNG (matplotlib, Agg; byte-stable)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.6), dpi=100, sharey=True)
    feasible = table["status"].isin(FEASIBLE_STATUSES).to_numpy()
    front = table["pareto"].to_numpy(dtype=bool)
    knee = table["knee"].to_numpy(dtype=bool)
    y = table[Y_FIELD].to_numpy(dtype=float)
    for ax, (fld, scale, label) in zip(axes, PANELS, strict=True):
        x = table[fld].to_numpy(dtype=float) * scale
        ax.scatter(
            x[feasible & ~front],
            y[feasible & ~front],
            s=40,
            facecolors="none",
            edgecolors="#7f7f7f",
            label=_legend("dominated", feasible & ~front),
        )
        ax.scatter(x[front], y[front], s=46, color="#1f5fa8", label=_legend("Pareto", front))
        ax.scatter(
            x[~feasible],
            y[~feasible],
            s=40,
            marker="x",
            color="#b22222",
            label=_legend("no plan within its constraints", ~feasible),
        )
        ax.scatter(
            x[knee],
            y[knee],
            s=260,
            facecolors="none",
            edgecolors="#d95f02",
            linewidths=2,
            label=_legend("knee", knee),
        )
        for xi, yi, n in zip(x, y, table["point"], strict=True):
            if np.isfinite(xi) and np.isfinite(yi):
                ax.annotate(
                    str(n),
                    (xi, yi),
                    textcoords="offset points",
                    xytext=(6, 4),
                    fontsize=8,
                    color="#333333",
                )
        ax.set_xlabel(label)
        ax.grid(True, color="#e5e5e5")
    axes[0].set_ylabel(Y_LABEL)
    axes[1].legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return format(value, spec)


def _ticks(low: float, high: float) -> list[float]:
    if not np.isfinite(low) or not np.isfinite(high):
        return []
    if high - low < 1e-12:
        return [low]
    return [float(v) for v in np.linspace(low, high, 5)]


Scale = Callable[[float], float]
CHART_WIDTH, CHART_LEFT, CHART_RIGHT, CHART_TOP, CHART_BOTTOM = 460, 64, 16, 16, 48


def svg_axes(
    bounds: tuple[float, float, float, float],
    pad: tuple[float, float],
    height: int,
    labels: tuple[str, str],
    x_ticks: list[float] | None = None,
) -> tuple[list[str], Scale, Scale]:
    """The opening of a chart: frame, ticks and axis labels over the data ``bounds``
    (x0, x1, y0, y1) padded by the ``pad`` shares, and the data-to-pixel scales.

    ``x_ticks``: tick values (default: five over the data range). Shared by the sweep's and
    the sizing's charts."""
    width, left, right, top, bottom = (
        CHART_WIDTH,
        CHART_LEFT,
        CHART_RIGHT,
        CHART_TOP,
        CHART_BOTTOM,
    )
    x0, x1, y0, y1 = bounds
    ticks_x = _ticks(x0, x1) if x_ticks is None else x_ticks
    ticks_y = _ticks(y0, y1)
    pad_x, pad_y = (x1 - x0) * pad[0] or 1.0, (y1 - y0) * pad[1] or 1.0
    x0, x1, y0, y1 = x0 - pad_x, x1 + pad_x, y0 - pad_y, y1 + pad_y

    def sx(v: float) -> float:
        return left + (v - x0) / (x1 - x0) * (width - left - right)

    def sy(v: float) -> float:
        return height - bottom - (v - y0) / (y1 - y0) * (height - top - bottom)

    parts = [
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f'<rect x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}" fill="#fff" stroke="#ccc"/>',
    ]
    for v in ticks_x:
        parts.append(
            f'<text x="{sx(v):.1f}" y="{height - bottom + 16}" class="tick" '
            f'text-anchor="middle">{v:.3g}</text>'
        )
    for v in ticks_y:
        parts.append(
            f'<text x="{left - 6}" y="{sy(v) + 4:.1f}" class="tick" text-anchor="end">'
            f"{v:.4g}</text>"
        )
    parts.append(
        f'<text x="{(left + width - right) / 2}" y="{height - 8}" text-anchor="middle">'
        f"{html.escape(labels[0])}</text>"
        f'<text transform="translate(14 {(top + height - bottom) / 2}) rotate(-90)" '
        f'text-anchor="middle">{html.escape(labels[1])}</text>'
    )
    return parts, sx, sy


def _panel_svg(table: pd.DataFrame, fld: str, scale: float, label: str) -> str:
    height = 320
    x = table[fld].to_numpy(dtype=float) * scale
    y = table[Y_FIELD].to_numpy(dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    if not finite.any():
        return f'<svg width="{CHART_WIDTH}" height="{height}" role="img"></svg>'
    bounds = (
        float(x[finite].min()),
        float(x[finite].max()),
        float(y[finite].min()),
        float(y[finite].max()),
    )
    parts, sx, sy = svg_axes(bounds, (0.08, 0.08), height, (label, Y_LABEL))
    for i in np.flatnonzero(finite):
        row = table.iloc[int(i)]
        cx, cy = sx(x[i]), sy(y[i])
        kind = "pareto" if row["pareto"] else "dominated"
        if row["status"] not in FEASIBLE_STATUSES:
            kind = "nofit"
        tip = html.escape(
            f"point {row['point']}: tolerance {row['tolerance']:g}, max moved "
            f"{_fmt(row['max_moved'], 'g')}, {row['status']}; mean {y[i]:.4g} km, balance "
            f"{row['max_index_deviation']:.3g}, moved {100 * row['moved_potential_share']:.3g} %"
        )
        if row["knee"]:
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="12" class="knee"/>')
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" class="pt {kind}" '
            f'data-point="{row["point"]}"><title>{tip}</title></circle>'
            f'<text x="{cx + 8:.1f}" y="{cy - 6:.1f}" class="tick">{row["point"]}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


HTML_STYLE = """
body{font:14px system-ui,sans-serif;margin:24px;color:#222}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.tick{font-size:11px;fill:#555}
.pt{stroke-width:2}.pareto{fill:#1f5fa8;stroke:#1f5fa8}.dominated{fill:#fff;stroke:#7f7f7f}
.nofit{fill:#fff;stroke:#b22222;stroke-dasharray:2 2}
.knee{fill:none;stroke:#d95f02;stroke-width:3}
.pt.hl{stroke:#d95f02;stroke-width:4}
table{border-collapse:collapse;margin-top:16px}
th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}
tr.hl{background:#fde9d9}tr.kneerow td:first-child{font-weight:bold}
"""
HTML_SCRIPT = """
function mark(n,on){document.querySelectorAll('[data-point="'+n+'"]').forEach(function(e){
e.classList.toggle('hl',on)})}
document.querySelectorAll('[data-point]').forEach(function(e){var n=e.dataset.point;
e.addEventListener('mouseenter',function(){mark(n,true)});
e.addEventListener('mouseleave',function(){mark(n,false)})});
"""


def write_html(table: pd.DataFrame, path: Path, title: str) -> None:
    """The trade-off chart as one self-contained HTML page: two SVG panels and the table;
    hovering a point or a row highlights it in both."""
    headers = [
        "point", "tolerance", "max moved", "status", "potential index", "balance",
        "CV", "mean km", "moved accounts", "moved potential", "gap", "Pareto", "knee",
    ]  # fmt: skip
    rows = []
    for _, r in table.iterrows():
        cells = [
            r["point"],
            _fmt(r["tolerance"], "g"),
            "none" if pd.isna(r["max_moved"]) else f"{r['max_moved']:g}",
            html.escape(str(r["status"])),
            f"{_fmt(r['potential_index_min'], '.1f')} – {_fmt(r['potential_index_max'], '.1f')}",
            _fmt(r["max_index_deviation"], ".2f"),
            _fmt(r["potential_cv"], ".4f"),
            _fmt(r["mean_distance_km"], ".1f"),
            f"{r['moved_accounts']:,}",
            f"{_fmt(100 * r['moved_potential_share'], '.1f')} %",
            "–" if pd.isna(r["gap"]) else f"{100 * r['gap']:.3f} %",
            "yes" if r["pareto"] else "",
            "knee" if r["knee"] else "",
        ]
        rows.append(table_row(r["point"], cells, bool(r["knee"])))
    panels = "".join(_panel_svg(table, *panel) for panel in PANELS)
    intro = (
        "<p>Each point is a full alignment. Filled: Pareto (no other point is as good on "
        "balance, travel and disruption and better on one); hollow: dominated; dashed red: no "
        f"plan within its constraints; ringed: the knee ({html.escape(KNEE_RULE)}).</p>"
    )
    page = report_page(title, intro, panels, headers, rows)
    path.write_text(page, encoding="utf-8")


def table_row(point: object, cells: list[str], marked: bool) -> str:
    """One HTML table row, linked to its chart point; ``marked`` highlights it."""
    klass = ' class="kneerow"' if marked else ""
    return f'<tr data-point="{point}"{klass}>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def report_page(title: str, intro: str, panels: str, headers: list[str], rows: list[str]) -> str:
    """A self-contained report page: title, intro, chart panels and the linked table."""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{HTML_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{intro}"
        f'<div class="charts">{panels}</div>'
        "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in headers) + "</tr></thead>"
        "<tbody>" + "".join(rows) + "</tbody></table>"
        f"<script>{HTML_SCRIPT}</script></body></html>\n"
    )


def save_sweep(
    sweep: Sweep,
    out_dir: Path,
    *,
    title: str,
    record: dict[str, Any],
    keep_runs: bool = False,
    draw_map: bool = False,
    timings: dict[str, float] | None = None,
) -> Path:
    """Write the sweep directory atomically (with one run directory per point under
    ``runs/`` when ``keep_runs``)."""
    table = sweep.table.copy()
    if keep_runs:
        table["run_dir"] = [f"runs/{point_label(p.tolerance, p.max_moved)}" for p in sweep.params]
    knee = table.index[table["knee"]]
    summary = {
        "territory_version": __version__,
        "command": "sweep",
        **record,
        "points": len(table),
        "tolerances": list(dict.fromkeys(p.tolerance for p in sweep.params)),
        "max_moved": list(dict.fromkeys(p.max_moved for p in sweep.params)),
        "criteria": list(CRITERIA),
        "knee_rule": KNEE_RULE,
        "knee_point": int(table.loc[knee[0], "point"]) if len(knee) else None,
        "pareto_points": table.loc[table["pareto"], "point"].astype(int).tolist(),
        "timings_s": {k: round(v, 4) for k, v in (timings or {}).items()},
    }

    def writer(tmp: Path) -> None:
        write_csv(table, tmp / "pareto.csv")
        write_png(table, tmp / "pareto.png", title)
        write_html(table, tmp / "pareto.html", title)
        write_json(summary, tmp / SWEEP_MARKER)
        if keep_runs:
            for plan, (_, row) in zip(sweep.plans, table.iterrows(), strict=True):
                extra = {"sweep_point": int(row["point"])}
                if "scenario" in record:
                    extra["scenario"] = record["scenario"]
                save_run(
                    plan, tmp / row["run_dir"], draw_map=draw_map, command="sweep", extra=extra
                )

    return write_run_dir(Path(out_dir), writer, marker=SWEEP_MARKER, kind="sweep")
