"""Compare runs against a baseline: side-by-side figures, per-rep before/after, handovers.

Every figure is recomputed from each run's ``assignments.csv`` and roster with the plain metric
functions (never read from the run's own summary), on the accounts common to all runs, so the
runs are scored the same way. Definitions (also in the README):

* travel: great-circle km from each covered account to its rep's home base;
  ``total_distance_km`` sums it, ``mean_distance_km`` averages it over covered accounts,
  ``potential_weighted_distance`` is Σ potential × km and
  ``potential_weighted_mean_distance_km`` that divided by the covered potential (the km an
  average unit of potential is from its rep).
* ``moved_*``: accounts whose previous rep (today's alignment) is on the run's roster and whose
  rep differs (the contract's "moved"); ``changed_*``: accounts whose rep differs from the
  baseline's, coverage changes included.
* potential index: 100 × potential / (FTE share of the covered potential); CV over reps;
  Gini of potential per FTE, each rep weighted by its FTE.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from territory.explain import move_reasons
from territory.metrics import (
    coefficient_of_variation,
    distances_km,
    gini,
    max_min_ratio,
    moved,
    rep_table,
)
from territory.run_view import RunView, account_rows, facts_of_run, finite_or_none

REP_FIGURES = ("accounts", "potential", "potential_index", "workload", "mean_distance_km")


@dataclass(frozen=True)
class Comparison:
    """The tables of a comparison; the first run is the baseline."""

    labels: list[str]
    common_accounts: int
    figures: pd.DataFrame  # one row per run
    reps: pd.DataFrame  # per compared run and rep: before (baseline) / after
    handovers: pd.DataFrame  # per compared run and rep: gains from / loses to
    moved: pd.DataFrame  # per compared run: accounts whose rep differs from the baseline's
    notes: list[str]


def common_account_ids(views: list[RunView]) -> np.ndarray:
    """Accounts present in every run, in the baseline's order."""
    ids = views[0].accounts["account_id"]
    keep = np.ones(len(ids), dtype=bool)
    for view in views[1:]:
        keep &= ids.isin(set(view.accounts["account_id"])).to_numpy()
    return ids[keep].to_numpy(dtype=object)


def run_figures(view: RunView, rows: pd.DataFrame, baseline_rows: pd.DataFrame) -> dict:
    """The side-by-side figures of one run on the common accounts ``rows``."""
    facts, a = facts_of_run(view, rows)
    table = rep_table(facts, a)
    index = table["potential_index"].to_numpy()
    finite = index[np.isfinite(index)]
    on = a >= 0
    dist = distances_km(facts, a)
    p = facts.potential
    covered_potential = float(p[on].sum())
    total_potential = float(p.sum())
    weighted = float(np.nansum(dist * p))
    mv = moved(a, facts.current)
    base_rep = baseline_rows["rep_id"].to_numpy(dtype=object)
    this_rep = rows["rep_id"].to_numpy(dtype=object)
    changed = base_rep != this_rep
    work_index = table["workload_index"].to_numpy()
    work_finite = work_index[np.isfinite(work_index)]
    info = view.info

    def share(mask: np.ndarray) -> float | None:
        return float(p[mask].sum()) / total_potential if total_potential > 0 else None

    return {
        "run": view.label,
        "status": str(info.get("status", "")),
        "gap": finite_or_none(info.get("gap")),
        "reps": int(len(view.reps)),
        "accounts": int(len(rows)),
        "uncovered_accounts": int((~on).sum()),
        "uncovered_potential": float(p[~on].sum()),
        "potential_index_min": float(finite.min()) if len(finite) else None,
        "potential_index_max": float(finite.max()) if len(finite) else None,
        "potential_index_spread": float(finite.max() - finite.min()) if len(finite) else None,
        "potential_index_max_min": finite_or_none(max_min_ratio(index)),
        "potential_index_cv": finite_or_none(coefficient_of_variation(index)),
        "potential_per_fte_gini": finite_or_none(
            gini(table["potential"].to_numpy() / facts.fte, facts.fte)
        ),
        "workload_index_min": float(work_finite.min()) if len(work_finite) else None,
        "workload_index_max": float(work_finite.max()) if len(work_finite) else None,
        "total_distance_km": float(np.nansum(dist)),
        "mean_distance_km": float(np.nanmean(dist)) if on.any() else None,
        "potential_weighted_distance": weighted,
        "potential_weighted_mean_distance_km": weighted / covered_potential
        if covered_potential > 0
        else None,
        "moved_accounts": int(mv.sum()),
        "moved_potential_share": share(mv),
        "changed_accounts": int(changed.sum()),
        "changed_potential": float(p[changed].sum()),
        "changed_potential_share": share(changed),
    }


