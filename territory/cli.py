"""The ``territory`` command line: a thin shell over the Python API.

Every error a user can cause ends as a message and an exit code (0 ok, 2 bad input or usage,
3 no feasible plan, 1 unexpected failure); never as a traceback unless TERRITORY_DEBUG=1.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.markup import escape

from territory import __version__
from territory.cli_common import (
    DEFAULTS,
    align_options,
    columns_from,
    input_options,
    optional_input_options,
    run_align,
    run_unit_align,
    unit_options,
    validate_units,
)
from territory.cli_compare import compare_command
from territory.cli_explain import explain_command
from territory.cli_goals import goals_command
from territory.cli_run import run_command
from territory.cli_size import size_command
from territory.cli_sweep import sweep_command
from territory.columns import ColumnMap
from territory.console import err, out
from territory.errors import TerritoryError, UsageError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="territory")
def cli() -> None:
    """Balanced, compact, low-disruption sales territories with a proven bound."""


cli.add_command(run_command)
cli.add_command(sweep_command)
cli.add_command(compare_command)
cli.add_command(goals_command)
cli.add_command(explain_command)
cli.add_command(size_command)


@cli.command()
@optional_input_options
@unit_options
def validate(
    accounts: Path | None,
    reps: Path | None,
    account_col: tuple[str, ...],
    rep_col: tuple[str, ...],
    **options: Any,
) -> None:
    """Check the inputs without optimising: exit 0 when usable, 2 with every problem listed.

    With --units, checks the unit layer (and the accounts and reps given with it) and reports
    its adjacency: the parts and islands a contiguous design must respect.
    """
    columns = columns_from(account_col, rep_col)
    if options.get("units") is not None:
        validate_units(accounts, reps, columns, options)
        return
    if accounts is None or reps is None:
        raise UsageError("validate needs --accounts and --reps (or --units for a unit layer).")
    from territory.inputs import load_inputs

    inputs = load_inputs(accounts, reps, columns)
    for warning in inputs.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    out.print(
        f"OK: {inputs.n_accounts:,} accounts and {inputs.n_reps:,} reps are valid"
        f" (workload: {'yes' if inputs.has_workload else 'no'}, current alignment: "
        f"{'yes' if inputs.has_current else 'no'}, capacities: "
        f"{'yes' if inputs.has_capacity else 'no'})."
    )


@cli.command()
@optional_input_options
@click.option(
    "--out",
    "-o",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path),
    help="Run directory to write (created; an old run there is replaced).",
)
@align_options
@unit_options
@click.option("--no-map", is_flag=True, help="Do not draw map.html.")
@click.option(
    "--write-model",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the LP handed to the solver to this MPS file (for a bug report).",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def align(
    accounts: Path | None,
    reps: Path | None,
    account_col: tuple[str, ...],
    rep_col: tuple[str, ...],
    out_dir: Path,
    no_map: bool,
    quiet: bool,
    **options: Any,
) -> None:
    """Optimise the alignment and write a run directory.

    Accounts to reps (--accounts, --reps), or whole units to territories (--units, with --reps
    for fixed home bases or --territories K for a greenfield design).
    """
    columns = columns_from(account_col, rep_col)
    units = options.pop("units")
    if units is not None:
        if options.get("write_model") is not None:
            raise UsageError("--write-model is not available with --units.")
        code = run_unit_align(units, accounts, reps, out_dir, columns, options, not no_map, quiet)
        sys.exit(code)
    for flag in ("territories", "crs"):
        if options.get(flag) is not None:
            raise UsageError(f"--{flag} needs --units (a polygon layer of alignment units).")
    if options.get("contiguity") or options.get("connect_islands") or options.get("unit_col"):
        raise UsageError("--contiguity, --connect-islands and --unit-col need --units.")
    if accounts is None or reps is None:
        raise UsageError("align needs --accounts and --reps (or --units for a unit-based design).")
    code = run_align(accounts, reps, out_dir, columns, options, not no_map, quiet)
    sys.exit(code)


@cli.command()
@input_options
@click.option(
    "--plan",
    "plan_path",
    type=click.Path(path_type=Path),
    default=None,
    help="A run directory or assignments file (account_id, rep_id) to score; "
    "default: the current alignment (current_rep).",
)
@click.option("--tolerance", type=float, default=DEFAULTS.tolerance, show_default=True)
@click.option(
    "--workload-tolerance", type=float, default=DEFAULTS.workload_tolerance, show_default=True
)
@click.option(
    "--csv",
    "csv_out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write the per-rep table to this CSV file.",
)
def summary(
    accounts: Path,
    reps: Path,
    account_col: tuple[str, ...],
    rep_col: tuple[str, ...],
    plan_path: Path | None,
    tolerance: float,
    workload_tolerance: float,
    csv_out: Path | None,
) -> None:
    """Score a plan (the current alignment by default) with the same metrics, no optimising."""
    from territory.align import score_current, score_plan_file
    from territory.inputs import load_inputs
    from territory.params import AlignParams
    from territory.report import print_plan
    from territory.run_files import write_csv

    inputs = load_inputs(accounts, reps, columns_from(account_col, rep_col))
    for warning in inputs.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    params = AlignParams(tolerance=tolerance, workload_tolerance=workload_tolerance)
    plan = (
        score_plan_file(inputs, plan_path, params) if plan_path else score_current(inputs, params)
    )
    print_plan(out, plan, None, title="current alignment" if plan_path is None else str(plan_path))
    if csv_out is not None:
        write_csv(plan.rep_summary(), csv_out)


@cli.command()
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("territory-demo"),
    show_default=True,
    help="Run directory to write.",
)
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def demo(out_dir: Path, quiet: bool) -> None:
    """The whole job on the bundled sample data: score today's plan, optimise, write, map."""
    import sample_data
    from territory.align import score_current
    from territory.inputs import load_inputs
    from territory.report import print_plan

    inputs = load_inputs(sample_data.ACCOUNTS, sample_data.REPS)
    print_plan(
        out, score_current(inputs), None, title="today's alignment (sample data)", reps_table=False
    )
    code = run_align(sample_data.ACCOUNTS, sample_data.REPS, out_dir, ColumnMap(), {}, True, quiet)
    from maps import write_district_maps

    packs = out_dir / "districts"
    write_district_maps(out_dir, packs)
    out.print(
        f"\nOpen {out_dir / 'map.html'} in a browser to see the plan, and "
        f"{packs / 'index.html'} for one map per district (first-line manager)."
    )
    sys.exit(code)


