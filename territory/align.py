"""``align``: from validated inputs and parameters to a scored plan (no printing, no exits)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from solvers import BalancedAssignment, SolveOutcome, solve_balanced_assignment
from solvers.backends import canonical_name, make_solver
from territory.costs import PairCosts, TravelTable
from territory.feasibility import precheck
from territory.inputs import AlignmentInputs
from territory.metrics import (
    PlanFacts,
    distances_km,
    fte_targets,
    inherited,
    moved,
    plan_metrics,
    rep_ids_of,
    rep_table,
)
from territory.params import AlignParams

Progress = Callable[[str, str], None]


@dataclass
class Plan:
    """An alignment: who serves each account, how good it is, and how that is known."""

    inputs: AlignmentInputs
    params: AlignParams
    assignment: np.ndarray
    facts: PlanFacts
    outcome: SolveOutcome | None
    prechecks: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    objective: float | None = None

    @property
    def status(self) -> str:
        return self.outcome.status if self.outcome else "scored"

    @property
    def item_word(self) -> str:
        """What the rows of ``assignments.csv`` are, for reports."""
        return "accounts"

    @property
    def tracks_changes(self) -> bool:
        """Whether moves against today's alignment mean anything for this plan."""
        return True

    def extra_failures(self) -> list[str]:
        """Promises beyond those of every plan that this kind of plan must keep."""
        return []

    def extra_record(self) -> dict:
        """Fields this kind of plan adds to ``run.json``."""
        return {}

    def write_extras(self, directory: Path) -> None:
        """Files this kind of plan adds to its run directory."""

    def metrics(self) -> dict:
        workload_tol = self.params.workload_tolerance if self.inputs.has_workload else None
        return plan_metrics(self.facts, self.assignment, self.params.tolerance, workload_tol)

    def rep_summary(self) -> pd.DataFrame:
        """``rep_summary.csv``: the contract's figures, home base and carried rep columns."""
        reps = self.inputs.reps
        table = rep_table(self.facts, self.assignment)
        table.insert(0, "rep_id", reps["rep_id"].to_numpy())
        extra = reps.drop(columns=["rep_id"]).reset_index(drop=True)
        extra["capacity"] = extra["capacity"].where(np.isfinite(extra["capacity"]), np.nan)
        return pd.concat([table, extra], axis=1)

    def assignments(self) -> pd.DataFrame:
        """``assignments.csv``: one row per account, in input order."""
        acc = self.inputs.accounts
        reps = self.inputs.reps["rep_id"].to_numpy(dtype=object)
        a = self.assignment
        rep_id = rep_ids_of(a, reps)
        mv = moved(a, self.facts.current)
        change = np.select(
            [a < 0, mv, inherited(a, self.facts.current)],
            ["uncovered", "moved", "inherited"],
            default="kept",
        )
        front = pd.DataFrame(
            {
                "account_id": acc["account_id"].to_numpy(),
                "rep_id": rep_id,
                "previous_rep": acc["current_rep"].to_numpy(),
                "moved": mv,
                "distance_km": np.round(distances_km(self.facts, a), 3),
                "potential": acc["potential"].to_numpy(),
                "workload": acc["workload"].to_numpy(),
                "lat": acc["lat"].to_numpy(),
                "lon": acc["lon"].to_numpy(),
                "change": change,
            }
        )
        carried = acc.drop(
            columns=["account_id", "lat", "lon", "potential", "workload", "current_rep"]
        ).reset_index(drop=True)
        return pd.concat([front, carried], axis=1)


def facts_of(
    inputs: AlignmentInputs,
    coverable: np.ndarray | None = None,
    planar: tuple[np.ndarray, np.ndarray] | None = None,
) -> PlanFacts:
    reps = inputs.reps
    return PlanFacts(
        potential=inputs.potential,
        workload=inputs.workload,
        acc_lat=inputs.accounts["lat"].to_numpy(float),
        acc_lon=inputs.accounts["lon"].to_numpy(float),
        rep_lat=reps["lat"].to_numpy(float),
        rep_lon=reps["lon"].to_numpy(float),
        fte=reps["fte"].to_numpy(float),
        capacity=reps["capacity"].to_numpy(float),
        current=inputs.current,
        coverable=np.ones(inputs.n_accounts, dtype=bool) if coverable is None else coverable,
        planar=planar,
    )