def rep_changes(
    label: str, base: RunView, base_rows: pd.DataFrame, other: RunView, rows: pd.DataFrame
) -> pd.DataFrame:
    """Per rep of either run: its figures in the baseline (before) and in ``other`` (after)."""
    tables = []
    for view, part in ((base, base_rows), (other, rows)):
        facts, a = facts_of_run(view, part)
        table = rep_table(facts, a)[list(REP_FIGURES)]
        table.index = view.reps["rep_id"].to_numpy()
        tables.append(table)
    before, after = tables
    order = list(before.index) + [r for r in after.index if r not in set(before.index)]
    names = {**dict(zip(other.reps["rep_id"], other.reps["name"], strict=True))}
    names.update({r: n for r, n in zip(base.reps["rep_id"], base.reps["name"], strict=True) if n})
    presence = [
        "kept"
        if r in before.index and r in after.index
        else "removed"
        if r in before.index
        else "added"
        for r in order
    ]
    out = pd.DataFrame({"run": label, "rep_id": order, "name": [names.get(r, "") for r in order]})
    out["presence"] = presence
    for figure in REP_FIGURES:
        out[f"{figure}_before"] = before[figure].reindex(order).to_numpy()
        out[f"{figure}_after"] = after[figure].reindex(order).to_numpy()
    for column in ("accounts_before", "accounts_after"):
        out[column] = out[column].astype("Int64")
    return out


def handover_lists(label: str, changes: pd.DataFrame) -> pd.DataFrame:
    """Per rep: whom it gains accounts from and loses them to ("" is uncovered)."""
    columns = ["run", "rep_id", "direction", "counterpart_rep", "accounts", "potential"]
    if changes.empty:
        return pd.DataFrame(columns=columns)
    grouped = (
        changes.groupby(["from_rep", "to_rep"], sort=True)
        .agg(accounts=("account_id", "size"), potential=("potential", "sum"))
        .reset_index()
    )
    gains = grouped.rename(columns={"to_rep": "rep_id", "from_rep": "counterpart_rep"})
    gains["direction"] = "gains_from"
    loses = grouped.rename(columns={"from_rep": "rep_id", "to_rep": "counterpart_rep"})
    loses["direction"] = "loses_to"
    out = pd.concat([gains, loses], ignore_index=True)
    out = out[out["rep_id"] != ""].assign(run=label)
    out = out.sort_values(
        ["rep_id", "direction", "potential", "counterpart_rep"],
        ascending=[True, True, False, True],
        kind="stable",
    )
    return out[columns].reset_index(drop=True)


def account_changes(
    label: str, base: RunView, base_rows: pd.DataFrame, other: RunView, rows: pd.DataFrame
) -> pd.DataFrame:
    """Accounts whose rep in ``other`` differs from the baseline's, with the move's reason."""
    changed = (base_rows["rep_id"] != rows["rep_id"]).to_numpy()
    before, after = base_rows[changed], rows[changed].reset_index(drop=True)
    base_facts, base_a = facts_of_run(base, before)
    reasons = move_reasons(other, after, before["rep_id"].to_numpy(dtype=object))
    out = pd.DataFrame(
        {
            "run": label,
            "account_id": after["account_id"].to_numpy(),
            "name": after["name"].to_numpy(),
            "from_rep": before["rep_id"].to_numpy(),
            "to_rep": after["rep_id"].to_numpy(),
            "potential": after["potential"].to_numpy(float),
            "workload": after["workload"].to_numpy(float),
            "distance_before_km": np.round(distances_km(base_facts, base_a), 3),
            "distance_after_km": reasons["distance_to_km"].to_numpy(),
            "reason": reasons["reason"].to_numpy(),
            "extra_cost_per_potential": reasons["extra_cost_per_potential"].to_numpy(),
            "price_pull_per_potential": reasons["price_pull_per_potential"].to_numpy(),
        }
    )
    return out.sort_values(
        ["from_rep", "to_rep", "potential", "account_id"],
        ascending=[True, True, False, True],
        kind="stable",
    ).reset_index(drop=True)


def compare_runs(views: list[RunView]) -> Comparison:
    """Compare ``views[1:]`` with the baseline ``views[0]`` on their common accounts."""
    base = views[0]
    ids = common_account_ids(views)
    notes: list[str] = []
    for view in views:
        extra = len(view.accounts) - len(ids)
        if extra:
            notes.append(
                f"{view.label}: {extra:,} accounts are not in every run and are left out; "
                f"figures use the {len(ids):,} common accounts."
            )
    base_rows = account_rows(base, ids)
    figures, reps, handovers, moved_rows = [], [], [], []
    for view in views:
        rows = account_rows(view, ids)
        figures.append(run_figures(view, rows, base_rows))
        if view is base:
            continue
        differs = ~np.isclose(
            rows["potential"].to_numpy(float), base_rows["potential"].to_numpy(float)
        )
        if differs.any():
            notes.append(
                f"{view.label}: {int(differs.sum()):,} accounts have another potential than in "
                "the baseline; moved potential uses this run's values."
            )
        if not view.has_prices:
            notes.append(f"{view.label}: no band prices recorded; move reasons use travel only.")
        reps.append(rep_changes(view.label, base, base_rows, view, rows))
        changes = account_changes(view.label, base, base_rows, view, rows)
        moved_rows.append(changes)
        handovers.append(handover_lists(view.label, changes))
    return Comparison(
        labels=[v.label for v in views],
        common_accounts=len(ids),
        figures=pd.DataFrame(figures),
        reps=_concat(reps),
        handovers=_concat(handovers),
        moved=_concat(moved_rows),
        notes=notes,
    )


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty] or frames[:1]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
