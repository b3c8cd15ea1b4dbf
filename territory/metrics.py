"""Metrics as plain functions of an assignment.

The same functions score an optimised plan, the user's current alignment and a plan read back
from ``assignments.csv``; nothing here knows how a plan was made. An assignment is an array with
the roster position of each account's rep, ``-1`` for an account left uncovered.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory.geo import haversine_km


@dataclass(frozen=True)
class PlanFacts:
    """What the metrics need to know about accounts and reps, as arrays."""

    potential: np.ndarray
    workload: np.ndarray
    acc_lat: np.ndarray
    acc_lon: np.ndarray
    rep_lat: np.ndarray
    rep_lon: np.ndarray
    fte: np.ndarray
    capacity: np.ndarray
    current: np.ndarray  # roster position today, -1 unassigned or departed
    coverable: np.ndarray  # accounts that some rep may serve; targets are shares of these
    planar: tuple[np.ndarray, np.ndarray] | None = None  # (account xy, rep xy) km in a --crs

    @property
    def n_reps(self) -> int:
        return len(self.fte)


def rep_ids_of(assignment: np.ndarray, rep_ids: np.ndarray) -> np.ndarray:
    """Each account's rep id ('' when uncovered)."""
    out = np.full(len(assignment), "", dtype=object)
    on = assignment >= 0
    out[on] = rep_ids[assignment[on]]
    return out


def rep_totals(assignment: np.ndarray, values: np.ndarray, n_reps: int) -> np.ndarray:
    on = assignment >= 0
    return np.bincount(assignment[on], weights=values[on], minlength=n_reps)


def rep_counts(assignment: np.ndarray, n_reps: int) -> np.ndarray:
    return np.bincount(assignment[assignment >= 0], minlength=n_reps)


def fte_targets(total: float, fte: np.ndarray) -> np.ndarray:
    """Each rep's fair share of ``total``: its FTE share."""
    return total * fte / fte.sum()


