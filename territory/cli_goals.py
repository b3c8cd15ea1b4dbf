"""``territory goals``: a national goal split over a run's reps, as CSV and XLSX."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from territory.console import out


@click.command(name="goals")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "--national-goal", "national_goal", required=True, help="The goal to split, e.g. 25000000."
)
@click.option(
    "--blend",
    default=None,
    help="Weight W of the potential share; 1 − W goes to the history share. Default 1.",
)
@click.option(
    "--history-col",
    default=None,
    help="History column: an account column of assignments.csv (summed per rep) or a rep "
    "column of rep_summary.csv. Default: 'history' when present.",
)
@click.option(
    "--round",
    "round_unit",
    default="0.01",
    show_default=True,
    help="Goals are whole multiples of this unit and sum to the national goal exactly.",
)
@click.option(
    "--out",
    "-o",
    "out_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory for goals.csv and goals.xlsx, or a file name ending in .csv or .xlsx "
    "(both files are written with that stem). Default: RUN_DIR.",
)
def goals_command(
    run_dir: Path,
    national_goal: str,
    blend: str | None,
    history_col: str | None,
    round_unit: str,
    out_path: Path | None,
) -> None:
    """Per-rep goals from a run: potential (and history) shares of a national goal."""
    from territory.goals import goal_table, parse_decimal, plain
    from territory.goals_files import write_goal_files
    from territory.run_view import read_run_view

    view = read_run_view(run_dir)
    table = goal_table(
        view,
        parse_decimal(national_goal, "--national-goal"),
        None if blend is None else parse_decimal(blend, "--blend"),
        history_col,
        parse_decimal(round_unit, "--round"),
    )
    shown = Table(title=Text(f"goals for {view.label}"), title_justify="left")
    for column in ("rep", "potential idx", "history share", "goal", "goal idx"):
        shown.add_column(column, justify="left" if column == "rep" else "right")
    for row in table.reps.to_dict("records"):
        share = row["history_share"]
        shown.add_row(
            Text(str(row["rep_id"])),
            f"{row['potential_index']:.1f}",
            "–" if share != share else f"{share:.2%}",
            f"{float(row['goal']):,.2f}",
            f"{row['goal_index']:.1f}",
        )
    out.print(shown)
    for record in table.fairness.to_dict("records"):
        out.print(Text(f"{record['statistic']}: {record['value']:.4g}"))
    csv_path, xlsx_path = write_goal_files(table, out_path or run_dir)
    out.print(Text(f"goals sum to {plain(table.national_goal)}; wrote {csv_path} and {xlsx_path}"))
