"""Exact districting on the live HiGHS model: LP bound, pruning, MILP with contiguity cuts.

1. **LP bound over all pairs.** Small instances put every (unit, centre) pair in the model.
   Large ones (more than :data:`PRICED_PAIRS` pairs) start from each unit's cheapest centres
   and the incumbent's pairs, and add the pairs whose reduced cost against the LP duals is
   negative (numpy over the whole cost matrix) until none is: the LP value is then the LP
   bound of the full model. Pricing gets :data:`PRICE_SHARE` of the time; when it has not
   finished by then, a Lagrangian bound (:mod:`solvers.districting_bound`) is the bound.
   With contiguity in a greenfield model (all pairs held), pairs out of reach of their
   centre are dropped and neighbour rows added first (:mod:`solvers.districting_reach`).
2. **Reduced-cost fixing** against the incumbent's value :math:`U`: a pair whose reduced cost
   exceeds :math:`U - LB` is in no plan better than the incumbent and is fixed to 0. Pairs not
   in the model that could still be in such a plan are added first, so the MILP on the model's
   columns is the full MILP restricted to plans that can beat the incumbent: its optimum is the
   full model's optimum. When too many such pairs remain (over :data:`MAX_COLUMNS`), the MILP
   runs on the columns present and its plan is only claimed to be within the LP bound.
   A greenfield model holding every pair is then probed centre by centre
   (:mod:`solvers.districting_probe`): the LP with the centre forced open closes it or fixes
   more of its pairs.
3. **MILP rounds.** HiGHS solves the MILP from the incumbent (``setSolution``); a plan with a
   territory in several pieces gets a,b-separator cuts (for its own centre and, in a greenfield
   design, for every candidate centre on the anchor's side of the separator, for which the same
   units separate) and the MILP is solved again in the same HiGHS object.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from solvers.backends import ERROR, FEASIBLE, INFEASIBLE, OPTIMAL, TIME_LIMIT
from solvers.districting import Districting, DistrictingResult, _stray_pieces
from solvers.districting_bound import LagrangianBound, lagrangian_bound
from solvers.districting_highs import HighsDistricting
from solvers.districting_probe import probe_centres
from solvers.districting_reach import add_neighbour_rows, unreachable
from solvers.districting_regions import RegionBound, region_bound

PRICED_PAIRS = 60_000  # above this many pairs, start from a subset and price the rest
NEAREST = 12  # cheapest centres per unit in the starting subset
ADD_PER_UNIT = 8  # most negative priced pairs added per unit and round
MAX_COLUMNS = 400_000  # a larger MILP is not attempted exactly
STRONG_CONTIGUITY = True  # reach fixing and neighbour rows before the LP (greenfield)
PROBE_SHARE = 0.2  # of the time limit, for centre probing (greenfield, all pairs held)
PRICE_SHARE = 0.25  # of the time limit, for pricing the LP over all pairs
LAGRANGIAN_SHARE = 0.35  # of the time limit, for the Lagrangian bound when pricing is unfinished
Progress = Callable[[str, str], None]


def _starting_pairs(model: Districting, incumbent: np.ndarray | None):
    """Each unit's cheapest centres, plus the incumbent's pairs."""
    k = min(NEAREST, model.n_centres)
    cost = np.where(np.isfinite(model.cost), model.cost, np.inf)
    nearest = np.argpartition(cost, k - 1, axis=1)[:, :k]
    pair_u = np.repeat(np.arange(model.n_units), k)
    pair_c = nearest.ravel()
    if incumbent is not None:
        pair_u = np.concatenate([pair_u, np.arange(model.n_units)])
        pair_c = np.concatenate([pair_c, incumbent])
    keep = np.isfinite(model.cost[pair_u, pair_c])
    return pair_u[keep], pair_c[keep]


@dataclass
class Priced:
    """Where the LP phase ended: the LP bound over all pairs and every pair's reduced cost
    (None when pricing did not finish), and the last LP's assignment duals and value."""

    bound: float | None
    reduced: np.ndarray | None
    status: str
    duals: np.ndarray | None = None
    value: float | None = None


