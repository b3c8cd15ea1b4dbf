"""``territory size``: how many reps does this market need? One located and aligned plan per
headcount, the coverage-by-headcount table and its charts."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import click
from rich.markup import escape
from rich.table import Table

from territory.cli_common import align_options, parallel_options
from territory.console import EXIT_INFEASIBLE, Phases, err, out
from territory.errors import UsageError


@click.command(name="size")
@click.option(
    "--accounts",
    "-a",
    required=True,
    type=click.Path(path_type=Path),
    help="Accounts file (CSV, Parquet, GeoJSON, GeoPackage, ...); needs a workload column.",
)
@click.option(
    "--reps",
    "sizes_text",
    required=True,
    metavar="SIZES",
    help="Headcounts to try: 20..40, 20..40:5 (step) or 20,25,30.",
)
@click.option(
    "--roster",
    type=click.Path(path_type=Path),
    default=None,
    help="Reps kept at their home bases (every headcount includes them); without it every "
    "home base is placed by the model.",
)
@click.option(
    "--sites",
    type=click.Path(path_type=Path),
    default=None,
    help="Candidate home bases (lat, lon; optional site_id, name) [default: one account "
    "location per demand point].",
)
@click.option(
    "--capacity",
    type=float,
    default=None,
    help="Workload one full-time rep can carry [default: the roster's median capacity per FTE].",
)
@click.option(
    "--demand-points",
    type=int,
    default=300,
    show_default=True,
    help="Accounts are aggregated to this many points for the location step.",
)
@click.option(
    "--location-nodes",
    type=int,
    default=0,
    show_default=True,
    help="Branch-and-bound nodes of the location MILP after the heuristic (0: heuristic only; "
    "more gives a bound but is slow above ~150 demand points).",
)
@click.option(
    "--location-time-limit",
    type=float,
    default=60.0,
    show_default=True,
    help="Wall-clock limit of the location MILP per headcount, seconds.",
)
@click.option(
    "--account-col",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read an account field from another column, e.g. potential=Sales.",
)
@click.option(
    "--rep-col",
    multiple=True,
    metavar="FIELD=COLUMN",
    help="Read a roster field from another column, e.g. rep_id=Territory.",
)
@align_options
@click.option(
    "--out",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Sizing directory to write: sizing.csv, sizing.png, sizing.html, sizing.json, "
    "reps_N/ run directories.",
)
@click.option("--no-map", is_flag=True, help="Do not draw map.html in the run directories.")
@parallel_options("headcounts")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def size_command(
    accounts: Path,
    sizes_text: str,
    roster: Path | None,
    sites: Path | None,
    capacity: float | None,
    demand_points: int,
    location_nodes: int,
    location_time_limit: float,
    account_col: tuple[str, ...],
    rep_col: tuple[str, ...],
    out_dir: Path,
    no_map: bool,
    workers: int | None,
    scheduler: str | None,
    quiet: bool,
    **options: Any,
) -> None:
    """Size the sales force: for each headcount, place home bases, align, and report workload
    coverage against capacity, balance and travel.

    \b
    territory size -a accounts.csv --reps 20..30 --capacity 1200 -o sizing/
    territory size -a accounts.csv --roster reps.csv --reps 30..36:2 -o sizing/

    Exit code 0 when written (3 when no headcount has a plan within its bands).
    """
    from solvers.backends import make_solver
    from territory.cli_common import columns_from, params_from
    from territory.run_files import check_out_dir
    from territory.runs import FEASIBLE_STATUSES
    from territory.sizing import SizingOptions, load_sites, load_sizing_inputs, parse_sizes
    from territory.sizing import size_headcounts as run_sizing
    from territory.sizing_report import SIZING_MARKER, save_sizing

    sizes = parse_sizes(sizes_text)
    if options.get("travel_times") is not None:
        raise UsageError(
            "--travel-times cannot be used with size: new home bases have no travel times."
        )
    params = params_from(options)
    sizing_options = SizingOptions(capacity, demand_points, location_nodes, location_time_limit)
    phases = Phases(quiet)
    check_out_dir(out_dir, SIZING_MARKER, "sizing")
    make_solver(params.solver, mip=False)  # fail early, with the list, if not installed
    inputs = load_sizing_inputs(accounts, roster, columns_from(account_col, rep_col))
    candidates = load_sites(sites) if sites is not None else None
    phases("load", f"{inputs.n_accounts:,} accounts, {inputs.n_reps:,} roster reps kept")
    for warning in inputs.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    where = f"Dask scheduler {scheduler}" if scheduler else "local processes"
    phases("sizes", f"{len(sizes)} headcounts ({sizes[0]}–{sizes[-1]}) on {where}")

    def report(done: int, total: int, result: Any) -> None:
        phases(
            "size",
            f"{done}/{total} {result.size} reps: {result.point.outcome.status}, sites "
            f"{result.location['status']}, {result.seconds:.1f} s",
        )

    start = time.perf_counter()
    sizing = run_sizing(
        inputs,
        sizes,
        params,
        sizing_options,
        sites=candidates,
        workers=workers,
        scheduler=scheduler,
        report=report,
    )
    timings = {"sizes": time.perf_counter() - start}
    record = {
        "inputs": {role: vars(f) for role, f in inputs.files.items()},
        "columns": inputs.columns.as_dict(),
        "sites_file": str(sites) if sites is not None else None,
    }
    title = f"Headcount sizing: {accounts.name}"
    save_sizing(sizing, out_dir, title=title, record=record, draw_map=not no_map, timings=timings)
    phases("write", f"sizing written to {out_dir}")
    _print_table(sizing, out_dir)
    feasible = sizing.table["status"].isin(FEASIBLE_STATUSES).any()
    sys.exit(0 if feasible else EXIT_INFEASIBLE)


def _print_table(sizing: Any, out_dir: Path) -> None:
    from territory.sizing import RECOMMENDATION_RULE

    view = Table(title="sizing (coverage × balance × travel)", title_justify="left")
    for name in ("reps", "status", "pot. idx", "work idx", "km", "cap/work", "covered",
                 "over", "cap", ""):  # fmt: skip
        view.add_column(name, justify="left" if name in ("status", "cap", "") else "right")
    for _, r in sizing.table.iterrows():
        view.add_row(
            str(r["reps"]),
            str(r["status"]),
            f"{r['potential_index_min']:.1f}–{r['potential_index_max']:.1f}",
            f"{r['workload_index_min']:.1f}–{r['workload_index_max']:.1f}",
            f"{r['mean_distance_km']:.1f}",
            f"{100 * r['capacity_ratio']:.1f}%",
            f"{100 * r['workload_coverage']:.1f}%",
            str(r["reps_over_capacity"]),
            "imposed" if r["capacity_imposed"] else "measured",
            "recommended" if r["recommended"] else ("" if r["balanced"] else "not balanced"),
        )
    out.print(view)
    if sizing.recommended is not None:
        out.print(f"recommended: {sizing.recommended} reps ({RECOMMENDATION_RULE}).")
    else:
        out.print(f"no headcount fits ({RECOMMENDATION_RULE}); try larger sizes.")
    out.print(f"written to {out_dir} (open {out_dir / 'sizing.html'} for the chart)")