def build_model(
    inputs: AlignmentInputs, params: AlignParams, costs: PairCosts
) -> BalancedAssignment:
    """The model's arrays: targets are FTE shares of the potential that can be covered."""
    reachable = costs.reachable()
    fte = inputs.reps["fte"].to_numpy(float)
    pot = inputs.potential
    work = inputs.workload
    use_work = inputs.has_workload and params.workload_tolerance is not None
    max_moved = None
    if params.max_moved is not None and inputs.has_current:
        max_moved = params.max_moved * float(pot.sum())
    return BalancedAssignment(
        potential=pot,
        workload=work,
        incumbent=inputs.current,
        active=reachable,
        pot_target=fte_targets(float(pot[reachable].sum()), fte),
        tolerance=params.tolerance,
        work_target=fte_targets(float(work[reachable].sum()), fte) if use_work else None,
        work_tolerance=params.workload_tolerance if use_work else None,
        capacity=inputs.reps["capacity"].to_numpy(float),
        max_moved=max_moved,
        costs=costs,
    )


def align(
    inputs: AlignmentInputs,
    params: AlignParams | None = None,
    travel_times: pd.DataFrame | None = None,
    progress: Progress | None = None,
    model_file: str | Path | None = None,
) -> Plan:
    """Optimise an alignment; the returned plan is scored by the metric functions.

    ``model_file``: write the LP handed to the solver there (MPS), for a bug report.
    """
    params = params or AlignParams()
    progress = progress or (lambda phase, detail: None)
    make_solver(params.solver, mip=False)  # fail early, with the list, if not installed
    travel = TravelTable(travel_times, inputs, "travel times") if travel_times is not None else None
    start = time.perf_counter()
    costs = PairCosts(inputs, params, travel)
    model = build_model(inputs, params, costs)
    reasons = precheck(model, inputs)
    build_seconds = time.perf_counter() - start
    outcome = solve_balanced_assignment(
        model,
        solver=canonical_name(params.solver),
        time_limit=params.time_limit,
        gap=params.gap,
        mip=params.mip,
        progress=progress,
        model_file=None if model_file is None else str(model_file),
    )
    timings = {"model": build_seconds, **outcome.timings}
    facts = facts_of(inputs, model.active)
    plan = Plan(inputs, params, outcome.assignment, facts, outcome, reasons, timings)
    plan.objective = plan_objective(costs, plan.assignment)
    return plan


def plan_objective(costs: PairCosts, assignment: np.ndarray) -> float:
    """The objective of any assignment, re-scored from the pair costs."""
    idx = np.flatnonzero(assignment >= 0)
    return float(costs.cost(idx, assignment[idx]).sum())


def score_current(inputs: AlignmentInputs, params: AlignParams | None = None) -> Plan:
    """The current alignment as a plan, scored with the same functions (no optimisation)."""
    params = params or AlignParams()
    assignment = inputs.current.copy()
    plan = Plan(inputs, params, assignment, facts_of(inputs), None)
    costs = PairCosts(inputs, params)
    plan.objective = plan_objective(costs, assignment)
    return plan


def score_plan_file(
    inputs: AlignmentInputs, path: str | Path, params: AlignParams | None = None
) -> Plan:
    """Score a plan read from a run directory or an ``account_id, rep_id`` file."""
    from territory.errors import InputError, Problem
    from territory.readers import read_table

    params = params or AlignParams()
    path = Path(path)
    if path.is_dir():
        path = path / "assignments.csv"
    table = read_table(path)
    frame = table.frame
    missing = [c for c in ("account_id", "rep_id") if c not in frame.columns]
    if missing:
        raise InputError(
            [
                Problem(
                    table.source,
                    f"lacks column(s) {', '.join(missing)}.",
                    hint="a plan file needs account_id and rep_id columns.",
                )
            ]
        )
    acc_pos = {a: i for i, a in enumerate(inputs.accounts["account_id"])}
    rep_pos = {r: i for i, r in enumerate(inputs.reps["rep_id"])}
    problems: list[Problem] = []
    assignment = np.full(inputs.n_accounts, -1, dtype=np.int64)
    ids = frame["account_id"].astype(str).str.strip().to_numpy()
    reps = frame["rep_id"].fillna("").astype(str).str.strip().to_numpy()
    for row, (acc, rep) in enumerate(zip(ids, reps, strict=True)):
        if acc not in acc_pos:
            problems.append(
                Problem(
                    table.source,
                    f"account '{acc[:60]}' is not in the accounts file.",
                    row=table.row_number(row),
                    column="account_id",
                )
            )
        elif rep and rep not in rep_pos:
            problems.append(
                Problem(
                    table.source,
                    f"rep '{rep[:60]}' is not on the roster.",
                    row=table.row_number(row),
                    column="rep_id",
                )
            )
        elif rep:
            assignment[acc_pos[acc]] = rep_pos[rep]
    if problems:
        raise InputError(problems)
    plan = Plan(inputs, params, assignment, facts_of(inputs, assignment >= 0), None)
    plan.objective = plan_objective(PairCosts(inputs, params), assignment)
    return plan
