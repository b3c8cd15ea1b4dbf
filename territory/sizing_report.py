"""A sizing directory: ``sizing.csv``, ``sizing.png``, ``sizing.html``, ``sizing.json`` and one
run directory per headcount (``reps_20/``...), written atomically.

Both charts plot, against headcount, the workload coverage (share of the workload that fits
within capacity, with the total capacity over the workload as a dashed line) and the mean
distance from each account to its rep. Sizes whose plan does not meet its bands are crosses;
the recommended size is ringed. The PNG is byte-stable (no software or date metadata); the
HTML is one self-contained page (inline SVG and the sweep report's few lines of script).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory import __version__
from territory.run_files import write_csv, write_json, write_run_dir
from territory.runs import save_run
from territory.sizing import RECOMMENDATION_RULE, Sizing
from territory.sweep_report import CHART_WIDTH, _fmt, report_page, svg_axes, table_row

SIZING_MARKER = "sizing.json"
PANELS = (
    ("workload_coverage", 100.0, "workload within capacity (%)"),
    ("mean_distance_km", 1.0, "mean distance to rep (km)"),
)


def run_label(size: int) -> str:
    """A headcount's run directory name, e.g. ``reps_20``."""
    return f"reps_{size}"


def write_png(table: pd.DataFrame, path: Path, title: str) -> None:
    """Coverage and travel against headcount as PNG (matplotlib, Agg; byte-stable)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), dpi=100, sharex=True)
    x = table["reps"].to_numpy(dtype=float)
    ok = table["balanced"].to_numpy(dtype=bool)
    best = table["recommended"].to_numpy(dtype=bool)
    for ax, (fld, scale, label) in zip(axes, PANELS, strict=True):
        y = table[fld].to_numpy(dtype=float) * scale
        ax.plot(x, y, color="#1f5fa8", linewidth=1.5, zorder=1)
        ax.scatter(x[ok], y[ok], s=36, color="#1f5fa8", label="balanced" if ok.any() else None)
        if (~ok).any():
            ax.scatter(x[~ok], y[~ok], s=40, marker="x", color="#b22222", label="not balanced")
        if best.any():
            ax.scatter(
                x[best], y[best], s=240, facecolors="none", edgecolors="#d95f02",
                linewidths=2, label="recommended",
            )  # fmt: skip
        if fld == "workload_coverage":
            ratio = table["capacity_ratio"].to_numpy(dtype=float) * scale
            ax.plot(
                x, ratio, color="#7f7f7f", linestyle="--", linewidth=1, label="capacity ÷ workload"
            )
            ax.axhline(100.0, color="#cccccc", linewidth=1)
            finite = y[np.isfinite(y)]
            low = min(float(finite.min()) if len(finite) else 100.0, 100.0)
            high = float(np.nanmax(ratio)) if np.isfinite(ratio).any() else 100.0
            ax.set_ylim(low - 2, max(105.0, min(high, 200.0) + 4))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("headcount (reps)")
        ax.set_ylabel(label)
        ax.grid(True, color="#e5e5e5")
        ax.legend(loc="best", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def _panel_svg(table: pd.DataFrame, fld: str, scale: float, label: str) -> str:
    """One line chart against headcount; points carry ``data-point`` for the hover script."""
    height = 300
    x = table["reps"].to_numpy(dtype=float)
    y = table[fld].to_numpy(dtype=float) * scale
    finite = np.isfinite(y)
    if not finite.any():
        return f'<svg width="{CHART_WIDTH}" height="{height}" role="img"></svg>'
    bounds = (float(x.min()), float(x.max()), float(y[finite].min()), float(y[finite].max()))
    x_ticks = x.tolist() if len(x) <= 12 else None
    parts, sx, sy = svg_axes(bounds, (0.06, 0.1), height, ("headcount (reps)", label), x_ticks)
    line = " ".join(f"{sx(a):.1f},{sy(b):.1f}" for a, b in zip(x[finite], y[finite], strict=True))
    parts.append(f'<polyline points="{line}" fill="none" stroke="#1f5fa8" stroke-width="1.5"/>')
    for i in np.flatnonzero(finite):
        row = table.iloc[int(i)]
        cx, cy = sx(x[i]), sy(y[i])
        kind = "pareto" if row["balanced"] else "nofit"
        tip = html.escape(
            f"{row['reps']} reps: {row['status']}; coverage "
            f"{100 * row['workload_coverage']:.1f} %, mean {row['mean_distance_km']:.4g} km, "
            f"{row['reps_over_capacity']} over capacity"
        )
        if row["recommended"]:
            parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="12" class="knee"/>')
        parts.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" class="pt {kind}" '
            f'data-point="{row["reps"]}"><title>{tip}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def write_html(table: pd.DataFrame, path: Path, title: str, recommended: int | None) -> None:
    """Coverage and travel by headcount as one self-contained page: two SVG charts and the
    table; hovering a point or a row highlights the headcount in both."""
    headers = [
        "reps", "new", "status", "potential index", "workload index", "balanced",
        "mean km", "max km", "capacity ÷ workload", "coverage", "over capacity",
        "capacity", "uncovered", "gap", "sites", "recommended",
    ]  # fmt: skip
    rows = []
    for _, r in table.iterrows():
        cells = [
            r["reps"],
            r["new_reps"],
            html.escape(str(r["status"])),
            f"{_fmt(r['potential_index_min'], '.1f')} – {_fmt(r['potential_index_max'], '.1f')}",
            f"{_fmt(r['workload_index_min'], '.1f')} – {_fmt(r['workload_index_max'], '.1f')}",
            "yes" if r["balanced"] else "no",
            _fmt(r["mean_distance_km"], ".1f"),
            _fmt(r["max_distance_km"], ".0f"),
            f"{_fmt(100 * r['capacity_ratio'], '.1f')} %",
            f"{_fmt(100 * r['workload_coverage'], '.1f')} %",
            r["reps_over_capacity"],
            "imposed" if r["capacity_imposed"] else "measured",
            r["uncovered_accounts"],
            "–" if pd.isna(r["gap"]) else f"{100 * r['gap']:.3f} %",
            html.escape(str(r["location_status"])),
            "recommended" if r["recommended"] else "",
        ]
        rows.append(table_row(r["reps"], cells, bool(r["recommended"])))
    verdict = (
        f"Recommended headcount: <b>{recommended}</b> ({html.escape(RECOMMENDATION_RULE)})."
        if recommended is not None
        else f"No headcount fits ({html.escape(RECOMMENDATION_RULE)}): try larger sizes."
    )
    panels = "".join(_panel_svg(table, *panel) for panel in PANELS)
    intro = (
        f"<p>{verdict}</p>"
        "<p>Each headcount is a full alignment after its new home bases were placed. "
        "Filled points meet their balance bands, dashed red ones do not; the ring marks the "
        "recommended size. Coverage is the share of the workload that fits within the reps' "
        "capacities.</p>"
    )
    page = report_page(title, intro, panels, headers, rows)
    path.write_text(page, encoding="utf-8")


def save_sizing(
    sizing: Sizing,
    out_dir: Path,
    *,
    title: str,
    record: dict[str, Any],
    draw_map: bool = True,
    timings: dict[str, float] | None = None,
) -> Path:
    """Write the sizing directory atomically, with one run directory per headcount."""
    table = sizing.table.copy()
    table["run_dir"] = [run_label(int(n)) for n in table["reps"]]
    job = sizing.job
    summary = {
        "territory_version": __version__,
        "command": "size",
        **record,
        "sizes": table["reps"].astype(int).tolist(),
        "roster_reps": job.n_roster,
        "parameters": job.params.as_dict(),
        "sizing": {
            "capacity_per_fte": job.options.capacity,
            "demand_points": int(len(job.demand.potential)),
            "candidate_sites": int(len(job.sites)),
            "location_nodes": job.options.location_nodes,
            "location_time_limit": job.options.location_time_limit,
        },
        "recommended": sizing.recommended,
        "recommendation_rule": RECOMMENDATION_RULE,
        "location": {int(r.size): r.location for r in sizing.results},
        "timings_s": {
            **{k: round(v, 4) for k, v in (timings or {}).items()},
            **{f"reps_{r.size}": round(r.seconds, 4) for r in sizing.results},
        },
    }

    def writer(tmp: Path) -> None:
        write_csv(table, tmp / "sizing.csv")
        write_csv(job.sites, tmp / "sites.csv")
        write_png(table, tmp / "sizing.png", title)
        write_html(table, tmp / "sizing.html", title, sizing.recommended)
        write_json(summary, tmp / SIZING_MARKER)
        for plan, result in zip(sizing.plans, sizing.results, strict=True):
            extra = {"sizing": {"reps": result.size, "location": result.location,
                                "capacity_imposed": result.capacity_imposed}}  # fmt: skip
            save_run(
                plan, tmp / run_label(result.size), draw_map=draw_map, command="size", extra=extra
            )

    return write_run_dir(Path(out_dir), writer, marker=SIZING_MARKER, kind="sizing")
