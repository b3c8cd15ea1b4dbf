"""``territory sweep``: full alignments over a grid of tolerances and moved caps, the Pareto
table of balance × travel × disruption, and its charts."""

from __future__ import annotations

import sys
import time
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.markup import escape
from rich.table import Table

from territory.cli_common import align_options, optional_input_options, parallel_options
from territory.console import EXIT_INFEASIBLE, Phases, err, out
from territory.errors import UsageError


def parse_values(text: str, option: str, allow_none: bool) -> list[float | None]:
    """``"0.02, 0.05,none"`` → ``[0.02, 0.05, None]`` (``none`` only where allowed)."""
    values: list[float | None] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        if allow_none and part.lower() == "none":
            values.append(None)
            continue
        try:
            values.append(float(part))
        except ValueError:
            allowed = "numbers or none" if allow_none else "numbers"
            raise UsageError(
                f"{option} expects {allowed} separated by commas, got '{text}'."
            ) from None
    return values


def _explicit(ctx: click.Context, names: list[str]) -> set[str]:
    given = (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)
    return {n for n in names if ctx.get_parameter_source(n) in given}


@click.command(name="sweep")
@click.option(
    "--scenario",
    "-s",
    "scenario_file",
    type=click.Path(path_type=Path),
    default=None,
    help="Sweep a scenario file (its inputs, columns, parameters and edits) instead of "
    "--accounts/--reps; align options given here override its parameters.",
)
@optional_input_options
@align_options
@click.option(
    "--out",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Sweep directory to write: pareto.csv, pareto.png, pareto.html, sweep.json.",
)
@click.option("--keep-runs", is_flag=True, help="Also write every point's run directory.")
@click.option("--no-map", is_flag=True, help="With --keep-runs: do not draw map.html.")
@parallel_options("points")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def sweep_command(
    scenario_file: Path | None,
    accounts: Path | None,
    reps: Path | None,
    account_col: tuple[str, ...],
    rep_col: tuple[str, ...],
    tolerance_values: str | None,
    max_moved_values: str | None,
    out_dir: Path,
    keep_runs: bool,
    no_map: bool,
    workers: int | None,
    scheduler: str | None,
    quiet: bool,
    **options: Any,
) -> None:
    """Trade-off curves: one full alignment per --tolerance × --max-moved value.

    \b
    territory sweep -a accounts.csv -r reps.csv --tolerance 0.02,0.03,0.05,0.1 -o sweep/
    territory sweep --scenario baseline.toml --max-moved 0.05,0.1,0.2,none -o sweep/

    Exit code 0 when written (3 when no point has a plan within its constraints).
    """
    from solvers.backends import make_solver
    from territory.cli_common import columns_from, params_from
    from territory.inputs import load_inputs, load_travel_times
    from territory.params import AlignParams
    from territory.run_files import check_out_dir
    from territory.runs import FEASIBLE_STATUSES
    from territory.scenarios import load_scenario, scenario_inputs
    from territory.sweep import SweepJob, run_sweep, sweep_params
    from territory.sweep_report import SWEEP_MARKER, save_sweep

    if tolerance_values is None and max_moved_values is None:
        raise UsageError("give --tolerance and/or --max-moved as comma-separated lists.")
    tolerances = [
        v for v in parse_values(tolerance_values or "", "--tolerance", False) if v is not None
    ]
    caps = parse_values(max_moved_values or "", "--max-moved", True)
    phases = Phases(quiet)
    check_out_dir(out_dir, SWEEP_MARKER, "sweep")
    ctx = click.get_current_context()
    names = [f.name for f in fields(AlignParams)] + ["no_workload_band", "travel_times"]
    given = _explicit(ctx, names)
    record: dict[str, Any] = {}
    if scenario_file is not None:
        if accounts or reps or account_col or rep_col:
            raise UsageError("--scenario names its own inputs: leave out --accounts/--reps.")
        scenario = load_scenario(scenario_file)
        inputs, effects = scenario_inputs(scenario)
        chosen = {k: options[k] for k in given if k in {f.name for f in fields(AlignParams)}}
        if "no_workload_band" in given and options["no_workload_band"]:
            chosen["workload_tolerance"] = None
        base = replace(scenario.params, **chosen)
        travel_path = options["travel_times"] if "travel_times" in given else scenario.travel_times
        record["scenario"] = scenario.record(effects)
        title = f"Trade-off sweep: {scenario.name}"
    else:
        if accounts is None or reps is None:
            raise UsageError("give --accounts and --reps, or --scenario FILE.")
        inputs = load_inputs(accounts, reps, columns_from(account_col, rep_col))
        base = params_from(options)
        travel_path = options["travel_times"]
        title = f"Trade-off sweep: {accounts.name}"
    phases("load", f"{inputs.n_accounts:,} accounts, {inputs.n_reps:,} reps")
    for warning in inputs.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    travel = load_travel_times(inputs, travel_path) if travel_path is not None else None
    make_solver(base.solver, mip=False)  # fail early, with the list, if not installed
    grid = sweep_params(base, tolerances or None, caps or None)
    record = {
        "inputs": {role: vars(f) for role, f in inputs.files.items()},
        "columns": inputs.columns.as_dict(),
        "base_parameters": base.as_dict(),
        **record,
    }
    where = f"Dask scheduler {scheduler}" if scheduler else "local processes"
    phases("grid", f"{len(grid)} points on {where}")

    def report(done: int, total: int, plan: Any) -> None:
        m = plan.metrics()
        phases(
            "point",
            f"{done}/{total} tolerance {plan.params.tolerance:g}, max moved "
            f"{plan.params.max_moved if plan.params.max_moved is not None else 'none'}: "
            f"{plan.status}, mean {m['mean_distance_km'] or 0:.1f} km, moved "
            f"{100 * (m['moved_potential_share'] or 0):.1f} % of potential",
        )

    start = time.perf_counter()
    sweep = run_sweep(
        SweepJob(inputs, travel), grid, workers=workers, scheduler=scheduler, report=report
    )
    timings = {"points": time.perf_counter() - start}
    save_sweep(
        sweep,
        out_dir,
        title=title,
        record=record,
        keep_runs=keep_runs,
        draw_map=not no_map,
        timings=timings,
    )
    phases("write", f"sweep written to {out_dir}")
    _print_table(sweep.table, out_dir)
    feasible = sweep.table["status"].isin(FEASIBLE_STATUSES).any()
    sys.exit(0 if feasible else EXIT_INFEASIBLE)


