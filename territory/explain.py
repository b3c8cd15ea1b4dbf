"""Why a plan looks as it does: band prices per rep and a reason for every moved account.

The band prices are the duals of the final cost LP (``rep_summary.csv``
``potential_band_price`` / ``workload_band_price``, see docs/model.md). In that LP an account
goes to the rep with the lowest *priced* cost ``c_ar - p_a·y_r - w_a·yw_r - y_m·p_a·moved``, so
an account that moved to a farther rep did so because the price difference between its new and
its old rep (the balance pressure) outweighs the extra travel. With potential weighting and
great-circle distance, the prices read directly as km per unit of potential.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory.geo import haversine_km
from territory.metrics import rep_table
from territory.run_view import RunView, facts_of_run

TRAVEL, BALANCE, ROUNDING = "travel", "balance", "rounding"
NO_PRICES, GONE, NOT_COMPUTED = "no prices", "old rep gone", "not computed"
WAS_UNCOVERED, NOW_UNCOVERED = "was uncovered", "now uncovered"
REASONS = {
    TRAVEL: "the new rep is nearer (cheaper to serve from, move penalty included)",
    BALANCE: "the new rep is farther, and the band prices of new and old rep pay for the detour",
    ROUNDING: "the LP prices alone would keep the account; made when the LP plan was made "
    "integral (repair or MILP)",
    NO_PRICES: "the new rep is farther and the run has no band prices to say why",
    GONE: "the old rep is not on this run's roster",
    NOT_COMPUTED: "a travel-time run: its minutes are not in the run directory",
    WAS_UNCOVERED: "the account had no rep before",
    NOW_UNCOVERED: "the account has no rep now",
}
RELATIVE_TOLERANCE = 1e-6


@dataclass(frozen=True)
class Explanation:
    """Band prices per rep, reasons per moved account, and how to read them."""

    prices: pd.DataFrame
    moves: pd.DataFrame
    price_unit: str
    notes: list[str]


def price_unit(view: RunView) -> str:
    """The unit of the potential band prices, in words."""
    inputs = view.info.get("inputs")
    distance = "minutes" if isinstance(inputs, dict) and "travel_times" in inputs else "km"
    if view.parameter("distance") == "squared":
        distance += "²"
    weighting = view.parameter("weighting", "potential")
    if weighting == "potential":
        return f"{distance} per unit of potential"
    weight = "account" if weighting == "none" else "workload"
    return f"{weight} × {distance} per unit of potential"


def band_side(price: np.ndarray) -> np.ndarray:
    """Which edge of its band holds a rep: "lower" (price > 0), "upper" (< 0) or ""."""
    return np.select([price > 0, price < 0], ["lower", "upper"], default="")


def rep_prices(view: RunView) -> pd.DataFrame:
    """Per rep: recomputed indices, the band prices and the edge each binds at."""
    facts, assignment = facts_of_run(view, view.accounts)
    table = rep_table(facts, assignment)
    reps = view.reps
    pot = reps["potential_band_price"].to_numpy(float)
    work = reps["workload_band_price"].to_numpy(float)
    return pd.DataFrame(
        {
            "rep_id": reps["rep_id"].to_numpy(),
            "name": reps["name"].to_numpy(),
            "potential_index": table["potential_index"].to_numpy(),
            "workload_index": table["workload_index"].to_numpy(),
            "potential_band_price": pot,
            "potential_band": band_side(np.nan_to_num(pot)),
            "workload_band_price": work,
            "workload_band": band_side(np.nan_to_num(work)),
        }
    )


def move_reasons(view: RunView, accounts: pd.DataFrame, old_reps: np.ndarray) -> pd.DataFrame:
    """Why each of ``accounts`` (rows of this run) left ``old_reps`` for its rep in this run.

    Distances use the home bases of this run's roster. The extra cost of the move (travel in
    the objective's measure plus the move penalty) is set against the price pull, the change in
    band and moved-cap prices; both are given per unit of the account's potential.
    """
    position = view.rep_position()
    reps = view.reps
    new = accounts["rep_id"].map(position).fillna(-1).to_numpy(np.int64)
    old = pd.Series(old_reps).map(position).fillna(-1).to_numpy(np.int64)
    lat, lon = accounts["lat"].to_numpy(float), accounts["lon"].to_numpy(float)
    rep_lat, rep_lon = reps["lat"].to_numpy(float), reps["lon"].to_numpy(float)
    old_text = np.asarray(old_reps, dtype=object).astype(str)
    known = (old >= 0) & (new >= 0)
    safe_new, safe_old = np.maximum(new, 0), np.maximum(old, 0)
    d_new = np.where(new >= 0, haversine_km(lat, lon, rep_lat[safe_new], rep_lon[safe_new]), np.nan)
    d_old = np.where(old >= 0, haversine_km(lat, lon, rep_lat[safe_old], rep_lon[safe_old]), np.nan)
    p = accounts["potential"].to_numpy(float)
    w = accounts["workload"].fillna(0.0).to_numpy(float)

    extra = _extra_cost(view, accounts, new, old, d_new, d_old)
    y = reps["potential_band_price"].to_numpy(float)
    yw = np.nan_to_num(reps["workload_band_price"].to_numpy(float))
    moved_price = _moved_cap_price(view)
    previous = accounts["previous_rep"].map(position).fillna(-1).to_numpy(np.int64)
    mv_new = ((previous >= 0) & (previous != new)).astype(float)
    mv_old = ((previous >= 0) & (previous != old)).astype(float)
    pull = p * (y[safe_new] - y[safe_old]) + w * (yw[safe_new] - yw[safe_old])
    pull = pull + moved_price * p * (mv_new - mv_old)
    pull = np.where(known, pull, np.nan)

    tol = RELATIVE_TOLERANCE * np.maximum(np.abs(np.nan_to_num(extra)), np.abs(np.nan_to_num(pull)))
    tol = tol + 1e-9
    has_prices = np.isfinite(pull)
    reason = np.select(
        [
            new < 0,
            old_text == "",
            ~known,
            ~np.isfinite(extra),
            extra < -tol,
            ~has_prices,
            pull >= extra - tol,
        ],
        [NOW_UNCOVERED, WAS_UNCOVERED, GONE, NOT_COMPUTED, TRAVEL, NO_PRICES, BALANCE],
        default=ROUNDING,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        per = np.where(p > 0, 1.0 / p, np.nan)
    return pd.DataFrame(
        {
            "account_id": accounts["account_id"].to_numpy(),
            "from_rep": np.asarray(old_reps, dtype=object),
            "to_rep": accounts["rep_id"].to_numpy(),
            "potential": p,
            "workload": w,
            "distance_from_km": np.round(d_old, 3),
            "distance_to_km": np.round(d_new, 3),
            "detour_km": np.round(d_new - d_old, 3),
            "extra_cost_per_potential": extra * per,
            "price_pull_per_potential": pull * per,
            "reason": reason,
        }
    )


def _extra_cost(
    view: RunView,
    accounts: pd.DataFrame,
    new: np.ndarray,
    old: np.ndarray,
    d_new: np.ndarray,
    d_old: np.ndarray,
) -> np.ndarray:
    """Objective cost of serving each account from its new rep minus from its old one.

    Rebuilt like ``PairCosts.cost``: weight × distance (squared when asked) plus the move
    penalty; NaN for travel-time runs, whose minutes are not in the run directory.
    """
    inputs = view.info.get("inputs")
    if isinstance(inputs, dict) and "travel_times" in inputs:
        return np.full(len(accounts), np.nan)
    weighting = view.parameter("weighting", "potential")
    every = view.accounts
    base_all = {
        "potential": every["potential"].to_numpy(float),
        "workload": every["workload"].fillna(0.0).to_numpy(float),
    }.get(weighting, np.ones(len(every)))
    floor = 1e-3 * float(base_all.mean()) if base_all.size and base_all.mean() > 0 else 1.0
    base = {
        "potential": accounts["potential"].to_numpy(float),
        "workload": accounts["workload"].fillna(0.0).to_numpy(float),
    }.get(weighting, np.ones(len(accounts)))
    weight = base + floor
    if view.parameter("distance") == "squared":
        d_new, d_old = d_new * d_new, d_old * d_old
    position = view.rep_position()
    previous = accounts["previous_rep"].map(position).fillna(-1).to_numpy(np.int64)
    mv_new = (previous >= 0) & (previous != new)
    mv_old = (previous >= 0) & (previous != old)
    penalty = float(view.parameter("move_penalty", 0.0) or 0.0)
    p = accounts["potential"].to_numpy(float)
    return weight * (d_new - d_old) + penalty * p * (mv_new.astype(float) - mv_old)


def _moved_cap_price(view: RunView) -> float:
    record = view.info.get("band_prices")
    value = record.get("moved_cap_price") if isinstance(record, dict) else None
    return float(value) if isinstance(value, int | float) else 0.0


def moved_in_run(view: RunView) -> pd.DataFrame:
    """Rows of accounts the run moved: previous rep on the roster, now with another rep."""
    accounts = view.accounts
    on_roster = accounts["previous_rep"].isin(set(view.reps["rep_id"]))
    moved = (
        on_roster & (accounts["rep_id"] != "") & (accounts["rep_id"] != accounts["previous_rep"])
    )
    return accounts[moved.to_numpy()].reset_index(drop=True)


def explain_run(view: RunView) -> Explanation:
    """Band prices and the reason for every account the run moved from its current rep."""
    moved = moved_in_run(view)
    moves = move_reasons(view, moved, moved["previous_rep"].to_numpy(dtype=object))
    moves = moves.sort_values(["potential", "account_id"], ascending=[False, True], kind="stable")
    return Explanation(
        rep_prices(view), moves.reset_index(drop=True), price_unit(view), notes(view)
    )


def notes(view: RunView) -> list[str]:
    """How to read the prices of this run, and why they may be missing."""
    unit = price_unit(view)
    if not view.has_prices:
        record = view.info.get("band_prices")
        why = record.get("why_missing") if isinstance(record, dict) else None
        return [
            "Band prices were not recorded for this run"
            + (f" ({why})" if why else " (a run written before prices were recorded)")
            + "; reasons for moves use travel cost only."
        ]
    return [
        f"Band prices are duals of the final LP relaxation, in {unit}. A positive potential "
        "price holds the rep at the lower edge of its band: one more unit of potential for it "
        "would save that much travel elsewhere. A negative one holds it at the upper edge.",
        "The workload price covers the workload band and the capacity together.",
        "LP duals can be non-unique; rounding to whole accounts can move accounts the LP "
        "prices alone would not (reason 'rounding').",
    ]


def reason_legend(reasons: list[str]) -> list[str]:
    """One line per reason that occurs, saying what it means."""
    return [f"{reason}: {REASONS[reason]}" for reason in REASONS if reason in set(reasons)]
