"""District packs: one map page per district plus an index page linking them.

District managers get a page with only their team, and the team's per-rep
figures in a table below the map, instead of the whole country.
"""

from __future__ import annotations

import re
from pathlib import Path

from maps.features import change_codes, with_radii
from maps.render import assemble_map, finish, has_districts, render_html, rep_groups, write_html
from maps.run_files import read_run
from maps.text import esc, fmt_number
from maps.widgets import RepTable

ALL = "All"
INDEX_FILE = "index.html"


def write_district_maps(run_dir: Path, out_dir: Path, *, tiles: str | None = None) -> list[Path]:
    """Write one HTML map per district of the run in ``run_dir``, plus ``index.html``.

    Without a district column there is a single district "All" with every rep
    and every account. Marker sizes use one scale across all pages. Returns
    the district pages in index order followed by the index page.
    """
    run = read_run(run_dir)
    accounts = with_radii(run.assignments)
    accounts = accounts.assign(change_code=change_codes(accounts))
    reps = run.reps
    out_dir = Path(out_dir)
    rep_ids = sorted((set(reps["rep_id"]) | set(accounts["rep_id"])) - {""})

    if has_districts(reps):
        districts = [(group.label, group.reps) for group in rep_groups(rep_ids, reps)]
        info = {**run.info, "metrics": {}}  # run-wide metrics do not describe one district
    else:
        districts = [(ALL, rep_ids)]
        info = run.info

    pages: list[tuple[str, Path, int, int]] = []
    used: set[str] = {INDEX_FILE}
    for label, members in districts:
        if label == ALL and not has_districts(reps):
            team_accounts = accounts
        else:
            team_accounts = accounts[accounts["rep_id"].isin(members)]
        team = reps[reps["rep_id"].isin(members)]
        title = f"Territory plan: {label}"
        m = assemble_map(team_accounts, team, info, title, tiles, height="65vh", roster=reps)
        RepTable(esc(f"Reps in {label}"), team).add_to(m)
        finish(m)
        path = write_html(render_html(m), out_dir / page_name(label, used))
        pages.append((label, path, len(members), len(team_accounts)))

    uncovered = int((accounts["rep_id"] == "").sum()) if has_districts(reps) else 0
    index = write_html(index_html(pages, uncovered), out_dir / INDEX_FILE)
    return [path for _, path, _, _ in pages] + [index]


def page_name(label: str, used: set[str]) -> str:
    """A safe, unique file name for a district page (recorded in ``used``)."""
    slug = re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "district"
    name = f"{slug}.html"
    number = 2
    while name in used:
        name = f"{slug}-{number}.html"
        number += 1
    used.add(name)
    return name


def index_html(pages: list[tuple[str, Path, int, int]], uncovered: int) -> str:
    """A small self-contained page linking every district page."""
    rows = "\n".join(
        f'<tr><td><a href="{esc(path.name)}">{esc(label)}</a></td>'
        f"<td>{reps:,}</td><td>{accounts:,}</td></tr>"
        for label, path, reps, accounts in pages
    )
    note = (
        f"<p>Uncovered accounts: {fmt_number(uncovered, 0)}. They belong to no district "
        "and appear on no district page.</p>"
        if uncovered
        else ""
    )
    return f"""<!DOCTYPE html>
<html>
<head>
<meta charset="utf-8">
<title>Territory plan: districts</title>
<style>
body {{ font: 14px/1.5 sans-serif; margin: 2em; }}
table {{ border-collapse: collapse; }}
th, td {{ border: 1px solid #ccc; padding: 3px 10px; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
</style>
</head>
<body>
<h1>Territory plan: districts</h1>
<table>
<thead><tr><th>District</th><th>Reps</th><th>Accounts</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
{note}
</body>
</html>
"""