def _lp_bound(
    problem: HighsDistricting, priced: bool, deadline: float, progress: Progress
) -> Priced:
    """The LP bound of the full model and every pair's reduced cost, by pricing when the
    model holds a subset of the pairs (until ``deadline``)."""
    model = problem.model
    rounds = 0
    duals: np.ndarray | None = None
    value: float | None = None
    while True:
        rounds += 1
        report = problem.solve(integer=False, time_limit=deadline - time.perf_counter())
        if report.status != OPTIMAL or report.objective is None:
            return Priced(None, None, report.status, duals, value)
        reduced = problem.price()
        value = report.objective
        duals = problem.assignment_duals()
        if not priced:
            return Priced(report.objective, reduced, OPTIMAL)
        tol = 1e-9 * model.cost_scale
        # a column at its upper bound may keep a negative reduced cost: only pairs outside
        # the model price out
        negative = reduced < -tol
        negative[problem.pair_u, problem.pair_c] = False
        if not negative.any():
            progress("price", f"LP over all pairs after {rounds} rounds: {report.objective:.6g}")
            return Priced(report.objective, reduced, OPTIMAL)
        # the most negative pairs of each unit
        masked = np.where(negative, reduced, np.inf)
        k = min(ADD_PER_UNIT, model.n_centres)
        best = np.argpartition(masked, k - 1, axis=1)[:, :k]
        pair_u = np.repeat(np.arange(model.n_units), k)
        pair_c = best.ravel()
        keep = negative[pair_u, pair_c]
        added = problem.add_pairs(pair_u[keep], pair_c[keep])
        progress(
            "price",
            f"round {rounds}: LP {report.objective:.6g}, {int(negative.sum()):,} pairs price "
            f"out, {added:,} added ({len(problem.pair_u):,} columns)",
        )
        if added == 0:
            return Priced(None, None, ERROR, duals, value)
        if time.perf_counter() > deadline:
            return Priced(None, None, TIME_LIMIT, duals, value)


def _fix(
    problem: HighsDistricting, reduced: np.ndarray, lp_bound: float, upper: float
) -> tuple[dict, bool]:
    """Fix to 0 the columns that cannot be in a plan better than ``upper``; add the pairs
    outside the model that could be. Returns the record and whether the model is complete
    (holds every pair that can beat ``upper``)."""
    slack = upper - lp_bound + 1e-9 * max(1.0, abs(upper))
    useful = reduced <= slack
    outside = np.ones(reduced.shape, dtype=bool)
    outside[problem.pair_u, problem.pair_c] = False
    missing = useful & outside
    n_missing = int(missing.sum())
    complete = len(problem.pair_u) + n_missing <= MAX_COLUMNS
    if complete and n_missing:
        problem.add_pairs(*np.nonzero(missing))
    column_reduced = reduced[problem.pair_u, problem.pair_c]
    fixed = np.flatnonzero(column_reduced > slack)
    problem.fix(fixed)
    record = {
        "lp_bound": lp_bound,
        "pairs": int(np.isfinite(problem.model.cost).sum()),
        "columns": len(problem.pair_u),
        "fixed_by_reduced_cost": int(len(fixed)),
        "complete": complete,
    }
    return record, complete


def _region_centres(model: Districting, adjacency, piece: list[int], anchor: int) -> np.ndarray:
    """Candidate centres on the anchor's side of the piece's neighbourhood: the separator of
    the piece and the anchor separates the piece from each of them too."""
    from scipy.sparse.csgraph import connected_components

    assert model.centre_unit is not None
    graph = adjacency.graph
    blocked = np.zeros(graph.shape[0], dtype=bool)
    blocked[piece] = True
    for unit in piece:
        blocked[adjacency.neighbours(unit)] = True
    if blocked[anchor]:
        return np.zeros(0, dtype=np.int64)
    free = np.flatnonzero(~blocked)
    _, labels = connected_components(graph[free][:, free], directed=False)
    label = np.full(graph.shape[0], -1)
    label[free] = labels
    return np.flatnonzero(label[model.centre_unit] == label[anchor])


def _cuts(
    problem: HighsDistricting, adjacency, plan: np.ndarray, open_cols: np.ndarray
) -> tuple[int, int]:
    """Separator cuts for every stray piece of ``plan``; returns (pieces, cuts)."""
    from territory.adjacency import separator

    model = problem.model
    pieces = list(_stray_pieces(adjacency, model, plan))
    added = 0
    for piece, anchor, centre in pieces:
        sep = separator(adjacency, piece, anchor)
        centres = [centre]
        if model.greenfield:
            others = _region_centres(model, adjacency, piece, anchor)
            centres += [c for c in others.tolist() if c != centre]
        for c in centres:
            cols = problem.columns(np.array(piece, np.int64), c)
            cols = cols[cols >= 0]
            if c != centre and not open_cols[cols].any():
                continue
            anchor_c = anchor if c == centre else int(model.centre_unit[c])  # type: ignore[index]
            added += problem.add_cut(piece, anchor_c, c, sep)
    return len(pieces), added


