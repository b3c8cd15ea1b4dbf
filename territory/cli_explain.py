"""``territory explain``: why each rep's band binds and why each moved account moved."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table
from rich.text import Text

from territory.console import out

MAX_REP_ROWS = 40


@click.command(name="explain")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--top", type=int, default=20, show_default=True, help="Moved accounts to list.")
@click.option(
    "--out",
    "-o",
    "out_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Write band_prices.csv and move_reasons.csv into this directory.",
)
def explain_command(run_dir: Path, top: int, out_dir: Path | None) -> None:
    """Band prices (LP duals) per rep and the reason for every moved account."""
    from territory.explain import REASONS, explain_run
    from territory.run_files import write_csv, write_run_dir
    from territory.run_view import read_run_view

    view = read_run_view(run_dir)
    result = explain_run(view)
    prices = result.prices
    order = (
        prices["potential_band_price"].fillna(0).abs().sort_values(ascending=False, kind="stable")
    )
    reps = Table(
        title=Text(f"band prices of {view.label} ({result.price_unit})"), title_justify="left"
    )
    for column in (
        "rep",
        "potential idx",
        "potential price",
        "edge",
        "workload idx",
        "workload price",
    ):
        reps.add_column(column, justify="left" if column in ("rep", "edge") else "right")
    for i in order.index[:MAX_REP_ROWS]:
        row = prices.loc[i]
        reps.add_row(
            Text(str(row["rep_id"])),
            _fmt(row["potential_index"], ".1f"),
            _fmt(row["potential_band_price"], ",.3g"),
            row["potential_band"],
            _fmt(row["workload_index"], ".1f"),
            _fmt(row["workload_band_price"], ",.3g"),
        )
    out.print(reps)
    moves = result.moves
    counts = moves["reason"].value_counts()
    out.print(f"{len(moves):,} accounts moved from today's reps:")
    for reason, count in counts.items():
        out.print(Text(f"  {count:>6,}  {reason}: {REASONS[str(reason)]}"))
    if top > 0 and len(moves):
        table = Table(title=f"largest {min(top, len(moves))} moves", title_justify="left")
        for column in (
            "account",
            "from",
            "to",
            "potential",
            "km from",
            "km to",
            "extra cost",
            "price pull",
            "reason",
        ):
            table.add_column(column, justify="right" if column[0] in "kpe" else "left")
        for row in moves.head(top).to_dict("records"):
            table.add_row(
                Text(str(row["account_id"])),
                Text(str(row["from_rep"])),
                Text(str(row["to_rep"])),
                _fmt(row["potential"], ",.0f"),
                _fmt(row["distance_from_km"], ",.1f"),
                _fmt(row["distance_to_km"], ",.1f"),
                _fmt(row["extra_cost_per_potential"], ",.2f"),
                _fmt(row["price_pull_per_potential"], ",.2f"),
                row["reason"],
            )
        out.print(table)
        out.print(
            Text(f"extra cost and price pull are per unit of potential ({result.price_unit}).")
        )
    for note in result.notes:
        out.print(Text(f"note: {note}"))
    if out_dir is not None:

        def writer(tmp: Path) -> None:
            write_csv(prices, tmp / "band_prices.csv")
            write_csv(moves, tmp / "move_reasons.csv")

        write_run_dir(out_dir, writer, marker="band_prices.csv", kind="explain")
        out.print(f"wrote {out_dir / 'band_prices.csv'} and {out_dir / 'move_reasons.csv'}")


def _fmt(value: object, spec: str) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if number != number else format(number, spec)