def _print_table(table: Any, out_dir: Path) -> None:
    view = Table(title="sweep (balance × travel × disruption)", title_justify="left")
    for name in ("point", "tolerance", "max moved", "status", "potential idx", "mean km",
                 "moved pot.", "Pareto"):  # fmt: skip
        view.add_column(name, justify="left" if name == "status" else "right")
    for _, r in table.iterrows():
        moved = (
            "none"
            if r["max_moved"] is None or r["max_moved"] != r["max_moved"]
            else (f"{r['max_moved']:g}")
        )
        view.add_row(
            str(r["point"]),
            f"{r['tolerance']:g}",
            moved,
            str(r["status"]),
            f"{r['potential_index_min']:.1f} – {r['potential_index_max']:.1f}",
            f"{r['mean_distance_km']:.1f}",
            f"{100 * r['moved_potential_share']:.1f} %",
            "knee" if r["knee"] else ("yes" if r["pareto"] else ""),
        )
    out.print(view)
    out.print(f"written to {out_dir} (open {out_dir / 'pareto.html'} for the chart)")


def _list_options(command: click.Command) -> None:
    """--tolerance and --max-moved take lists here: swap the align options for list ones."""
    replacements = {
        "tolerance": click.Option(
            ["--tolerance", "tolerance_values"],
            metavar="LIST",
            default=None,
            help="Potential bands to sweep, e.g. 0.02,0.03,0.05,0.1 [default: the base value].",
        ),
        "max_moved": click.Option(
            ["--max-moved", "max_moved_values"],
            metavar="LIST",
            default=None,
            help="Moved-potential caps to sweep, e.g. 0.05,0.1,0.2,none [default: the base value].",
        ),
    }
    command.params = [replacements.get(p.name or "", p) for p in command.params]


_list_options(sweep_command)
