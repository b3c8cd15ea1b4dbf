"""``territory compare``: runs side by side against a baseline (the first run)."""

from __future__ import annotations

from pathlib import Path

import click

from territory.console import out
from territory.errors import UsageError


@click.command(name="compare")
@click.argument("runs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write figures.csv, reps.csv, handovers.csv, moved_accounts.csv and report.html here.",
)
@click.option("--no-map", is_flag=True, help="Leave the change maps out of report.html.")
def compare_command(runs: tuple[Path, ...], out_dir: Path | None, no_map: bool) -> None:
    """Compare run directories with the first one (the baseline), re-scoring all the same way."""
    from territory.compare import compare_runs
    from territory.compare_report import print_comparison, write_comparison
    from territory.run_view import read_run_view, unique_labels

    if len(runs) < 2:
        raise UsageError("compare needs at least two run directories: the baseline first.")
    labels = unique_labels(list(runs))
    views = [read_run_view(path, label) for path, label in zip(runs, labels, strict=True)]
    comparison = compare_runs(views)
    print_comparison(out, comparison)
    if out_dir is not None:
        write_comparison(comparison, views, out_dir, draw_map=not no_map)
        out.print(f"wrote {out_dir / 'report.html'} and the CSV files in {out_dir}")