@cli.command()
def solvers() -> None:
    """List the solver back-ends PuLP can use here."""
    from solvers.backends import available_solvers

    for name, version in available_solvers().items():
        out.print(f"{name}\t{version}")


@cli.command(name="map")
@click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="HTML file to write (default RUN_DIR/map.html); with --by, a directory.",
)
@click.option(
    "--by",
    type=click.Choice(["district"]),
    default=None,
    help="One map per district plus an index.html.",
)
@click.option(
    "--tiles",
    type=click.Choice(["none", "osm"]),
    default="none",
    show_default=True,
    help="Add a web basemap (needs network when viewing).",
)
def map_command(run_dir: Path, output: Path | None, by: str | None, tiles: str) -> None:
    """Draw a run as a self-contained HTML map (or one per district)."""
    from maps import write_district_maps, write_map
    from territory.run_files import is_run_dir

    if not is_run_dir(run_dir):
        raise UsageError(f"{run_dir} is not a run directory (no run.json).")
    tile_arg = None if tiles == "none" else tiles
    if by == "district":
        target = output or run_dir / "district_maps"
        files = write_district_maps(run_dir, target, tiles=tile_arg)
        out.print(f"wrote {len(files)} files to {target} (open {target / 'index.html'})")
    else:
        target = output or run_dir / "map.html"
        write_map(run_dir, target, tiles=tile_arg)
        out.print(f"wrote {target}")


def main() -> None:
    """Entry point: run the CLI and turn every failure into a message and an exit code."""
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut the exit
        err.print("interrupted; an existing run directory was left as it was.")
        sys.exit(130)
    except TerritoryError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(exc.exit_code)
    except Exception as exc:  # the last line of defence: a message, not a traceback
        if os.environ.get("TERRITORY_DEBUG"):
            raise
        err.print(
            f"[red]unexpected failure:[/red] {type(exc).__name__}: {escape(str(exc))}\n"
            "This is a bug in territory; rerun with TERRITORY_DEBUG=1 for details and report it "
            "(with `align --write-model model.mps`, attach the model the solver was given)."
        )
        sys.exit(1)
