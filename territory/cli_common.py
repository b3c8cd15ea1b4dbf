"""Options and steps shared by the commands: input files, column remaps, alignment options,
and the load → optimise → write pipeline of one alignment run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape

from territory.columns import ACCOUNT_FIELDS, REP_FIELDS, ColumnMap, parse_remaps
from territory.console import EXIT_INFEASIBLE, Phases, err, out
from territory.params import AlignParams

if TYPE_CHECKING:
    from territory.inputs import AlignmentInputs

DEFAULTS = AlignParams()


def columns_from(account_col: tuple[str, ...], rep_col: tuple[str, ...]) -> ColumnMap:
    return ColumnMap(
        accounts=parse_remaps(account_col, ACCOUNT_FIELDS, "--account-col"),
        reps=parse_remaps(rep_col, REP_FIELDS, "--rep-col"),
    )


def _input_options(func: Callable[..., Any], required: bool) -> Callable[..., Any]:
    """--accounts, --reps and the column remaps, shared by every command that reads inputs."""
    options = [
        click.option(
            "--accounts",
            "-a",
            required=required,
            type=click.Path(path_type=Path),
            help="Accounts file (CSV, Parquet, GeoJSON, GeoPackage, ...).",
        ),
        click.option(
            "--reps",
            "-r",
            required=required,
            type=click.Path(path_type=Path),
            help="Rep roster file.",
        ),
        click.option(
            "--account-col",
            multiple=True,
            metavar="FIELD=COLUMN",
            help="Read an account field from another column, e.g. potential=Sales.",
        ),
        click.option(
            "--rep-col",
            multiple=True,
            metavar="FIELD=COLUMN",
            help="Read a rep field from another column, e.g. rep_id=Territory.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--accounts, --reps (both required) and the column remaps."""
    return _input_options(func, required=True)


