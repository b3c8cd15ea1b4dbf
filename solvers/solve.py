"""Solve the balanced assignment: column generation on the LP, repair, MILP when it pays.

1. LP over the candidate pairs; missing pairs priced in from the duals until none improves, so
   the LP value is that of the *full* model. The Lagrangian bound of every round is valid for
   the full model, even when the time limit stops the rounds early.
2. If the LP is infeasible, a phase-1 LP (scaled slacks) with the same pricing either finds a
   feasible candidate set or proves that no plan meets the bands; then the tightest achievable
   tolerance is computed and the plan is made at that tolerance (the elastic plan).
3. Round split accounts and repair the bands (``repair.py``).
4. When the gap is above the target, an LP-guided neighbourhood MILP frees the split accounts
   and those the LP is nearly indifferent about and re-optimises them.
5. When the gap is still above the target and the instance is small enough, a MILP over every
   pair whose reduced cost is below the gap (reduced-cost fixing keeps it exact for the full
   model) closes it; its bound is then the full model's bound too.
6. If the LP cannot finish in its share of the time, Lagrangian prices give a bound over all
   pairs and, through repair, a plan (``lagrangian.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

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
from solvers.bisection import bisection_plan
from solvers.fixing import Reduced, reduce_by_prices
from solvers.flow import FlowRelaxation, potential_flow
from solvers.formulation import BalancedAssignment, Committed, Phase, build_problem
from solvers.keys import contains, unique_keys
from solvers.lagrangian import priced_ascent
from solvers.lp_backends import HighsLP, PulpLP
from solvers.pricing import Duals, all_pairs, pairs_below, price, reduced_cost
from solvers.repair import Violation, loads_of, repair, round_largest
from solvers.restricted import cheap_alternatives, fixed_lp, reround
from solvers.swaps import improve_by_swaps, swaps_widening

MIP_MAX_PAIRS = 150_000
EXACT_WIDEN_MAX_PAIRS = 20_000  # tightest tolerance by MILP up to this many pairs, else by LP
NEIGHBOURHOOD_PER_SPLIT = 10  # accounts freed per account the LP split
NEIGHBOURHOOD_MIN, NEIGHBOURHOOD_MAX = 150, 3_000
# Work limits in branch-and-bound nodes rather than seconds: a plan must not depend on how busy
# the machine was. Only the user's --time-limit is a clock.
NEIGHBOURHOOD_NODES = 500
AUTO_MIP_NODES = 5_000  # --mip auto; --mip always has no node limit
MAX_PRICING_ROUNDS = 50
LP_TIME_SHARE = 0.6
REP_CANDIDATE_FILL = 1.5  # each rep starts with nearest accounts worth 1.5 × its target
OPTIMAL_GAP = 1e-6
# from this many reps on, the bisection plan's pairs join the first candidates (at 2,000 reps
# they raised the dual's bound by half; at 500 they only moved the plan by noise, 0.359 ->
# 0.366 %, +1.5 s, since pricing from the nearest reps reaches the bands there) and a large
# LP's prices come from the potential-band flow (``flow.py``), not the smoothed dual, whose
# prices ran to their caps there
MANY_REPS = 1_000
FLOW_RELAXATION = "potential-band min-cost flow (OR-Tools)"
FIX_MIN_PAIRS = 150_000  # above this many candidates, fix clear accounts by prices first

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
    phase: str = "cost"


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
    neighbourhood: dict | None = None
    infeasibility: dict | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # duals of the final converged cost LP at the asked bands (band prices); None when unknown
    duals: Duals | None = None
    # what gave the prices and the bound when it was not the LP itself (``FLOW_RELAXATION``)
    relaxation: str | None = None


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
    direct: bool = True,
    model_file: str | None = None,
    elastic: float | None = None,
    backend: HighsLP | None = None,
) -> LPResult:
    """Solve the LP of ``phase`` over all allowed pairs by pricing in missing candidates.

    With HiGHS and the cost phase the LP stays in HiGHS between rounds (``HighsLP``) unless
    ``direct`` is False; otherwise PuLP rebuilds it each round (``PulpLP``). Same model.
    ``elastic``: slack price of the coupling rows in the direct back-end (``HighsLP``);
    ``backend``: a live ``HighsLP`` to continue from (its columns and basis are kept).
    """
    k = model.n_reps
    lp_backend: HighsLP | PulpLP
    if backend is not None:
        lp_backend = backend
    elif direct and phase == "cost" and solver == "HiGHS":
        lp_backend = HighsLP(model, elastic=elastic)
    else:
        lp_backend = PulpLP(model, phase, solver)
    bound = -np.inf
    last: LPResult | None = None
    for round_no in range(1, MAX_PRICING_ROUNDS + 1):
        lp_backend.set_pairs(pair_a, pair_r)
        if model_file is not None:
            lp_backend.write(model_file)  # before solving, so a solver crash leaves it behind
        solved = lp_backend.solve(max(clock.left(), 1.0))
        order = np.argsort(_pair_keys(lp_backend.pair_a, lp_backend.pair_r, k), kind="stable")
        pair_a, pair_r = lp_backend.pair_a[order], lp_backend.pair_r[order]
        if solved.status != OPTIMAL or solved.duals is None:
            if last is not None and solved.status != INFEASIBLE:
                last.status = solved.status
                return last
            return LPResult(
                solved.status,
                None,
                bound,
                pair_a,
                pair_r,
                np.zeros(len(pair_a)),
                None,
                round_no,
                False,
                phase=phase,
            )
        keys = _pair_keys(pair_a, pair_r, k)
        priced = price(model, solved.duals, phase, keys, out_of_time=lambda: clock.left() <= 0)
        bound = max(bound, priced.bound)
        last = LPResult(
            OPTIMAL,
            solved.objective,
            bound,
            pair_a,
            pair_r,
            solved.x[order],
            solved.duals,
            round_no,
            priced.complete and len(priced.new_a) == 0,
            solved.slack,
            solved.tau,
            phase,
        )
        progress(
            "price",
            f"{phase} round {round_no}: LP {solved.objective:,.6g}, bound {bound:,.6g}, "
            f"{len(pair_a):,} pairs, +{len(priced.new_a):,}",
        )
        if last.converged:
            last.bound = max(bound, solved.objective or bound)
            return last
        if phase == "feasibility" and (solved.objective or 0.0) <= 1e-9:
            return last  # a feasible candidate set: enough for phase 1
        if clock.left() <= 0:
            last.status = TIME_LIMIT
            return last
        merged = unique_keys(np.concatenate([keys, _pair_keys(priced.new_a, priced.new_r, k)]))
        pair_a, pair_r = merged // k, merged % k
    assert last is not None
    return last


@dataclass(frozen=True)
class RepairPairs:
    """Pairs repair and swaps may move accounts to beyond the LP's own (sorted keys and their
    costs): of the pairs priced in, the cheapest by reduced cost at the LP's duals
    (``restricted.cheap_alternatives``; the others are the moves a plan near the LP optimum
    does not make, and each round of repair or swaps touches every pair it is given). Built
    once and reused by every rounding of a solve."""

    keys: np.ndarray
    cost: np.ndarray

    @classmethod
    def of(
        cls, model: BalancedAssignment, a: np.ndarray, r: np.ndarray, duals: Duals
    ) -> RepairPairs:
        keys = unique_keys(_pair_keys(a, r, model.n_reps))
        k = model.n_reps
        cost = model.costs.cost(keys // k, keys % k)
        cheap = cheap_alternatives(model, duals, keys, cost)
        return cls(keys[cheap], cost[cheap])


def _integral(
    model: BalancedAssignment,
    lp: LPResult,
    extra: RepairPairs | None = None,
    seconds: float = np.inf,
) -> tuple[np.ndarray, int]:
    """Round the LP and repair it; also count the accounts the LP split between reps.

    ``extra``: more pairs repair may move accounts to (those the LP never saw); ``seconds``:
    repair's time (it stops between rounds).
    """
    assignment = round_largest(model.n_accounts, lp.pair_a, lp.pair_r, lp.x)
    split = int(np.sum(np.bincount(lp.pair_a[lp.x > 1e-6], minlength=model.n_accounts) > 1))
    moves = _move_pairs(model, lp, extra)
    return repair(model, assignment, *moves, seconds=seconds), split


def _move_pairs(
    model: BalancedAssignment, lp: LPResult, extra: RepairPairs | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs repair and swaps may move accounts to: the LP's and ``extra``'s, with costs."""
    a, r = lp.pair_a, lp.pair_r
    if extra is None:
        return a, r, model.costs.cost(a, r)
    k = model.n_reps
    lp_keys = _pair_keys(a, r, k)
    fresh = lp_keys[~contains(extra.keys, lp_keys)]
    keys = np.concatenate([extra.keys, fresh])
    order = np.argsort(keys, kind="stable")  # repair breaks ties by position
    keys = keys[order]
    cost = np.concatenate([extra.cost, model.costs.cost(fresh // k, fresh % k)])[order]
    return keys // k, keys % k, cost


def plan_cost(model: BalancedAssignment, assignment: np.ndarray) -> float:
    idx = np.flatnonzero(assignment >= 0)
    return float(model.costs.cost(idx, assignment[idx]).sum())


def _gap(objective: float, bound: float) -> float:
    return max(0.0, (objective - bound) / max(abs(objective), 1e-12))


def _bisection_pairs(model: BalancedAssignment) -> tuple[np.ndarray, np.ndarray]:
    """Each active account with its rep in the bisection plan (allowed pairs only)."""
    active = np.flatnonzero(model.active)
    if len(active) == 0 or model.n_reps == 0:
        return active, active
    account_points, rep_points = model.costs.points()
    plan = bisection_plan(
        account_points[active], rep_points, model.potential[active], model.pot_target
    )
    allowed = np.isfinite(model.costs.cost(active, plan))
    return active[allowed], plan[allowed]


BISECTION_SOURCE = "the bisection plan (solvers/bisection.py) and swaps"


def _balanced_from_bisection(
    model: BalancedAssignment,
    assignment: np.ndarray,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    pair_cost: np.ndarray,
    clock: Clock,
) -> tuple[np.ndarray, bool]:
    """For a plan that breaks bands: the bisection plan, repaired and improved by swaps over
    the pairs, if it breaks them less (and whether it was taken). With thousands of reps a
    plan rounded from prices can be too far from any balanced plan for repair to reach one."""
    bisected_a, bisected_r = _bisection_pairs(model)
    start = assignment.copy()
    start[bisected_a] = bisected_r
    swapped = swaps_widening(model, start, pair_a, pair_r, pair_cost, clock.left())
    violation = Violation(model)
    if violation.total(loads_of(model, swapped)) < violation.total(loads_of(model, assignment)):
        return swapped, True
    return assignment, False


def solve_balanced_assignment(
    model: BalancedAssignment,
    solver: str = "HiGHS",
    time_limit: float = 120.0,
    gap: float = 0.005,
    mip: str = "auto",
    progress: Progress | None = None,
    model_file: str | None = None,
    fix_by_prices: bool | None = None,
) -> SolveOutcome:
    """Find a plan for ``model`` and bound how far it can be from the best possible one.

    ``model_file``: write the LP handed to the solver there (MPS), for a bug report.
    ``fix_by_prices``: shrink the LP with dual prices first (``fixing.py``); by default with
    HiGHS once the candidates exceed ``FIX_MIN_PAIRS``, where the cold LP gets slow.
    """
    progress = progress or (lambda phase, detail: None)
    clock = Clock(time_limit)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    a0, r0 = model.costs.initial_pairs()
    parts = [_pair_keys(a0, r0, model.n_reps)]
    if model.n_reps >= MANY_REPS:
        # the pairs of a plan meeting the potential bands (``bisection.py``) keep them within
        # reach where a region has too few reps for its potential
        parts.append(_pair_keys(*_bisection_pairs(model), model.n_reps))
    fills = [(model.pot_target, model.potential)]
    if model.work_target is not None:
        fills.append((model.work_target, model.workload))
    for target, weight in fills:
        ra, rr = model.costs.rep_candidates(REP_CANDIDATE_FILL * target, weight)
        parts.append(_pair_keys(ra, rr, model.n_reps))
    keys = unique_keys(np.concatenate(parts))
    a0, r0 = keys // model.n_reps, keys % model.n_reps
    active = model.active[a0]
    a0, r0 = a0[active], r0[active]
    timings["candidates"] = time.perf_counter() - t
    progress("candidates", f"{len(a0):,} initial pairs")
    initial_costs = model.costs.cost(a0, r0)
    if len(a0):
        model = replace(model, cost_scale=max(float(np.mean(initial_costs)), 1e-9))

    t = time.perf_counter()
    # the LP gets a share of the time, so that a fallback plan can still be made if it stalls
    lp_clock = Clock(LP_TIME_SHARE * time_limit)
    if fix_by_prices is None:
        fix_by_prices = solver == "HiGHS" and len(a0) > FIX_MIN_PAIRS
    reduced: Reduced | None = None
    live: HighsLP | None = None
    relaxed: FlowRelaxation | None = None
    if fix_by_prices and model.n_reps >= MANY_REPS:
        relaxed = potential_flow(model, a0, r0, lp_clock.left, progress)
    if relaxed is not None:
        timings["flow"] = time.perf_counter() - t
        t = time.perf_counter()
        lp = LPResult(
            OPTIMAL if relaxed.finished else TIME_LIMIT,
            relaxed.objective,
            relaxed.bound,
            relaxed.pair_a,
            relaxed.pair_r,
            relaxed.x,
            relaxed.duals,
            relaxed.rounds,
            False,  # the flow leaves out the workload rows: not the full model's LP
        )
    elif fix_by_prices:
        reduced = reduce_by_prices(model, a0, r0, progress, lambda: lp_clock.left() <= 0)
        timings["dual"] = time.perf_counter() - t
        t = time.perf_counter()
        lp, live = fixed_lp(model, solver, reduced, lp_clock, progress)
    else:
        lp = column_generation(
            model, solver, a0, r0, "cost", lp_clock, progress, model_file=model_file
        )
    if lp.status == INFEASIBLE:
        lp = _feasible_candidates(model, solver, a0, r0, clock, progress)
    timings["lp"] = time.perf_counter() - t
    candidate_pairs = {"initial": int(len(a0)), "final": int(len(lp.pair_a))}
    if lp.status == INFEASIBLE:
        return _infeasible(
            model, solver, lp, "the LP relaxation", clock, progress, timings, candidate_pairs
        )
    if lp.duals is None:
        # lp.bound holds the dual's bound too (``fixed_lp``); a phase-1 bound is at most 0
        return _lagrangian_fallback(
            model, solver, a0, r0, lp.status, clock, progress, timings, candidate_pairs, lp.bound
        )

    t = time.perf_counter()
    extra = None
    if reduced is not None:
        extra = RepairPairs.of(model, reduced.all_a, reduced.all_r, lp.duals)
    elif relaxed is not None:
        extra = RepairPairs.of(model, relaxed.pair_a, relaxed.pair_r, lp.duals)
    # rounding gets half the time left, swaps half the rest while the plan breaks bands: the
    # bisection start below needs some
    rounding = Clock(0.5 * clock.left())
    assignment, split = _integral(model, lp, extra, max(rounding.left(), 1.0))
    rounded_ok = _meets_all(model, assignment)
    if live is not None and extra is not None and rounding.left() > 1 and not rounded_ok:
        assignment = reround(
            model,
            solver,
            live,
            lp,
            assignment,
            rounding,
            progress,
            lambda shifted: _integral(model, shifted, extra, max(rounding.left(), 1.0))[0],
            extra.keys,
        )
    timings["repair"] = time.perf_counter() - t
    objective = plan_cost(model, assignment)
    bound = lp.bound
    feasible = _meets_all(model, assignment)
    progress("repair", f"{split} split accounts rounded; objective {objective:,.6g}")
    if (not feasible or _gap(objective, bound) > gap) and clock.left() > 1:
        t = time.perf_counter()
        # swaps also repair what single moves could not (a workload band next to a potential one)
        seconds = clock.left() if feasible else 0.5 * clock.left()
        moves = _move_pairs(model, lp, extra)
        swap = improve_by_swaps if feasible else swaps_widening
        assignment = swap(model, assignment, *moves, seconds)
        objective = plan_cost(model, assignment)
        feasible = _meets_all(model, assignment)
        timings["swaps"] = time.perf_counter() - t
        progress("swaps", f"objective {objective:,.6g}" + _broken_note(model, assignment))

    mip_record = None
    neighbourhood = None
    current_gap = _gap(objective, bound) if feasible else np.inf
    if mip != "never" and current_gap > gap and lp.converged and clock.left() > 1:
        t = time.perf_counter()
        assignment, objective, neighbourhood = _neighbourhood_mip(
            model, solver, lp, assignment, objective if feasible else np.inf, gap, clock, progress
        )
        timings["neighbourhood"] = time.perf_counter() - t
        feasible = _meets_all(model, assignment)
        current_gap = _gap(objective, bound) if feasible else np.inf
    # the MILP over a large instance's pairs does not finish: --mip auto leaves it to
    # small instances (the price-fixing path is only taken on large ones)
    at_scale = reduced is not None or relaxed is not None
    want_mip = mip == "always" or (mip == "auto" and current_gap > gap and not at_scale)
    if want_mip and clock.left() > 1:
        t = time.perf_counter()
        nodes = None if mip == "always" else AUTO_MIP_NODES
        assignment, objective, bound, mip_record = _mip(
            model,
            solver,
            lp,
            assignment,
            objective if feasible else None,
            bound,
            gap,
            clock.left(),
            progress,
            nodes,
        )
        feasible = _meets_all(model, assignment)
        timings["mip"] = time.perf_counter() - t
        if not feasible and mip_record.get("proved_infeasible"):
            return _infeasible(
                model,
                solver,
                lp,
                "the MILP over every allowed pair",
                clock,
                progress,
                timings,
                candidate_pairs,
            )

    from_bisection = False
    if not feasible and clock.left() > 1:
        t = time.perf_counter()
        moves = _move_pairs(model, lp, extra)
        assignment, from_bisection = _balanced_from_bisection(model, assignment, *moves, clock)
        feasible = _meets_all(model, assignment)
        objective = plan_cost(model, assignment)
        timings["bisection"] = time.perf_counter() - t
        if from_bisection:
            progress("fallback", f"plan from {BISECTION_SOURCE}: objective {objective:,.6g}")

    common: dict[str, Any] = dict(
        solver=solver,
        lp_objective=lp.objective,
        pricing_rounds=lp.rounds,
        candidate_pairs=candidate_pairs,
        split_accounts=split,
        mip=mip_record,
        neighbourhood=neighbourhood,
        timings=timings,
        duals=lp.duals if lp.converged else None,
        relaxation=FLOW_RELAXATION if relaxed is not None else None,
    )
    if not feasible:
        lp_said = (
            "the LP stopped at the time limit before it converged"
            if lp.status == TIME_LIMIT
            else "the LP is feasible"
        )
        return SolveOutcome(
            assignment,
            ERROR,
            objective,
            bound if np.isfinite(bound) else None,
            None,
            f"no plan meeting every band was found ({lp_said}, rounding, repair and the "
            "bisection plan were not enough"
            + ("" if mip != "never" else ", and --mip never skipped the MILP")
            + "); the plan written is the closest found.",
            **common,
        )
    if not np.isfinite(bound):  # every pricing pass was stopped by the clock
        return SolveOutcome(
            assignment,
            TIME_LIMIT,
            objective,
            None,
            None,
            "time limit reached before any pricing pass over all pairs finished: the plan meets "
            "every band but has no proven lower bound; give a longer --time-limit.",
            **common,
        )
    final_gap = _gap(objective, bound)
    mip_status = (mip_record or {}).get("status")
    # the clock also stops swaps and the bisection fallback: a run that used it all says so
    timed_out = lp.status == TIME_LIMIT or mip_status == TIME_LIMIT or clock.left() <= 1.0
    mip_stopped = mip_record is not None and mip_status not in (OPTIMAL, INFEASIBLE, None)
    if final_gap <= OPTIMAL_GAP:
        status, message = OPTIMAL, "optimal: the plan's cost equals the lower bound."
    elif timed_out:
        status = TIME_LIMIT
        message = f"time limit reached; best plan within {final_gap:.3%} of the lower bound."
    else:
        status = FEASIBLE
        message = f"plan within {final_gap:.3%} of the full model's lower bound."
        if mip_stopped:
            message += (
                f" The exact MILP stopped at its {AUTO_MIP_NODES:,}-node work limit; "
                "--mip always lets it run to --time-limit."
            )
    if relaxed is not None:
        message += (
            f" The bound and prices come from the {FLOW_RELAXATION}, which leaves out the "
            "workload, capacity and moved-potential rows (still a valid bound; the gap to the "
            "full LP is not known)."
        )
    if from_bisection:
        message += f" The rounded LP plan broke bands: this plan comes from {BISECTION_SOURCE}."
    return SolveOutcome(assignment, status, objective, bound, final_gap, message, **common)


def _lagrangian_fallback(
    model: BalancedAssignment,
    solver: str,
    a0: np.ndarray,
    r0: np.ndarray,
    lp_status: str,
    clock: Clock,
    progress: Progress,
    timings: dict[str, float],
    candidate_pairs: dict[str, int],
    known_bound: float = -np.inf,
) -> SolveOutcome:
    """The LP did not finish: prices by Lagrangian ascent give a bound over all pairs and the
    cheapest-rep choices that repair turns into a plan; the status says how good it is.

    ``known_bound``: a bound over all pairs found before (the dual's, the LP rounds'): the
    better of the two is reported."""
    t = time.perf_counter()
    left = max(clock.left(), 2.0)
    ascent, bound, pair_a, pair_r = priced_ascent(model, a0, r0, seconds=0.5 * left)
    progress("ascent", f"{ascent.iterations} price steps, bound {bound:,.6g}")
    bound = max(bound, known_bound)
    cost = model.costs.cost(pair_a, pair_r)
    # repair gets half the time left, so that the bisection start below still has some
    assignment = repair(
        model, ascent.assignment, pair_a, pair_r, cost, seconds=max(0.5 * clock.left(), 1.0)
    )
    source = "Lagrangian prices and repair"
    if not _meets_all(model, assignment) and clock.left() > 1:
        assignment, used = _balanced_from_bisection(model, assignment, pair_a, pair_r, cost, clock)
        if used:
            source = BISECTION_SOURCE
            progress("fallback", f"plan from {source}: {plan_cost(model, assignment):,.6g}")
    timings["fallback"] = time.perf_counter() - t
    objective = plan_cost(model, assignment) if np.all(assignment[model.active] >= 0) else None
    feasible = _meets_all(model, assignment)
    lead = f"the LP stopped without a solution ({lp_status}); "
    gap_value: float | None = None
    if feasible and objective is not None:
        status, gap_value = TIME_LIMIT, _gap(objective, bound)
        message = (
            lead + f"plan from {source}, within {gap_value:.3%} of the "
            "lower bound. A longer --time-limit lets the LP finish."
        )
    else:
        status = ERROR
        message = (
            lead + f"the plan from {source} still breaks some bands; give a longer --time-limit."
        )
    return SolveOutcome(
        assignment,
        status,
        objective,
        bound,
        gap_value,
        message,
        solver,
        pricing_rounds=0,
        candidate_pairs=candidate_pairs,
        timings=timings,
    )


def _neighbourhood_mip(
    model: BalancedAssignment,
    solver: str,
    lp: LPResult,
    assignment: np.ndarray,
    objective: float,
    gap: float,
    clock: Clock,
    progress: Progress,
) -> tuple[np.ndarray, float, dict]:
    """Free the split accounts and those the LP is nearly indifferent about, fix the rest as
    the LP has them, and solve that small MILP exactly (LP-guided neighbourhood search)."""
    assert lp.duals is not None
    duals = lp.duals
    a, r = lp.pair_a, lp.pair_r
    cost = model.costs.cost(a, r)
    rc = reduced_cost(model, duals, a, r, cost)
    rounded = round_largest(model.n_accounts, a, r, lp.x)
    split = np.bincount(a[lp.x > 1e-6], minlength=model.n_accounts) > 1
    regret = np.full(model.n_accounts, np.inf)
    other = r != rounded[a]
    np.minimum.at(regret, a[other], rc[other])
    size = int(
        np.clip(NEIGHBOURHOOD_PER_SPLIT * (split.sum() + 1), NEIGHBOURHOOD_MIN, NEIGHBOURHOOD_MAX)
    )
    order = np.lexsort((np.arange(model.n_accounts), regret))
    free = split.copy()
    free[order[:size]] = True
    free &= model.active
    fixed = np.flatnonzero(~free & (rounded >= 0))
    k = model.n_reps
    committed = Committed(
        np.bincount(rounded[fixed], weights=model.potential[fixed], minlength=k),
        np.bincount(rounded[fixed], weights=model.workload[fixed], minlength=k),
        float(model.potential[fixed][model.is_move(fixed, rounded[fixed])].sum()),
    )
    mask = free[a]
    fa, fr, fc = a[mask], r[mask], cost[mask]
    built = build_problem(model, fa, fr, fc, "cost", integer=True, committed=committed)
    limit = max(clock.left(), 1.0)
    progress("neighbour", f"MILP over {int(free.sum()):,} freed accounts, {len(fa):,} pairs")
    # stop once the freed part is within half the run's gap budget of the LP bound
    budget = 0.5 * gap * abs(lp.objective or 0.0) / model.cost_scale
    report = run_solver(
        built.prob,
        make_solver(
            solver,
            mip=True,
            time_limit=limit,
            gap=0.0,
            gap_abs=budget,
            node_limit=NEIGHBOURHOOD_NODES,
        ),
    )
    record: dict = {
        "freed_accounts": int(free.sum()),
        "pairs": int(len(fa)),
        "status": report.status,
        "nodes": report.nodes,
        "seconds": round(report.seconds, 3),
        "improved": False,
    }
    if report.has_solution:
        candidate = rounded.copy()
        chosen = built.values() > 0.5
        candidate[fa[chosen]] = fr[chosen]
        value = plan_cost(model, candidate)
        if _meets_all(model, candidate) and value < objective:
            record["improved"] = True
            return candidate, value, record
    return assignment, objective, record


def _broken_note(model: BalancedAssignment, assignment: np.ndarray) -> str:
    """``, bands broken on N reps`` for a progress line ('' when every band is met)."""
    loads = loads_of(model, assignment)
    rows = Violation(model).rep(np.arange(model.n_reps), loads.potential, loads.workload)
    broken = int(np.sum(rows > 1e-12))
    return f", bands broken on {broken:,} reps" if broken else ""


def _meets_all(model: BalancedAssignment, assignment: np.ndarray) -> bool:
    covered = bool(np.all(assignment[model.active] >= 0))
    return covered and Violation(model).total(loads_of(model, assignment)) <= 1e-9


def _mip(
    model: BalancedAssignment,
    solver: str,
    lp: LPResult,
    assignment: np.ndarray,
    incumbent: float | None,
    bound: float,
    gap: float,
    seconds: float,
    progress: Progress,
    node_limit: int | None = None,
) -> tuple[np.ndarray, float, float, dict]:
    """MILP over the pairs that can still beat the incumbent (reduced-cost fixing), or over
    every allowed pair when there is no incumbent; either way exact for the full model."""
    assert lp.duals is not None
    pairs: tuple[np.ndarray, np.ndarray] | None
    if incumbent is not None and lp.converged:
        threshold = incumbent - (lp.objective or 0.0) + 1e-9 * abs(incumbent)
        pairs = pairs_below(model, lp.duals, threshold)
        if len(pairs[0]) > MIP_MAX_PAIRS:
            pairs = None
    else:
        pairs = all_pairs(model, MIP_MAX_PAIRS)
    exact = pairs is not None
    if pairs is None:
        a, r = lp.pair_a, lp.pair_r
        if len(a) > MIP_MAX_PAIRS:
            return assignment, incumbent or np.inf, bound, {"skipped": f"{len(a):,} pairs"}
    else:
        a, r = pairs
    idx = np.flatnonzero(assignment >= 0)
    keys = unique_keys(np.concatenate([a * model.n_reps + r, idx * model.n_reps + assignment[idx]]))
    a, r = keys // model.n_reps, keys % model.n_reps
    cost = model.costs.cost(a, r)
    ok = np.isfinite(cost)
    a, r, cost = a[ok], r[ok], cost[ok]
    built = build_problem(model, a, r, cost, "cost", integer=True)
    progress("mip", f"MILP over {len(a):,} pairs ({'exact' if exact else 'restricted'} set)")
    report: SolveReport = run_solver(
        built.prob,
        make_solver(solver, mip=True, time_limit=max(seconds, 1.0), gap=gap, node_limit=node_limit),
    )
    report = replace(
        report, objective=built.unscale(report.objective), bound=built.unscale(report.bound)
    )
    record: dict = {
        "pairs": int(len(a)),
        "exact_candidate_set": bool(exact),
        "status": report.status,
        "solver_status": report.raw_status,
        "objective": report.objective,
        "bound": report.bound,
        "seconds": round(report.seconds, 3),
        "proved_infeasible": bool(exact and incumbent is None and report.status == INFEASIBLE),
    }
    objective = incumbent if incumbent is not None else np.inf
    if report.has_solution:
        chosen = built.values() > 0.5
        candidate = np.full(model.n_accounts, -1, dtype=np.int64)
        candidate[a[chosen]] = r[chosen]
        cost_new = plan_cost(model, candidate)
        if _meets_all(model, candidate) and cost_new < objective:
            assignment, objective = candidate, cost_new
    if exact and report.bound is not None:
        bound = max(bound, min(report.bound, objective))
    if exact and report.status == INFEASIBLE and incumbent is not None:
        bound = max(bound, objective)  # nothing beats the incumbent: it is optimal
    return assignment, objective, bound, record


def _feasible_candidates(
    model: BalancedAssignment,
    solver: str,
    a0: np.ndarray,
    r0: np.ndarray,
    clock: Clock,
    progress: Progress,
) -> LPResult:
    """Phase 1: price in pairs until the bands are reachable, then solve the cost LP.

    Returns an infeasible result (with the phase-1 pairs) when no pair set can meet the bands.
    """
    phase1 = column_generation(model, solver, a0, r0, "feasibility", clock, progress)
    if phase1.status == OPTIMAL and (phase1.objective or 0.0) <= 1e-9:
        return column_generation(
            model, solver, phase1.pair_a, phase1.pair_r, "cost", clock, progress
        )
    phase1.status = INFEASIBLE if phase1.converged else phase1.status
    return phase1


def _infeasible(
    model: BalancedAssignment,
    solver: str,
    lp: LPResult,
    proof: str,
    clock: Clock,
    progress: Progress,
    timings: dict[str, float],
    candidate_pairs: dict[str, int],
) -> SolveOutcome:
    """No plan meets the bands: find the tightest tolerance that can be met, and a plan at it.

    Small instances get the exact answer from a MILP over every allowed pair; large ones the
    LP's answer, which is a lower bound on the tolerance an integral plan needs.
    """
    t = time.perf_counter()
    tau: float | None = None
    exact = False
    assignment: np.ndarray | None = None
    pairs = all_pairs(model, EXACT_WIDEN_MAX_PAIRS)
    if pairs is not None and clock.left() > 2:
        a, r = pairs
        built = build_problem(model, a, r, np.zeros(len(a)), "widen", integer=True)
        progress("widen", f"MILP for the tightest tolerance over {len(a):,} pairs")
        report = run_solver(
            built.prob,
            make_solver(
                solver, mip=True, time_limit=clock.left(), gap=0.0, node_limit=AUTO_MIP_NODES
            ),
        )
        if report.status == OPTIMAL and built.tau is not None:
            tau, exact = float(built.tau.varValue or 0.0), True
    if tau is None:
        widen = column_generation(model, solver, lp.pair_a, lp.pair_r, "widen", clock, progress)
        if widen.status == OPTIMAL and widen.tau is not None:
            tau = float(widen.tau)
            lp = widen
    info: dict = {"proved_by": proof, "tolerance_exact": bool(exact)}
    rho = model.widen_ratio()
    has_work = model.work_target is not None and model.work_tolerance is not None
    if tau is not None:
        relaxed = replace(
            model,
            tolerance=tau * (1 + 1e-9) + 1e-12,
            work_tolerance=(rho * tau * (1 + 1e-9) + 1e-12) if has_work else None,
        )
        relaxed_lp = column_generation(
            relaxed, solver, lp.pair_a, lp.pair_r, "cost", clock, progress
        )
        if relaxed_lp.duals is not None:
            assignment, _ = _integral(relaxed, relaxed_lp)
            if not _meets_all(relaxed, assignment) and clock.left() > 1:
                assignment, _, _, _ = _mip(
                    relaxed,
                    solver,
                    relaxed_lp,
                    assignment,
                    None,
                    relaxed_lp.bound,
                    0.0,
                    clock.left(),
                    progress,
                    AUTO_MIP_NODES,
                )
        need = f"±{tau:.2%} potential" + (f" / ±{rho * tau:.2%} workload" if has_work else "")
        info.update(
            tightest_tolerance=tau, tightest_workload_tolerance=rho * tau if has_work else None
        )
        reason = (
            f"no plan keeps every rep within ±{model.tolerance:.1%} of its potential target"
            + (f" and ±{model.work_tolerance:.1%} of its workload target" if has_work else "")
            + f" ({proof} is infeasible). "
            + (
                f"The tightest achievable balance is {need}; the plan written meets it."
                if exact
                else f"At least {need} is needed (LP bound); the plan written is the closest found."
            )
        )
    else:
        phase1 = lp
        if lp.phase != "feasibility":
            phase1 = column_generation(
                model, solver, lp.pair_a, lp.pair_r, "feasibility", clock, progress
            )
        if phase1.x.any():
            assignment = repair(
                model,
                round_largest(model.n_accounts, phase1.pair_a, phase1.pair_r, phase1.x),
                phase1.pair_a,
                phase1.pair_r,
                np.zeros(len(phase1.pair_a)),
                improve=False,
            )
        reason = (
            "no plan exists at any balance tolerance: capacities, locks or the moved-potential "
            "cap cannot all be met. The plan written keeps their violation small."
        )
    timings["infeasibility"] = time.perf_counter() - t
    info["reason"] = reason
    if assignment is None:
        assignment = np.full(model.n_accounts, -1, dtype=np.int64)
    objective = plan_cost(model, assignment) if np.all(assignment[model.active] >= 0) else None
    return SolveOutcome(
        assignment,
        INFEASIBLE,
        objective,
        None,
        None,
        reason,
        solver,
        lp_objective=None,
        pricing_rounds=lp.rounds,
        candidate_pairs=candidate_pairs,
        infeasibility=info,
        timings=timings,
    )
