"""``territory run SCENARIO.toml``: one alignment described by a scenario file."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape

from territory.cli_common import run_align
from territory.console import err


@click.command(name="run")
@click.argument("scenario_file", metavar="SCENARIO.toml", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Run directory to write (default: the scenario's `out`, else a directory named "
    "after the scenario file, beside it).",
)
@click.option("--no-map", is_flag=True, help="Do not draw map.html.")
@click.option("--quiet", "-q", is_flag=True, help="No progress on stderr.")
def run_command(scenario_file: Path, out_dir: Path | None, no_map: bool, quiet: bool) -> None:
    """Run a scenario file (inputs, columns, parameters, edits) and write a run directory.

    Exit codes as for `align`: 0 ok, 2 bad scenario or input, 3 no feasible plan.
    """
    from territory.edits import apply_edits
    from territory.inputs import AlignmentInputs
    from territory.scenarios import load_scenario

    scenario = load_scenario(scenario_file)
    effects: list[str] = []
    record = {"scenario": scenario.record(effects)}  # effects are filled in by the edit step

    def edit(inputs: AlignmentInputs) -> AlignmentInputs:
        edited, done = apply_edits(inputs, scenario.edits)
        effects.extend(done)
        if not quiet:
            for line in done:
                err.print(f"[dim]{escape(line)}[/dim]")
        return edited

    code = run_align(
        scenario.accounts,
        scenario.reps,
        out_dir if out_dir is not None else scenario.default_out(),
        scenario.columns,
        scenario.options(),
        not no_map,
        quiet,
        edit=edit if scenario.edits else None,
        command="run",
        record=record,
        files={"scenario.toml": scenario.to_toml()},
    )
    sys.exit(code)