def solve_live(
    model: Districting,
    *,
    time_limit: float,
    gap: float,
    adjacency=None,
    incumbent: np.ndarray | None = None,
    progress: Progress | None = None,
    node_limit: int | None = None,
) -> DistrictingResult:
    """The districting model to proven optimality (within ``gap``) in one live HiGHS model;
    see the module docstring for the steps."""
    progress = progress or (lambda phase, detail: None)
    start = time.perf_counter()
    deadline = start + time_limit
    n_pairs = int(np.isfinite(model.cost).sum())
    priced = n_pairs > PRICED_PAIRS
    contiguity_rows = STRONG_CONTIGUITY and adjacency is not None and model.greenfield
    if contiguity_rows and not priced:
        model = replace(model, cost=np.where(unreachable(model, adjacency), np.inf, model.cost))
    pairs = _starting_pairs(model, incumbent) if priced else None
    problem = HighsDistricting(model, pairs=pairs)
    if contiguity_rows and not priced:
        rows, dead = add_neighbour_rows(problem, adjacency)
        progress(
            "contiguity",
            f"{n_pairs - int(np.isfinite(model.cost).sum()):,} pairs out of reach, "
            f"{rows:,} neighbour rows, {dead:,} columns without a neighbour",
        )
    best = incumbent
    best_value = _value(model, incumbent) if incumbent is not None else None
    price_deadline = start + PRICE_SHARE * time_limit if priced else deadline
    lp = _lp_bound(problem, priced, price_deadline, progress)
    if priced and lp.status == INFEASIBLE:  # the starting subset is too narrow: take all pairs
        priced = False
        problem = HighsDistricting(model)
        lp = _lp_bound(problem, priced, deadline, progress)
    lp_bound, reduced, lp_status = lp.bound, lp.reduced, lp.status
    ascent: LagrangianBound | None = None
    if priced and lp_bound is None and lp_status != INFEASIBLE:
        ascent = _lagrangian(model, lp, best_value, LAGRANGIAN_SHARE * time_limit, progress)
        lp_bound = None if ascent is None else ascent.bound
    history: list[dict] = []
    if lp_status == INFEASIBLE:
        return _result(
            None,
            INFEASIBLE,
            None,
            None,
            _infeasible(adjacency),
            start,
            problem,
            0,
            0,
            history,
            None,
        )
    fixing: dict | None = None
    complete = not priced
    if lp_bound is not None and reduced is not None and best_value is not None:
        fixing, complete = _fix(problem, reduced, lp_bound, best_value)
        progress(
            "prune",
            f"LP bound {lp_bound:.6g}; {fixing['fixed_by_reduced_cost']:,} of "
            f"{fixing['columns']:,} columns cannot beat the heuristic plan",
        )
    elif lp_bound is not None and priced and reduced is not None:
        complete = False
    # greenfield models only (fixed centres are all open); not on priced layers, whose
    # thousand candidate centres would take the probing's whole share of the time
    probe = complete and not priced and model.greenfield
    if probe and fixing is not None and best_value is not None:
        probed = probe_centres(problem, best_value, start + PROBE_SHARE * time_limit)
        fixing.update(probed)
        progress(
            "probe",
            f"{probed['centres_closed']:,} of {probed['centres_probed']:,} open centres "
            f"cannot beat the heuristic plan; {probed['pairs_fixed']:,} columns fixed",
        )
    bound = lp_bound
    open_cols = np.ones(len(problem.pair_u), dtype=bool)
    if fixing is not None:
        upper = np.asarray(problem.highs.getLp().col_upper_, dtype=float)
        open_cols = upper > 0.5
    iterations, nodes = 0, 0
    status, message = ERROR, "no plan found"
    while True:
        left = deadline - time.perf_counter()
        if left <= 0.05:
            status, message = TIME_LIMIT, "time limit reached during the contiguity loop"
            break
        iterations += 1
        report = problem.solve(
            integer=True, time_limit=left, gap=gap, incumbent=best, node_limit=node_limit
        )
        nodes += report.nodes
        if complete and report.bound is not None and report.status != INFEASIBLE:
            bound = max(bound if bound is not None else -np.inf, report.bound)
        history.append(
            {
                "iteration": iterations,
                "status": report.status,
                "bound": report.bound,
                "cuts": problem.n_cuts,
                "seconds": round(report.seconds, 3),
            }
        )
        if report.status == INFEASIBLE:
            if best is not None and complete:
                status, message = OPTIMAL, "proven optimal (no plan beats the heuristic plan)"
                bound = best_value
            elif best is None:
                status, message = INFEASIBLE, _infeasible(adjacency)
            else:
                status, message = TIME_LIMIT, "the best plan found; the bound is the LP bound"
            break
        if not report.has_solution:
            status = TIME_LIMIT if report.status == TIME_LIMIT else ERROR
            message = f"solver stopped without a better plan ({report.raw_status})"
            break
        plan = problem.assignment(problem.values())
        n_pieces, added = (
            (0, 0) if adjacency is None else _cuts(problem, adjacency, plan, open_cols)
        )
        if n_pieces == 0:
            value = _value(model, plan)
            if best_value is None or value <= best_value + 1e-9 * max(1.0, abs(value)):
                best, best_value = plan, value
            proven = report.status == OPTIMAL and complete
            # optimal over the priced pairs only: a plan with a gap, time_limit below if the
            # clock then stops the bound
            status = OPTIMAL if proven else FEASIBLE if report.status == OPTIMAL else TIME_LIMIT
            if proven:
                message = "proven optimal"
                if gap == 0:
                    # the search proved that no plan of the fixed model beats this one, and the
                    # fixing only removed plans that cannot beat the incumbent; HiGHS's own dual
                    # bound can lag when the columns the incumbent used were fixed by probing
                    bound = best_value
            elif report.status == OPTIMAL:
                message = "optimal over the priced pairs; the bound is the full model's " + (
                    "LP bound" if ascent is None else "Lagrangian bound"
                )
            else:
                message = f"stopped by a limit ({report.raw_status})"
            break
        open_cols = np.concatenate([open_cols, np.ones(len(problem.pair_u) - len(open_cols), bool)])
        progress(
            "contiguity",
            f"round {iterations}: {n_pieces} stray pieces, {added} cuts ({problem.n_cuts} in all)",
        )
    left = deadline - time.perf_counter()
    if ascent is not None and best_value is not None and status != OPTIMAL and left > 2.0:
        # the MILP over the priced pairs ended early: the time left raises the bound, by
        # branching on the regions' centre counts in a greenfield design
        if model.greenfield and best is not None:
            more: LagrangianBound | RegionBound = region_bound(
                model, best, best_value, left - 1.0, ascent.multipliers, gap, progress
            )
        else:
            more = lagrangian_bound(model, best_value, left - 1.0, start=ascent.multipliers)
        if np.isfinite(more.bound) and (bound is None or more.bound > bound):
            bound = more.bound
            progress("bound", f"Lagrangian bound {bound:.6g} with the time left")
        if status == FEASIBLE and deadline - time.perf_counter() <= 1.0:
            status = TIME_LIMIT  # more time would have raised the bound further
    if best is None and status == OPTIMAL:
        status = ERROR
    if bound is not None and best_value is not None:
        bound = min(bound, best_value)
        status, message = _closed_status(status, message, best_value, bound, gap)
    return _result(
        best, status, best_value, bound, message, start, problem, iterations, nodes, history, fixing
    )


