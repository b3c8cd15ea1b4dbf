"""Solve the balanced assignment: column generation on the LP, repair, MILP when it pays.

1. LP over the candidate pairs; missing pairs priced in from the duals until none improves, so
   the LP value is that of the *full* model. The Lagrangian bound of every round is valid for
   the full model, even when the time limit stops the rounds early.
2. If the LP is infeasible, a phase-1 LP (scaled slacks) with the same pricing either finds a
   feasible candidate set or proves that no plan meets the bands; then the tightest achievable
   tolerance is computed and the plan is made at that tolerance (the elastic plan).
3. Round split accounts and repair the bands (``repair.py``).
4. When the gap is above the target and the instance is small enough, a MILP over every pair
   whose reduced cost is below the gap (reduced-cost fixing keeps it exact for the full model)
   closes it; its bound is then the full model's bound too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from solvers.backends import (
    ERROR,
    FEASIBLE,
    INFEASIBLE,
    OPTIMAL,
    TIME_LIMIT,
    SolveReport,
    make_solver,
    run_solver,
)
from solvers.formulation import BalancedAssignment, Phase, build_problem
from solvers.pricing import Duals, price, read_duals
from solvers.repair import Violation, loads_of, repair, round_largest

MIP_MAX_PAIRS = 150_000
MAX_PRICING_ROUNDS = 50
OPTIMAL_GAP = 1e-6

Progress = Callable[[str, str], None]


@dataclass
class LPResult:
    """Outcome of column generation for one phase."""

    status: str
    objective: float | None
    bound: float
    pair_a: np.ndarray
    pair_r: np.ndarray
    x: np.ndarray
    duals: Duals | None
    rounds: int
    converged: bool
    slack: dict[str, float] = field(default_factory=dict)
    tau: float | None = None


@dataclass
class SolveOutcome:
    """The plan and the truth about its optimality."""

    assignment: np.ndarray  # rep index per account, -1 uncovered
    status: str
    objective: float | None
    lower_bound: float | None
    gap: float | None
    message: str
    solver: str
    lp_objective: float | None = None
    pricing_rounds: int = 0
    candidate_pairs: dict[str, int] = field(default_factory=dict)
    split_accounts: int = 0
    mip: dict | None = None
    infeasibility: dict | None = None
    timings: dict[str, float] = field(default_factory=dict)


class Clock:
    """Our own wall clock: solvers overrun their limits, the run must not."""

    def __init__(self, limit: float) -> None:
        self.start = time.perf_counter()
        self.limit = limit

    def left(self) -> float:
        return self.limit - (time.perf_counter() - self.start)


def _pair_keys(a: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    return a.astype(np.int64) * k + r


def column_generation(
    model: BalancedAssignment,
    solver: str,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    phase: Phase,
    clock: Clock,
    progress: Progress,
) -> LPResult:
    """Solve the LP of ``phase`` over all allowed pairs by pricing in missing candidates."""
    k = model.n_reps
    bound = -np.inf
    last: LPResult | None = None
    for round_no in range(1, MAX_PRICING_ROUNDS + 1):
        cost = model.costs.cost(pair_a, pair_r)
        built = build_problem(model, pair_a, pair_r, cost, phase)
        report = run_solver(
            built.prob, make_solver(solver, mip=False, time_limit=max(clock.left(), 1.0))
        )
        if report.status == INFEASIBLE:
            return LPResult(INFEASIBLE, None, bound, pair_a, pair_r, np.zeros(len(pair_a)), None,
                            round_no, False)
        if report.status != OPTIMAL:
            if last is not None:
                last.status = report.status
                return last
            return LPResult(report.status, None, bound, pair_a, pair_r, np.zeros(len(pair_a)),
                            None, round_no, False)
        duals = read_duals(model, built)
        keys = _pair_keys(pair_a, pair_r, k)
        priced = price(model, duals, phase, keys)
        bound = max(bound, priced.bound)
        last = LPResult(
            OPTIMAL,
            report.objective,
            bound,
            pair_a,
            pair_r,
            built.values(),
            duals,
            round_no,
            len(priced.new_a) == 0,
            {name: float(v.varValue or 0.0) for name, v in built.slacks.items()},
            float(built.tau.varValue or 0.0) if built.tau is not None else None,
        )
        progress(
            "price",
            f"{phase} round {round_no}: LP {report.objective:,.6g}, bound {bound:,.6g}, "
            f"{len(pair_a):,} pairs, +{len(priced.new_a):,}",
        )
        if last.converged:
            last.bound = max(bound, report.objective or bound)
            return last
        if phase == "feasibility" and (report.objective or 0.0) <= 1e-9:
            return last  # a feasible candidate set: enough for phase 1
        if clock.left() <= 0:
            last.status = TIME_LIMIT
            return last
        merged = np.concatenate([keys, _pair_keys(priced.new_a, priced.new_r, k)])
        merged = np.unique(merged)
        pair_a, pair_r = merged // k, merged % k
    assert last is not None
    return last


def _integral(
    model: BalancedAssignment, lp: LPResult, repair_cost: bool = True
) -> tuple[np.ndarray, int]:
    assignment = round_largest(model.n_accounts, lp.pair_a, lp.pair_r, lp.x)
    split = int(np.sum(np.bincount(lp.pair_a[lp.x > 1e-6], minlength=model.n_accounts) > 1))
    cost = model.costs.cost(lp.pair_a, lp.pair_r) if repair_cost else np.zeros(len(lp.pair_a))
    assignment = repair(model, assignment, lp.pair_a, lp.pair_r, cost, improve=repair_cost)
    return assignment, split


def plan_cost(model: BalancedAssignment, assignment: np.ndarray) -> float:
    idx = np.flatnonzero(assignment >= 0)
    return float(model.costs.cost(idx, assignment[idx]).sum())


def _gap(objective: float, bound: float) -> float:
    return max(0.0, (objective - bound) / max(abs(objective), 1e-12))


def solve_balanced_assignment(
    model: BalancedAssignment,
    solver: str = "HiGHS",
    time_limit: float = 120.0,
    gap: float = 0.005,
    mip: str = "auto",
    progress: Progress | None = None,
) -> SolveOutcome:
    """Find a plan for ``model`` and bound how far it can be from the best possible one."""
    progress = progress or (lambda phase, detail: None)
    clock = Clock(time_limit)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    a0, r0 = model.costs.initial_pairs()
    active = model.active[a0]
    a0, r0 = a0[active], r0[active]
    timings["candidates"] = time.perf_counter() - t
    progress("candidates", f"{len(a0):,} initial pairs")

    t = time.perf_counter()
    lp = column_generation(model, solver, a0, r0, "cost", clock, progress)
    infeasibility = None
    if lp.status == INFEASIBLE:
        lp, infeasibility = _elastic(model, solver, a0, r0, clock, progress)
    timings["lp"] = time.perf_counter() - t
    if lp.status in (ERROR,) or lp.duals is None and infeasibility is None:
        return SolveOutcome(
            np.full(model.n_accounts, -1), ERROR, None, None, None,
            "the LP solver failed; try another solver with --solver.", solver, timings=timings,
        )
    if infeasibility is not None and infeasibility.get("plan") is None:
        return SolveOutcome(
            np.full(model.n_accounts, -1), INFEASIBLE, None, None, None,
            infeasibility["reason"], solver, infeasibility=infeasibility, timings=timings,
        )
    work_model = infeasibility["model"] if infeasibility else model

    t = time.perf_counter()
    assignment, split = _integral(work_model, lp, repair_cost=infeasibility is None or
                                  infeasibility.get("widened", False))
    timings["repair"] = time.perf_counter() - t
    objective = plan_cost(model, assignment)
    bound = lp.bound
    residual = Violation(work_model).total(loads_of(work_model, assignment))
    progress("repair", f"{split} split accounts rounded; objective {objective:,.6g}")

    mip_record = None
    candidate_pairs = {"initial": int(len(a0)), "final": int(len(lp.pair_a))}
    if infeasibility is None:
        current_gap = _gap(objective, bound) if residual <= 1e-9 else np.inf
        want_mip = mip == "always" or (mip == "auto" and current_gap > gap)
        if want_mip and lp.duals is not None and clock.left() > 2:
            t = time.perf_counter()
            assignment, objective, bound, mip_record = _mip(
                model, solver, lp, assignment, objective if residual <= 1e-9 else None,
                bound, gap, clock, progress,
            )
            residual = Violation(model).total(loads_of(model, assignment))
            timings["mip"] = time.perf_counter() - t

    if infeasibility is not None:
        status = INFEASIBLE
        message = infeasibility["reason"]
        final_gap = None
        bound_out: float | None = None
    elif residual > 1e-9:
        status = INFEASIBLE if lp.status == OPTIMAL else lp.status
        message = "no integral plan meeting every band was found from the LP; see the report."
        final_gap, bound_out = None, bound
    else:
        final_gap = _gap(objective, bound)
        bound_out = bound
        timed_out = lp.status == TIME_LIMIT or (mip_record or {}).get("status") == TIME_LIMIT
        if final_gap <= OPTIMAL_GAP:
            status, message = OPTIMAL, "optimal: the plan's cost equals the lower bound."
        elif timed_out:
            status = TIME_LIMIT
            message = f"time limit reached; best plan within {final_gap:.3%} of the lower bound."
        else:
            status = FEASIBLE
            message = f"plan within {final_gap:.3%} of the full model's lower bound."
    return SolveOutcome(
        assignment=assignment,
        status=status,
        objective=objective,
        lower_bound=bound_out,
        gap=final_gap,
        message=message,
        solver=solver,
        lp_objective=lp.objective,
        pricing_rounds=lp.rounds,
        candidate_pairs=candidate_pairs,
        split_accounts=split,
        mip=mip_record,
        infeasibility={k: v for k, v in (infeasibility or {}).items() if k not in ("model", "plan")}
        or None,
        timings=timings,
    )


def _mip(
    model: BalancedAssignment,
    solver: str,
    lp: LPResult,
    assignment: np.ndarray,
    incumbent: float | None,
    bound: float,
    gap: float,
    clock: Clock,
    progress: Progress,
) -> tuple[np.ndarray, float, float, dict]:
    """MILP over the pairs that can still improve on the incumbent (reduced-cost fixing)."""
    from solvers.pricing import pairs_below

    assert lp.duals is not None
    if incumbent is not None and lp.converged:
        a, r = pairs_below(model, lp.duals, incumbent - lp.objective + 1e-9 * abs(incumbent))
        exact = len(a) <= MIP_MAX_PAIRS
    else:
        a, r, exact = lp.pair_a, lp.pair_r, False
    if len(a) > MIP_MAX_PAIRS:
        return assignment, incumbent or np.inf, bound, {"skipped": f"{len(a):,} pairs is too many"}
    idx = np.flatnonzero(assignment >= 0)
    keys = np.unique(np.concatenate([a * model.n_reps + r, idx * model.n_reps + assignment[idx]]))
    a, r = keys // model.n_reps, keys % model.n_reps
    cost = model.costs.cost(a, r)
    built = build_problem(model, a, r, cost, "cost", integer=True)
    progress("mip", f"MILP over {len(a):,} pairs ({'exact' if exact else 'restricted'})")
    report: SolveReport = run_solver(
        built.prob, make_solver(solver, mip=True, time_limit=max(clock.left(), 1.0), gap=gap)
    )
    record = {
        "pairs": int(len(a)),
        "exact_candidate_set": bool(exact),
        "status": report.status,
        "solver_status": report.raw_status,
        "objective": report.objective,
        "bound": report.bound,
        "seconds": round(report.seconds, 3),
    }
    objective = incumbent if incumbent is not None else np.inf
    if report.has_solution and report.objective is not None:
        values = built.values()
        chosen = values > 0.5
        candidate = np.full(model.n_accounts, -1, dtype=np.int64)
        candidate[a[chosen]] = r[chosen]
        cost_new = plan_cost(model, candidate)
        feasible = Violation(model).total(loads_of(model, candidate)) <= 1e-9
        if feasible and np.all(candidate[model.active] >= 0) and cost_new < objective:
            assignment, objective = candidate, cost_new
    if exact and report.bound is not None:
        bound = max(bound, min(report.bound, objective))
    return assignment, objective, bound, record


def _elastic(
    model: BalancedAssignment,
    solver: str,
    a0: np.ndarray,
    r0: np.ndarray,
    clock: Clock,
    progress: Progress,
) -> tuple[LPResult, dict]:
    """Phase 1: find a feasible candidate set, or prove there is none and explain."""
    phase1 = column_generation(model, solver, a0, r0, "feasibility", clock, progress)
    if phase1.status == OPTIMAL and (phase1.objective or 0.0) <= 1e-9:
        # the sparse candidates were the problem, not the bands
        lp = column_generation(model, solver, phase1.pair_a, phase1.pair_r, "cost", clock, progress)
        if lp.status != INFEASIBLE:
            return lp, None  # type: ignore[return-value]
    violated = sorted(name for name, v in phase1.slack.items() if v > 1e-9)
    info: dict = {"violated_rows": violated, "phase1_violation": phase1.objective}
    widen = column_generation(model, solver, phase1.pair_a, phase1.pair_r, "widen", clock, progress)
    if widen.status == OPTIMAL and widen.tau is not None:
        tau = float(widen.tau) * (1 + 1e-7) + 1e-9
        rho = model.widen_ratio()
        relaxed = replace(
            model,
            tolerance=tau,
            work_tolerance=None if model.work_tolerance is None else rho * tau,
        )
        lp = column_generation(relaxed, solver, widen.pair_a, widen.pair_r, "cost", clock, progress)
        info.update(
            tightest_tolerance=tau,
            tightest_workload_tolerance=None if model.work_tolerance is None else rho * tau,
            reason=(
                f"no plan keeps every rep within ±{model.tolerance:.1%} of its potential target"
                + (
                    f" and ±{model.work_tolerance:.1%} of its workload target"
                    if model.work_tolerance is not None and model.work_target is not None
                    else ""
                )
                + f"; the tightest achievable is ±{tau:.2%} potential"
                + (
                    f" / ±{rho * tau:.2%} workload"
                    if model.work_tolerance is not None and model.work_target is not None
                    else ""
                )
                + ". The plan written meets that wider band."
            ),
            model=relaxed,
            plan=True,
            widened=True,
        )
        return lp, info
    info.update(
        reason=(
            "no plan exists at any balance tolerance: capacities, locks or the moved-potential "
            "cap cannot all be met. The plan written minimises their violation."
        ),
        model=model,
        plan=phase1.duals is not None,
        widened=False,
    )
    return phase1, info