def optional_input_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--accounts, --reps and the column remaps, for commands that can do without them."""
    return _input_options(func, required=False)


def align_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option(
            "--tolerance",
            type=float,
            default=DEFAULTS.tolerance,
            show_default=True,
            help="Potential band: every rep within ±this share of its target.",
        ),
        click.option(
            "--workload-tolerance",
            type=float,
            default=DEFAULTS.workload_tolerance,
            show_default=True,
            help="Workload band (used when accounts have a workload column).",
        ),
        click.option("--no-workload-band", is_flag=True, help="Do not balance workload."),
        click.option(
            "--max-moved",
            type=float,
            default=None,
            help="Cap on the share of total potential that changes rep, e.g. 0.1.",
        ),
        click.option(
            "--move-penalty",
            type=float,
            default=DEFAULTS.move_penalty,
            show_default=True,
            help="Cost per unit of moved potential, in distance units (km or minutes).",
        ),
        click.option(
            "--max-distance",
            type=float,
            default=None,
            help="Farthest an account may be from its rep (km, or minutes with a "
            "travel-time table); unreachable accounts are reported uncovered.",
        ),
        click.option(
            "--distance",
            type=click.Choice(["great_circle", "squared"]),
            default=DEFAULTS.distance,
            show_default=True,
            help="Objective distance: great-circle, or squared (moment of inertia).",
        ),
        click.option(
            "--weighting",
            type=click.Choice(["potential", "workload", "none"]),
            default=DEFAULTS.weighting,
            show_default=True,
            help="What weights each account's distance in the objective.",
        ),
        click.option(
            "--travel-times",
            type=click.Path(path_type=Path),
            default=None,
            help="Table rep_id, account_id, minutes used instead of distances.",
        ),
        click.option(
            "--solver",
            default=DEFAULTS.solver,
            show_default=True,
            help="PuLP solver name (see `territory solvers`).",
        ),
        click.option(
            "--time-limit",
            type=float,
            default=DEFAULTS.time_limit,
            show_default=True,
            help="Wall-clock limit for the optimisation, seconds.",
        ),
        click.option(
            "--gap",
            type=float,
            default=DEFAULTS.gap,
            show_default=True,
            help="Stop once the plan is within this share of the lower bound.",
        ),
        click.option(
            "--mip",
            type=click.Choice(["auto", "always", "never"]),
            default=DEFAULTS.mip,
            show_default=True,
            help="Run the exact MILP after LP+repair: when the gap is above --gap "
            "(auto), always, or never.",
        ),
        click.option(
            "--candidates",
            type=int,
            default=DEFAULTS.candidates,
            show_default=True,
            help="Nearest reps per account to start from (more are priced in).",
        ),
        click.option(
            "--seed",
            type=int,
            default=DEFAULTS.seed,
            show_default=True,
            help="Seed recorded with the run (the solve is deterministic).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def params_from(options: dict[str, Any]) -> Any:
    """AlignParams from command-line options; options not given keep the defaults."""
    from dataclasses import fields

    from territory.params import AlignParams

    names = {f.name for f in fields(AlignParams)}
    chosen = {k: v for k, v in options.items() if k in names}
    if options.get("no_workload_band"):
        chosen["workload_tolerance"] = None
    return AlignParams(**chosen)


def run_align(
    accounts: Path,
    reps: Path,
    out_dir: Path,
    columns: ColumnMap,
    options: dict[str, Any],
    draw_map: bool,
    quiet: bool,
    *,
    edit: Callable[[AlignmentInputs], AlignmentInputs] | None = None,
    command: str = "align",
    record: dict[str, Any] | None = None,
    files: dict[str, str] | None = None,
) -> int:
    """Load, optimise, write; returns the exit code.

    ``edit`` changes the validated inputs before the solve (a scenario's edits); ``command``,
    ``record`` and ``files`` go to :func:`territory.runs.save_run`.
    """
    from territory.align import align
    from territory.inputs import load_inputs, load_travel_times
    from territory.report import print_plan
    from territory.run_files import check_out_dir
    from territory.runs import save_run

    phases = Phases(quiet)
    params = params_from(options)
    check_out_dir(out_dir)
    inputs = load_inputs(accounts, reps, columns)
    phases("load", f"{inputs.n_accounts:,} accounts, {inputs.n_reps:,} reps")
    if edit is not None:
        inputs = edit(inputs)
        phases("edits", f"{inputs.n_accounts:,} accounts, {inputs.n_reps:,} reps after edits")
    for warning in inputs.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    travel = None
    if options.get("travel_times") is not None:
        travel = load_travel_times(inputs, options["travel_times"])
    model_file = options.get("write_model")
    plan = align(inputs, params, travel_times=travel, progress=phases, model_file=model_file)
    for reason in plan.prechecks:
        err.print(f"[red]infeasible:[/red] {escape(reason)}")
    save_run(plan, out_dir, draw_map=draw_map, command=command, extra=record, files=files)
    phases("write", f"run written to {out_dir}")
    print_plan(out, plan, out_dir)
    if plan.status == "infeasible":
        return EXIT_INFEASIBLE
    return 1 if plan.status == "error" else 0


def unit_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Options of unit-based alignment and greenfield design (``align --units``)."""
    options = [
        click.option(
            "--units",
            type=click.Path(path_type=Path),
            default=None,
            help="Polygon layer of alignment units (ZIP codes, counties, bricks): territories "
            "are unions of whole units.",
        ),
        click.option(
            "--territories",
            type=int,
            default=None,
            help="With --units and no --reps: design K territories, centres placed by the model.",
        ),
        click.option(
            "--contiguity", is_flag=True, help="Every territory one connected set of units."
        ),
        click.option(
            "--adjacency",
            type=click.Choice(["rook", "queen"]),
            default="rook",
            show_default=True,
            help="Units touch by a shared border (rook) or also by a corner (queen).",
        ),
        click.option(
            "--connect-islands",
            is_flag=True,
            help="Link disconnected parts of the unit map (islands) to their nearest part.",
        ),
        click.option(
            "--crs",
            default=None,
            metavar="EPSG:NNNN",
            help="Planar distances (km) in this projected CRS instead of great-circle.",
        ),
        click.option(
            "--unit-col",
            multiple=True,
            metavar="FIELD=COLUMN",
            help="Read a unit field from another column, e.g. unit_id=GEOID.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run_unit_align(
    units: Path,
    accounts: Path | None,
    reps: Path | None,
    out_dir: Path,
    columns: ColumnMap,
    options: dict[str, Any],
    draw_map: bool,
    quiet: bool,
) -> int:
    """Load units (and accounts, reps), design, write; returns the exit code."""
    from territory.design import UnitOptions, design
    from territory.report import print_plan
    from territory.run_files import check_out_dir
    from territory.runs import save_run
    from territory.unit_inputs import load_unit_inputs
    from territory.units import UNIT_FIELDS

    phases = Phases(quiet)
    params = params_from(options)
    check_out_dir(out_dir)
    inputs = load_unit_inputs(
        units,
        accounts=accounts,
        reps=reps,
        territories=options.get("territories"),
        columns=columns,
        unit_columns=parse_remaps(options.get("unit_col") or (), UNIT_FIELDS, "--unit-col"),
        crs=options.get("crs"),
    )
    detail = f"{inputs.layer.n_units:,} units"
    if inputs.accounts is not None:
        detail += f", {len(inputs.accounts):,} accounts"
    detail += f", {inputs.territories} territories" + (" (greenfield)" if inputs.greenfield else "")
    phases("load", detail)
    for warning in inputs.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    unit_opts = UnitOptions(
        contiguity=bool(options.get("contiguity")),
        adjacency=options.get("adjacency") or "rook",
        connect_islands=bool(options.get("connect_islands")),
    )
    plan = design(inputs, params, unit_opts, progress=phases)
    for reason in plan.prechecks:
        err.print(f"[red]infeasible:[/red] {escape(reason)}")
    save_run(plan, out_dir, draw_map=draw_map)
    phases("write", f"run written to {out_dir}")
    print_plan(out, plan, out_dir)
    if plan.status == "infeasible":
        return EXIT_INFEASIBLE
    return 1 if plan.status == "error" else 0


def validate_units(
    accounts: Path | None, reps: Path | None, columns: ColumnMap, options: dict[str, Any]
) -> None:
    """``validate --units``: the layer, the accounts' join and the adjacency's parts."""
    from territory.adjacency import connect_parts, unit_adjacency
    from territory.unit_inputs import load_unit_inputs
    from territory.units import UNIT_FIELDS

    territories = options.get("territories")
    inputs = load_unit_inputs(
        options["units"],
        accounts=accounts,
        reps=reps,
        # the layer alone is checked as for one territory: every count fits
        territories=territories if territories is not None or reps is not None else 1,
        columns=columns,
        unit_columns=parse_remaps(options.get("unit_col") or (), UNIT_FIELDS, "--unit-col"),
        crs=options.get("crs"),
    )
    for warning in inputs.warnings:
        err.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    layer = inputs.layer
    graph = unit_adjacency(layer.projected, options.get("adjacency") or "rook")
    if options.get("connect_islands"):
        graph = connect_parts(graph, layer.projected)
    n_parts = int(graph.parts().max() + 1) if layer.n_units else 0
    islands = [str(layer.ids[i]) for i in graph.islands()]
    detail = f"OK: {layer.n_units:,} units are valid"
    if inputs.accounts is not None:
        detail += f", {len(inputs.accounts):,} accounts joined to them"
    if inputs.reps is not None:
        detail += f", {len(inputs.reps):,} reps"
    out.print(
        detail
        + f"; {graph.kind} adjacency: {n_parts} part(s)"
        + (f", {len(graph.links)} link(s) added" if graph.links else "")
        + (f", islands: {escape(', '.join(islands[:10]))}" if islands else ", no islands")
        + ("…" if len(islands) > 10 else "")
        + "."
    )
    if n_parts > 1:
        err.print(
            "[yellow]note:[/yellow] with --contiguity each part must hold whole territories; "
            "--connect-islands links every part to its nearest one."
        )


def parallel_options(what: str) -> Callable[[Callable], Callable]:
    """``--workers`` and ``--scheduler``: where independent solves of ``what`` run."""

    def decorate(func: Callable) -> Callable:
        func = click.option(
            "--scheduler",
            metavar="ADDRESS",
            default=None,
            help=f"Solve the {what} on this Dask scheduler (e.g. tcp://host:8786) instead.",
        )(func)
        return click.option(
            "--workers",
            type=int,
            default=None,
            help=f"Local processes solving {what} in parallel [default: min(2, CPUs)].",
        )(func)

    return decorate
