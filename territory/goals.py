"""Goal tables: a national goal split over the reps of a run, with fairness statistics.

Each rep's goal is ``X × (W·potential share + (1−W)·history share)``. Shares are exact
fractions and the goals are rounded to whole ``unit``s (cents by default) by largest
remainder, so the goal column sums to ``X`` exactly; potentials are summed as decimals, so the
reps' potential adds up exactly to the covered potential of ``assignments.csv``.

History: the ``history`` column (or ``--history-col``) is looked up first among the account
columns carried into ``assignments.csv``, and summed per rep over the accounts the rep has in
the plan (history follows the accounts when territories change); failing that, it is read as
a rep-level column of ``rep_summary.csv`` (history of the rep, used as is).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction

import numpy as np
import pandas as pd

from territory.errors import InputError, Problem, UsageError
from territory.metrics import coefficient_of_variation, gini, max_min_ratio
from territory.run_view import RunView

DEFAULT_HISTORY = "history"
TEXT_COLUMNS = ("rep_id", "name", "district", "region")


@dataclass(frozen=True)
class GoalTable:
    """Per-rep goals, fairness statistics and what the table was made from.

    ``potential``, ``history`` and ``goal`` hold exact :class:`~decimal.Decimal` values.
    """

    reps: pd.DataFrame
    fairness: pd.DataFrame  # statistic, value
    about: list[tuple[str, str]]
    national_goal: Decimal
    unit: Decimal


def parse_decimal(text: str, option: str) -> Decimal:
    """A finite decimal from the command line, or a usage error naming the option."""
    try:
        value = Decimal(str(text).strip())
    except InvalidOperation:
        raise UsageError(f"{option} must be a number, not {text!r}.") from None
    if not value.is_finite():
        raise UsageError(f"{option} must be a finite number, not {text!r}.")
    return value


def largest_remainder(weights: list[Fraction], total: int) -> list[int]:
    """Whole numbers proportional to ``weights`` that sum to ``total`` exactly.

    Each gets the floor of its exact share; the units left over go to the largest remainders
    (ties to the earlier position), so no value is off by a whole unit or more.
    """
    weight_sum = sum(weights, Fraction(0))
    if total == 0 or weight_sum == 0:
        return [0] * len(weights)
    raw = [w * total / weight_sum for w in weights]
    floors = [math.floor(r) for r in raw]
    left = total - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return floors


def exact(value: float) -> Decimal:
    """The decimal a CSV number was written as (shortest round-trip repr of the float)."""
    number = Decimal(repr(float(value)))
    return number.quantize(Decimal(1)) if number == number.to_integral_value() else number


def plain(value: Decimal) -> str:
    """A decimal without exponent notation (``5E+3`` → ``5000``)."""
    return format(value, "f")


def _history_values(text: pd.Series, source: str, column: str) -> list[Decimal]:
    problems: list[Problem] = []
    values: list[Decimal] = []
    for row, raw in enumerate(text.astype(str).tolist()):
        raw = raw.strip()
        try:
            value = Decimal(raw) if raw else Decimal(0)
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or value < 0:
            problems.append(
                Problem(source, "history must be a number >= 0.", row=row + 2, column=column)
            )
        values.append(value if value.is_finite() else Decimal(0))
    if problems:
        raise InputError(problems)
    return values


def rep_history(view: RunView, column: str | None) -> tuple[list[Decimal] | None, str]:
    """History per rep (roster order) and where it came from; None when there is none."""
    name = column or DEFAULT_HISTORY
    reps = view.reps
    if name in view.accounts.columns:
        values = _history_values(view.accounts[name], str(view.path / "assignments.csv"), name)
        position = view.rep_position()
        totals = [Decimal(0)] * len(reps)
        for rep, value in zip(view.accounts["rep_id"], values, strict=True):
            if rep:
                totals[position[rep]] += value
        return totals, f"account column '{name}' of assignments.csv, summed per rep"
    if name in reps.columns:
        values = _history_values(reps[name], str(view.path / "rep_summary.csv"), name)
        return values, f"rep column '{name}' of rep_summary.csv"
    if column is not None:
        raise UsageError(
            f"--history-col {column}: no such column in {view.path / 'assignments.csv'} "
            f"or {view.path / 'rep_summary.csv'}."
        )
    return None, "none"


def goal_table(
    view: RunView,
    national_goal: Decimal,
    blend: Decimal | None = None,
    history_col: str | None = None,
    unit: Decimal = Decimal("0.01"),
) -> GoalTable:
    """Split ``national_goal`` over the run's reps; see the module docstring."""
    if national_goal < 0:
        raise UsageError("--national-goal must be >= 0.")
    if unit <= 0:
        raise UsageError("--round must be > 0.")
    units = national_goal / unit
    if units != units.to_integral_value():
        raise UsageError(
            f"--national-goal {plain(national_goal)} is not a whole number of --round units "
            f"({plain(unit)})."
        )
    history, history_source = rep_history(view, history_col)
    if blend is None:
        blend = Decimal(1)
    if not Decimal(0) <= blend <= Decimal(1):
        raise UsageError("--blend must be between 0 and 1.")
    if blend != 1 and history is None:
        raise UsageError(
            f"--blend {plain(blend)} mixes in a history share, but the run has no "
            f"'{history_col or DEFAULT_HISTORY}' column; give --history-col or leave --blend 1."
        )

    reps = view.reps
    accounts = view.accounts
    position = view.rep_position()
    potential = [Decimal(0)] * len(reps)
    for rep, value in zip(accounts["rep_id"], accounts["potential"], strict=True):
        if rep:
            potential[position[rep]] += exact(value)
    total_potential = sum(potential, Decimal(0))
    w = Fraction(blend)
    if w > 0 and total_potential == 0:
        raise UsageError("the run's reps have no potential; goals cannot follow potential.")
    pot_share = [
        Fraction(p) / Fraction(total_potential) if total_potential else Fraction(0)
        for p in potential
    ]
    hist_share: list[Fraction] = [Fraction(0)] * len(reps)
    if history is not None:
        total_history = sum(history, Decimal(0))
        if w < 1 and total_history == 0:
            raise UsageError("the history column sums to 0; goals cannot follow history.")
        if total_history:
            hist_share = [Fraction(h) / Fraction(total_history) for h in history]
    weights = [w * s + (1 - w) * h for s, h in zip(pot_share, hist_share, strict=True)]
    goal_units = largest_remainder(weights, int(units))
    goals = [unit * g for g in goal_units]

    fte = reps["fte"].to_numpy(float)
    fte_share = fte / fte.sum()
    goal_f = np.array([float(g) for g in goals])
    pot_f = np.array([float(p) for p in potential])
    counts = np.bincount(accounts["rep_id"].map(position).dropna().astype(int), minlength=len(reps))
    workload = np.bincount(
        accounts["rep_id"].map(position).fillna(-1).astype(int).clip(lower=0),
        weights=np.where(accounts["rep_id"] != "", accounts["workload"].fillna(0.0), 0.0),
        minlength=len(reps),
    )
    goal_total = float(national_goal)
    with np.errstate(divide="ignore", invalid="ignore"):
        goal_share = goal_f / goal_total if goal_total else np.full(len(reps), np.nan)
        per_potential = np.where(pot_f > 0, goal_f / pot_f, np.nan)
    table = pd.DataFrame({"rep_id": reps["rep_id"].to_numpy()})
    for column in TEXT_COLUMNS[1:]:
        if column in reps.columns and (reps[column] != "").any():
            table[column] = reps[column].to_numpy()
    table["fte"] = fte
    table["accounts"] = counts
    table["potential"] = potential
    table["potential_share"] = [float(s) for s in pot_share]
    table["potential_index"] = 100 * np.array([float(s) for s in pot_share]) / fte_share
    table["workload"] = workload
    table["history"] = history if history is not None else None
    table["history_share"] = [float(s) for s in hist_share] if history is not None else np.nan
    table["goal"] = goals
    table["goal_share"] = goal_share
    table["goal_per_fte"] = goal_f / fte
    table["goal_index"] = 100 * goal_share / fte_share
    table["goal_per_potential"] = per_potential

    covered = pot_f > 0
    input_potential = sum((exact(v) for v in accounts["potential"]), Decimal(0))
    fairness = pd.DataFrame(
        [
            ("goal per unit of potential: CV", coefficient_of_variation(per_potential[covered])),
            ("goal per unit of potential: Gini", gini(per_potential[covered])),
            ("goal per unit of potential: max/min", max_min_ratio(per_potential[covered])),
            ("goal per FTE: CV", coefficient_of_variation(goal_f / fte)),
            ("goal per FTE: Gini (FTE-weighted)", gini(goal_f / fte, fte)),
            ("goal per FTE: max/min", max_min_ratio(goal_f / fte)),
            ("potential per FTE: CV", coefficient_of_variation(pot_f / fte)),
            ("potential per FTE: Gini (FTE-weighted)", gini(pot_f / fte, fte)),
            ("potential per FTE: max/min", max_min_ratio(pot_f / fte)),
        ],
        columns=["statistic", "value"],
    )
    about = [
        ("run", str(view.path)),
        ("run status", str(view.info.get("status", ""))),
        ("national goal", plain(national_goal)),
        ("sum of goals", plain(sum(goals, Decimal(0)))),
        ("rounding unit", plain(unit)),
        ("blend W (potential weight)", plain(blend)),
        ("history", history_source),
        ("potential of the reps", plain(total_potential)),
        ("potential in assignments.csv", plain(input_potential)),
        ("uncovered potential (no rep, no goal)", plain(input_potential - total_potential)),
        ("goal", "national goal × (W × potential share + (1 − W) × history share)"),
        ("rounding", "largest remainder: goals sum to the national goal exactly"),
        ("goal index", "100 × goal share / FTE share"),
        ("potential index", "100 × potential share / FTE share"),
    ]
    return GoalTable(table, fairness, about, national_goal, unit)