def index(totals: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """100 × total / target (NaN where the target is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(targets > 0, 100.0 * totals / targets, np.nan)


def moved(assignment: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Accounts whose rep today is on the roster and whose new rep differs."""
    return (current >= 0) & (assignment >= 0) & (assignment != current)


def inherited(assignment: np.ndarray, current: np.ndarray) -> np.ndarray:
    """Accounts with no rep on the roster today (unassigned or departed) that now have one."""
    return (current < 0) & (assignment >= 0)


def distances_km(facts: PlanFacts, assignment: np.ndarray) -> np.ndarray:
    """Km from each account to its rep's home base (NaN when uncovered): great-circle, or
    planar in the projected CRS the user chose."""
    out = np.full(len(assignment), np.nan)
    on = assignment >= 0
    if facts.planar is not None:
        acc_xy, rep_xy = facts.planar
        out[on] = np.hypot(*(acc_xy[on] - rep_xy[assignment[on]]).T)
        return out
    out[on] = haversine_km(
        facts.acc_lat[on],
        facts.acc_lon[on],
        facts.rep_lat[assignment[on]],
        facts.rep_lon[assignment[on]],
    )
    return out


def coefficient_of_variation(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    if len(values) == 0 or values.mean() == 0:
        return float("nan")
    return float(values.std() / values.mean())


def gini(values: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Gini coefficient of ``values`` (0 equal, towards 1 concentrated), each value counted
    with its weight (an FTE weight makes a half-time rep count half); NaN when undefined."""
    values = np.asarray(values, dtype=float)
    weights = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=float)
    keep = np.isfinite(values) & np.isfinite(weights) & (weights > 0)
    values, weights = values[keep], weights[keep]
    total = weights.sum()
    if len(values) == 0 or total <= 0:
        return float("nan")
    mean = float(weights @ values) / total
    if mean <= 0:
        return float("nan")
    spread = np.abs(values[:, None] - values[None, :])
    return float(weights @ spread @ weights / (2 * total * total * mean))


def max_min_ratio(values: np.ndarray) -> float:
    """Largest over smallest finite value (NaN when the smallest is not positive)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if len(values) == 0 or values.min() <= 0:
        return float("nan")
    return float(values.max() / values.min())


def targets(facts: PlanFacts) -> tuple[np.ndarray, np.ndarray]:
    """Potential and workload targets: FTE shares of the coverable accounts' totals."""
    pot = fte_targets(float(facts.potential[facts.coverable].sum()), facts.fte)
    work = fte_targets(float(facts.workload[facts.coverable].sum()), facts.fte)
    return pot, work


def rep_table(facts: PlanFacts, assignment: np.ndarray) -> pd.DataFrame:
    """Per-rep figures of the contract's ``rep_summary.csv`` (without carried columns)."""
    k = facts.n_reps
    pot_target, work_target = targets(facts)
    pot = rep_totals(assignment, facts.potential, k)
    work = rep_totals(assignment, facts.workload, k)
    dist = distances_km(facts, assignment)
    on = assignment >= 0
    count = rep_counts(assignment, k)
    dist_sum = np.bincount(assignment[on], weights=dist[on], minlength=k)
    dist_max = np.zeros(k)
    np.maximum.at(dist_max, assignment[on], dist[on])
    mv = moved(assignment, facts.current)
    gained = np.bincount(assignment[mv], minlength=k)
    lost = np.bincount(facts.current[mv], minlength=k)
    pot_gained = np.bincount(assignment[mv], weights=facts.potential[mv], minlength=k)
    pot_lost = np.bincount(facts.current[mv], weights=facts.potential[mv], minlength=k)
    inh = inherited(assignment, facts.current)
    with np.errstate(divide="ignore", invalid="ignore"):
        utilisation = np.where(
            np.isfinite(facts.capacity) & (facts.capacity > 0), work / facts.capacity, np.nan
        )
        mean_dist = np.where(count > 0, dist_sum / np.maximum(count, 1), np.nan)
    return pd.DataFrame(
        {
            "accounts": count,
            "potential": pot,
            "potential_target": pot_target,
            "potential_index": index(pot, pot_target),
            "workload": work,
            "workload_index": index(work, work_target),
            "capacity_utilisation": utilisation,
            "mean_distance_km": mean_dist,
            "max_distance_km": np.where(count > 0, dist_max, np.nan),
            "accounts_gained": gained,
            "accounts_lost": lost,
            "potential_gained": pot_gained,
            "potential_lost": pot_lost,
            "accounts_inherited": np.bincount(assignment[inh], minlength=k),
        }
    )


def plan_metrics(
    facts: PlanFacts,
    assignment: np.ndarray,
    tolerance: float | None = None,
    workload_tolerance: float | None = None,
) -> dict[str, float | int | bool | None]:
    """Headline figures of a plan (``run.json`` ``metrics``)."""
    table = rep_table(facts, assignment)
    pot_idx = table["potential_index"].to_numpy()
    work_idx = table["workload_index"].to_numpy()
    on = assignment >= 0
    dist = distances_km(facts, assignment)
    mv = moved(assignment, facts.current)
    total_pot = float(facts.potential.sum())
    uncovered = ~on
    out: dict[str, float | int | bool | None] = {
        "accounts": int(len(assignment)),
        "reps": int(facts.n_reps),
        "potential_index_min": _finite_min(pot_idx),
        "potential_index_max": _finite_max(pot_idx),
        "potential_index_spread": _spread(pot_idx),
        "potential_cv": _round(coefficient_of_variation(table["potential"].to_numpy() / facts.fte)),
        "workload_index_min": _finite_min(work_idx),
        "workload_index_max": _finite_max(work_idx),
        "total_distance_km": _round(float(np.nansum(dist))),
        "potential_weighted_distance": _round(float(np.nansum(dist * facts.potential))),
        "mean_distance_km": _round(float(np.nanmean(dist))) if on.any() else None,
        "max_distance_km": _round(float(np.nanmax(dist))) if on.any() else None,
        "moved_accounts": int(mv.sum()),
        "moved_potential": _round(float(facts.potential[mv].sum())),
        "moved_potential_share": _round(float(facts.potential[mv].sum()) / total_pot)
        if total_pot > 0
        else 0.0,
        "inherited_accounts": int(inherited(assignment, facts.current).sum()),
        "uncovered_accounts": int(uncovered.sum()),
        "uncovered_potential": _round(float(facts.potential[uncovered].sum())),
    }
    if tolerance is not None:
        out["balanced"] = bool(within_band(pot_idx, tolerance))
    if workload_tolerance is not None:
        out["workload_balanced"] = bool(within_band(work_idx, workload_tolerance))
    return out


def within_band(idx: np.ndarray, tolerance: float, slack: float = 1e-6) -> bool:
    """Every finite index within [100(1-t), 100(1+t)] (up to rounding ``slack`` in points)."""
    idx = idx[np.isfinite(idx)]
    lo, hi = 100 * (1 - tolerance) - slack, 100 * (1 + tolerance) + slack
    return bool(np.all((idx >= lo) & (idx <= hi)))


def _round(value: float, digits: int = 6) -> float:
    return float(f"{value:.{digits + 6}g}") if np.isfinite(value) else float("nan")


def _finite_min(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return _round(float(values.min())) if len(values) else None


def _finite_max(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return _round(float(values.max())) if len(values) else None


def _spread(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return _round(float(values.max() - values.min())) if len(values) else None