def _closed_status(
    status: str, message: str, value: float, bound: float, gap: float
) -> tuple[str, str]:
    """``optimal`` once the bound reaches the plan's value within ``gap``, as a MILP's would;
    otherwise the status and message as they are."""
    scale = max(abs(value), 1e-12)
    if status not in (FEASIBLE, TIME_LIMIT) or value - bound > max(gap, 1e-9) * scale:
        return status, message
    if value - bound <= 1e-9 * scale:
        return OPTIMAL, "proven optimal: the lower bound reaches the plan's value"
    return OPTIMAL, f"optimal within the {gap:.2%} gap asked for: the lower bound is that close"


def _lagrangian(
    model: Districting, lp: Priced, upper: float | None, seconds: float, progress: Progress
) -> LagrangianBound | None:
    """Pricing did not finish: a Lagrangian bound instead, from the last LP's duals."""
    target = upper if upper is not None else lp.value
    if target is None:
        return None
    found = lagrangian_bound(model, target, seconds, start=lp.duals)
    if not np.isfinite(found.bound):
        return None
    progress(
        "bound",
        f"pricing unfinished ({lp.status}); Lagrangian bound {found.bound:.6g} after "
        f"{found.iterations} steps",
    )
    return found


def _value(model: Districting, assignment: np.ndarray) -> float:
    return float(model.cost[np.arange(model.n_units), assignment].sum())


def _infeasible(adjacency) -> str:
    return (
        "no plan of whole units meets the bands"
        + (" with contiguous territories" if adjacency is not None else "")
        + " (proved by the MILP)"
    )


def _result(
    best, status, value, bound, message, start, problem, iterations, nodes, history, fixing
):
    return DistrictingResult(
        assignment=best,
        status=status,
        objective=value,
        lower_bound=bound,
        message=message,
        iterations=iterations,
        cuts=problem.n_cuts,
        nodes=nodes,
        seconds=time.perf_counter() - start,
        history=history,
        fixing=fixing,
    )
