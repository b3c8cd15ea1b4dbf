r"""Districting: whole units to territories, with balance bands and, optionally, contiguity.

Sets: units :math:`u \in U`, territory centres :math:`c \in C`. With fixed home bases (a rep
roster) every centre is a territory. In a greenfield design the centres are candidate units
:math:`c` sitting in unit :math:`u_c`, and the model opens :math:`K` of them (a p-median).

Data: cost :math:`d_{uc}` (weighted distance or squared distance, the Hess moment of inertia),
potential :math:`p_u`, workload :math:`w_u`, targets :math:`T_c, W_c`, tolerances
:math:`t, t_w`, capacity :math:`Q_c`. Variables: :math:`x_{uc} \in \{0, 1\}`, unit *u* in the
territory of centre *c*; in a greenfield design :math:`o_c = x_{u_c c}` says centre *c* is
open (for fixed centres :math:`o_c = 1`).

.. math::

    \min \; & \sum_{u, c} d_{uc} x_{uc} \\
    \text{assign}_u: \; & \sum_c x_{uc} = 1 && \forall u \\
    \text{count}: \; & \sum_c o_c = K && \text{(greenfield)} \\
    \text{link}_{u,c}: \; & x_{uc} \le o_c && \forall u \ne u_c \text{ (greenfield)} \\
    \text{pot\_lo}_c: \; & \sum_u p_u x_{uc} \ge (1 - t) T_c o_c && \forall c \\
    \text{pot\_hi}_c: \; & \sum_u p_u x_{uc} \le (1 + t) T_c o_c && \forall c \\
    \text{work\_lo}_c, \text{work\_hi}_c: \; & \text{the same with } w_u, W_c, t_w
        && \text{(when workload is balanced)} \\
    \text{cap}_c: \; & \sum_u w_u x_{uc} \le Q_c && \text{(fixed centres with a capacity)}

**Contiguity** (every territory one connected set of units) is imposed exactly by cut
generation on the a,b-separator inequalities of Validi, Buchanan and Lykhovyd (2022): solve,
find a territory in several pieces, and for each unit :math:`a` of a piece :math:`P` not holding
the territory's anchor :math:`b` (its centre unit, or its largest piece for fixed centres) add

.. math::

    \text{contiguity}_n: \; x_{ac} \le \sum_{s \in S} x_{sc} \quad\text{(greenfield, } b = u_c)
    \qquad x_{ac} + x_{bc} - 1 \le \sum_{s \in S} x_{sc} \quad\text{(fixed centres)}

where :math:`S` is a minimal vertex separator of :math:`P` and :math:`b`. Each cut is valid for
every contiguous plan, so every relaxation's bound is a lower bound of the contiguous optimum;
the loop ends when the solution is contiguous, which is then optimal for the full model. Cuts
beat a compact flow formulation on this objective in that study (tighter LP relaxation, fewer
variables); we re-solve rather than use lazy callbacks so that any PuLP MILP solver works.
With HiGHS the cost phase runs in one live HiGHS model instead (same rows and columns, cut rows
appended, incumbent handed back each round, pricing over all pairs on large instances): see
:mod:`solvers.districting_search`. There a greenfield model with contiguity also drops the
pairs out of reach of their centre and requires a neighbour in the territory for every unit
but the centre (:mod:`solvers.districting_reach`), which makes most MILP plans contiguous
before any cut; and a layer whose LP cannot be priced out in time reports a Lagrangian bound
(:mod:`solvers.districting_bound`), raised by branching on the regions' centre counts
(:mod:`solvers.districting_regions`). Contiguous starting plans come from
:mod:`solvers.districting_lns` (repair, connected moves, border MILPs, regrouping of
neighbouring territories); after reduced-cost fixing, greenfield candidate centres are probed
(:mod:`solvers.districting_probe`).

``widen`` replaces the tolerances by a variable :math:`\tau \ge 0` (workload :math:`\rho\tau`,
:math:`\rho = t_w / t`) and minimises it: the tightest balance any plan of whole units can reach.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pulp

from solvers.backends import (
    ERROR,
    INFEASIBLE,
    OPTIMAL,
    TIME_LIMIT,
    canonical_name,
    make_solver,
    run_solver,
)
from solvers.formulation import linear

Phase = Literal["cost", "widen"]
Backend = Literal["auto", "pulp", "highs"]
Progress = Callable[[str, str], None]


@dataclass(frozen=True)
class Districting:
    """One instance as arrays; ``+inf`` cost forbids a (unit, centre) pair."""

    cost: np.ndarray  # (units, centres)
    potential: np.ndarray
    workload: np.ndarray
    pot_target: np.ndarray  # per centre
    tolerance: float
    n_territories: int
    centre_unit: np.ndarray | None = None  # greenfield: unit of each candidate centre
    work_target: np.ndarray | None = None
    work_tolerance: float | None = None
    capacity: np.ndarray | None = None

    @property
    def n_units(self) -> int:
        return self.cost.shape[0]

    @property
    def n_centres(self) -> int:
        return self.cost.shape[1]

    @property
    def greenfield(self) -> bool:
        return self.centre_unit is not None

    @property
    def cost_scale(self) -> float:
        """Costs are divided by this in the solver, so coefficients sit near 1."""
        finite = self.cost[np.isfinite(self.cost) & (self.cost > 0)]
        return float(finite.mean()) if len(finite) else 1.0


@dataclass
class DistrictingResult:
    """A plan of units (centre position per unit) and what is proven about it."""

    assignment: np.ndarray | None
    status: str
    objective: float | None
    lower_bound: float | None
    message: str
    iterations: int = 0
    cuts: int = 0
    nodes: int = 0
    tau: float | None = None
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)
    fixing: dict | None = None

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.lower_bound is None:
            return None
        if self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.lower_bound) / abs(self.objective))


class DistrictingProblem:
    """The PuLP problem of one instance, with handles for reading plans and adding cuts."""

    def __init__(self, model: Districting, phase: Phase = "cost") -> None:
        self.model = model
        self.phase = phase
        self.prob = pulp.LpProblem("territory_districting", pulp.LpMinimize)
        finite = np.isfinite(model.cost)
        if model.greenfield:
            assert model.centre_unit is not None
            finite[model.centre_unit, np.arange(model.n_centres)] = True
        self.pair_u, self.pair_c = np.nonzero(finite)
        self.x = [
            self.prob.add_variable(f"x_{u}_{c}", cat=pulp.LpBinary)
            for u, c in zip(self.pair_u.tolist(), self.pair_c.tolist(), strict=True)
        ]
        self.index: dict[tuple[int, int], int] = {
            (u, c): k
            for k, (u, c) in enumerate(zip(self.pair_u.tolist(), self.pair_c.tolist(), strict=True))
        }
        self.n_cuts = 0
        self.tau = self.prob.add_variable("tau", lowBound=0) if phase == "widen" else None
        self._objective()
        self._rows()

    def var(self, u: int, c: int):
        return self.x[self.index[(int(u), int(c))]]

    def opened(self, c: int):
        """The open indicator of centre ``c`` (1 for fixed centres)."""
        if self.model.centre_unit is None:
            return None
        return self.var(self.model.centre_unit[c], c)

    def _objective(self) -> None:
        if self.tau is not None:
            self.prob.setObjective(linear([self.tau], [1.0]))
            return
        cost = self.model.cost[self.pair_u, self.pair_c]
        cost = np.where(np.isfinite(cost), cost, 0.0) / self.model.cost_scale
        self.prob.setObjective(linear(self.x, cost.tolist()))

    def _rows(self) -> None:
        m, prob = self.model, self.prob
        starts = np.flatnonzero(np.diff(self.pair_u, prepend=-1) != 0).tolist()
        ends = starts[1:] + [len(self.pair_u)]
        for s, e in zip(starts, ends, strict=True):
            prob.addConstraint(pulp.lpSum(self.x[s:e]) == 1, name=f"assign_{self.pair_u[s]}")
        if m.greenfield:
            assert m.centre_unit is not None
            opened = [self.opened(c) for c in range(m.n_centres)]
            prob.addConstraint(pulp.lpSum(opened) == m.n_territories, name="count")
            pairs = zip(self.pair_u.tolist(), self.pair_c.tolist(), strict=True)
            for k, (u, c) in enumerate(pairs):
                if u != m.centre_unit[c]:
                    prob.addConstraint(self.x[k] - opened[c] <= 0, name=f"link_{u}_{c}")
        by_centre = np.argsort(self.pair_c, kind="stable")
        bounds = np.searchsorted(self.pair_c[by_centre], np.arange(m.n_centres + 1))
        bands = [("pot", m.potential, m.pot_target, m.tolerance, 1.0)]
        if m.work_target is not None and m.work_tolerance is not None:
            ratio = m.work_tolerance / m.tolerance if m.tolerance > 0 else 1.0
            bands.append(("work", m.workload, m.work_target, m.work_tolerance, ratio))
        for c in range(m.n_centres):
            members = by_centre[bounds[c] : bounds[c + 1]].tolist()
            variables = [self.x[k] for k in members]
            for family, values, target, tol, ratio in bands:
                coefs = values[self.pair_u[members]].tolist()
                for side, sign in (("lo", -1.0), ("hi", 1.0)):
                    expr = linear(variables, coefs)
                    level = target[c] * (1 + sign * tol)
                    if self.tau is not None:
                        level = target[c]
                        expr = expr - sign * ratio * target[c] * self.tau
                    opened = self.opened(c)
                    if opened is not None:
                        expr = expr - level * opened
                        rhs = 0.0
                    else:
                        rhs = level
                    row = expr >= rhs if side == "lo" else expr <= rhs
                    prob.addConstraint(row, name=f"{family}_{side}_{c}")
            if m.capacity is not None and np.isfinite(m.capacity[c]):
                expr = linear(variables, m.workload[self.pair_u[members]].tolist())
                prob.addConstraint(expr <= float(m.capacity[c]), name=f"cap_{c}")

    def assignment(self) -> np.ndarray:
        """Centre position per unit from the solver's values."""
        values = np.array([v.varValue or 0.0 for v in self.x])
        out = np.full(self.model.n_units, -1, dtype=np.int64)
        best = np.full(self.model.n_units, -1.0)
        for u, c, value in zip(self.pair_u, self.pair_c, values, strict=True):
            if value > best[u]:
                best[u], out[u] = value, c
        return out

    def add_cut(self, piece: list[int], anchor: int, centre: int, separator: list[int]) -> int:
        """Contiguity cuts for every unit of a stray piece of ``centre``'s territory."""
        sep = [self.var(s, centre) for s in separator if (int(s), centre) in self.index]
        added = 0
        for a in piece:
            if (int(a), centre) not in self.index:
                continue
            lhs = self.var(a, centre)
            if not self.model.greenfield:
                lhs = lhs + self.var(anchor, centre) - 1
            self.n_cuts += 1
            self.prob.addConstraint(lhs - pulp.lpSum(sep) <= 0, name=f"contiguity_{self.n_cuts}")
            added += 1
        return added

    def objective_of(self, assignment: np.ndarray) -> float:
        return float(self.model.cost[np.arange(self.model.n_units), assignment].sum())

    def fix_by_reduced_cost(self, solver: str, time_limit: float, upper: float) -> dict | None:
        """Solve the LP relaxation and fix to 0 every pair that cannot be in a plan cheaper than
        ``upper`` (LP bound + reduced cost above it). Returns the LP record, or None when the LP
        did not solve."""
        report = run_solver(self.prob, make_solver(solver, mip=False, time_limit=time_limit))
        if report.status != OPTIMAL or report.objective is None:
            return None
        bound = report.objective
        limit = upper / self.model.cost_scale - bound
        reduced = np.array([v.dj or 0.0 for v in self.x])
        fixed = np.flatnonzero(reduced > limit + 1e-9 * max(1.0, abs(upper)))
        for k in fixed.tolist():
            self.x[k].upBound = 0
        return {
            "lp_bound": bound * self.model.cost_scale,
            "pairs": len(self.x),
            "fixed_by_reduced_cost": int(len(fixed)),
            "seconds": round(report.seconds, 3),
        }


def _stray_pieces(adjacency, model: Districting, assignment: np.ndarray):
    """(piece, anchor, centre) for every piece of a territory that is cut off from its anchor."""
    from territory.adjacency import territory_parts

    for centre in np.unique(assignment).tolist():
        pieces = territory_parts(adjacency, assignment, centre)
        if len(pieces) <= 1:
            continue
        if model.centre_unit is not None:
            anchor = int(model.centre_unit[centre])
            stray = [p for p in pieces if anchor not in p]
        else:
            anchor = pieces[0][0]
            stray = pieces[1:]
        for piece in stray:
            yield piece, anchor, centre


def solve_districting(
    model: Districting,
    *,
    solver: str = "HiGHS",
    time_limit: float = 120.0,
    gap: float = 0.0,
    adjacency=None,
    phase: Phase = "cost",
    incumbent: np.ndarray | None = None,
    progress: Progress | None = None,
    backend: Backend = "auto",
    node_limit: int | None = None,
) -> DistrictingResult:
    """Solve to proven optimality (within ``gap``) or until ``time_limit``.

    With ``adjacency`` every territory must be contiguous (cut loop, see the module docstring).
    ``incumbent``: a feasible plan (contiguous when required). Its value prunes the model before
    the MILP: pairs whose LP reduced cost lifts the LP bound above it are fixed to 0, so the MILP
    only searches for strictly better plans; finding none proves the incumbent optimal.

    ``backend``: ``"auto"`` keeps the cost phase with HiGHS in one live HiGHS model
    (:mod:`solvers.districting_highs`), everything else goes through PuLP; ``"pulp"`` and
    ``"highs"`` force one. ``node_limit`` caps each MILP's branch-and-bound nodes (a work
    limit that repeats, unlike time).
    """
    if backend == "highs" or (
        backend == "auto" and phase == "cost" and canonical_name(solver) == "HiGHS"
    ):
        if phase != "cost":
            raise ValueError("the live HiGHS model has no widening phase")
        from solvers.districting_search import solve_live

        return solve_live(
            model,
            time_limit=time_limit,
            gap=gap,
            adjacency=adjacency,
            incumbent=incumbent,
            progress=progress,
            node_limit=node_limit,
        )
    from territory.adjacency import separator

    progress = progress or (lambda phase, detail: None)
    start = time.perf_counter()
    problem = DistrictingProblem(model, phase)
    best = incumbent
    best_value = problem.objective_of(incumbent) if incumbent is not None else None
    bound: float | None = None
    fixing: dict | None = None
    if best_value is not None and phase == "cost":
        fixing = problem.fix_by_reduced_cost(solver, time_limit / 4, best_value)
        if fixing is not None:
            bound = fixing["lp_bound"]
            progress(
                "prune",
                f"LP bound {fixing['lp_bound']:.6g}; {fixing['fixed_by_reduced_cost']:,} of "
                f"{fixing['pairs']:,} unit-centre pairs cannot beat the heuristic plan",
            )
    iterations, nodes = 0, 0
    history: list[dict] = []
    status, message = ERROR, "no plan found"
    while True:
        left = time_limit - (time.perf_counter() - start)
        if left <= 0.5:
            status, message = TIME_LIMIT, "time limit reached during the contiguity loop"
            break
        iterations += 1
        report = run_solver(
            problem.prob,
            make_solver(
                solver, mip=True, time_limit=left, gap=gap, gap_abs=1e-9, node_limit=node_limit
            ),
        )
        nodes += report.nodes or 0
        scale = 1.0 if phase == "widen" else model.cost_scale
        if report.bound is not None and report.status != INFEASIBLE:
            bound = max(bound if bound is not None else -np.inf, report.bound * scale)
        history.append(
            {
                "iteration": iterations,
                "status": report.status,
                "bound": None if report.bound is None else report.bound * scale,
                "cuts": problem.n_cuts,
                "seconds": round(report.seconds, 3),
            }
        )
        if report.status == INFEASIBLE:
            if fixing is not None and best_value is not None:
                status, message = OPTIMAL, "proven optimal (no plan beats the heuristic plan)"
                bound = best_value
            else:
                status = INFEASIBLE
                message = (
                    "no plan of whole units meets the bands"
                    + (" with contiguous territories" if adjacency is not None else "")
                    + " (proved by the MILP)"
                )
                best, best_value = None, None
            break
        if not report.has_solution:
            status = TIME_LIMIT if report.status == TIME_LIMIT else ERROR
            message = f"solver stopped without a better plan ({report.raw_status})"
            break
        plan = problem.assignment()
        stray = list(_stray_pieces(adjacency, model, plan)) if adjacency is not None else []
        if phase == "widen":
            value = float(problem.tau.varValue or 0.0) if problem.tau is not None else 0.0
        else:
            value = problem.objective_of(plan)
        if not stray:
            if best_value is None or value <= best_value + 1e-9 * max(1.0, abs(value)):
                best, best_value = plan, value
            status = OPTIMAL if report.status == OPTIMAL else TIME_LIMIT
            message = (
                "proven optimal"
                if status == OPTIMAL
                else f"stopped by the time limit ({report.raw_status})"
            )
            if phase == "widen" and status == OPTIMAL:
                bound = value
            break
        added = 0
        for piece, anchor, centre in stray:
            added += problem.add_cut(piece, anchor, centre, separator(adjacency, piece, anchor))
        progress(
            "contiguity",
            f"round {iterations}: {len(stray)} stray pieces, {added} cuts "
            f"({problem.n_cuts} in all)",
        )
    if best is None and status == OPTIMAL:
        status = ERROR
    if status == OPTIMAL and bound is not None and best_value is not None:
        bound = min(bound, best_value)
    return DistrictingResult(
        assignment=best,
        status=status,
        objective=best_value if phase == "cost" else None,
        lower_bound=bound if phase == "cost" else None,
        message=message,
        iterations=iterations,
        cuts=problem.n_cuts,
        nodes=nodes,
        tau=best_value if phase == "widen" else None,
        seconds=time.perf_counter() - start,
        history=history,
        fixing=fixing,
    )


def greedy_centres(model: Districting) -> np.ndarray:
    """K candidate centres by the greedy p-median rule (each step adds the centre that lowers
    the sum of every unit's cheapest open-centre cost most); deterministic."""
    cost = np.where(np.isfinite(model.cost), model.cost, np.inf)
    best = np.full(model.n_units, np.inf)
    chosen: list[int] = []
    for _ in range(model.n_territories):
        with np.errstate(invalid="ignore"):
            totals = np.where(np.isfinite(best)[:, None], np.minimum(best[:, None], cost), cost)
        score = np.where(np.isfinite(totals), totals, 1e300).sum(axis=0)
        score[chosen] = np.inf
        pick = int(np.argmin(score))
        chosen.append(pick)
        best = np.minimum(best, cost[:, pick])
    return np.array(sorted(chosen), dtype=np.int64)


def restricted(model: Districting, centres: np.ndarray) -> Districting:
    """The same instance with only ``centres`` as candidates, all of them open."""
    assert model.centre_unit is not None
    return Districting(
        cost=model.cost[:, centres],
        potential=model.potential,
        workload=model.workload,
        pot_target=model.pot_target[centres],
        tolerance=model.tolerance,
        n_territories=len(centres),
        centre_unit=model.centre_unit[centres],
        work_target=None if model.work_target is None else model.work_target[centres],
        work_tolerance=model.work_tolerance,
    )


def lp_centres(model: Districting, time_limit: float) -> np.ndarray | None:
    """The K candidate centres most open in the LP relaxation (ties: cheaper first); None
    when the LP does not solve in time. The LP sees the balance bands, which the greedy
    p-median rule ignores."""
    from solvers.districting_highs import HighsDistricting

    problem = HighsDistricting(model)
    report = problem.solve(integer=False, time_limit=time_limit)
    if report.status != OPTIMAL:
        return None
    opened = problem.values()[problem.own]
    return np.sort(np.argsort(-opened, kind="stable")[: model.n_territories])


def _alternate(
    model: Districting,
    centres: np.ndarray,
    solver: str,
    deadline: float,
    rounds: int,
    progress: Progress,
    gap: float = 0.005,
) -> tuple[np.ndarray | None, float]:
    """Hess's alternation from ``centres``: the best plan met and its cost (each allocation
    within ``gap`` of the best for its centres)."""
    best: np.ndarray | None = None
    best_value = np.inf
    seen: set[tuple[int, ...]] = set()
    for round_number in range(1, rounds + 1):
        key = tuple(centres.tolist())
        left = deadline - time.perf_counter()
        if key in seen or left <= 0.5:
            break
        seen.add(key)
        sub = restricted(model, centres)
        result = solve_districting(sub, solver=solver, time_limit=left, gap=gap)
        if result.assignment is None:
            break
        plan = centres[result.assignment]
        value = float(model.cost[np.arange(model.n_units), plan].sum())
        progress("heuristic", f"round {round_number}: centres {len(centres)}, cost {value:.6g}")
        if value < best_value - 1e-9 * max(1.0, value):
            best, best_value = plan, value
        moved = []
        for c in np.unique(plan).tolist():
            members = np.flatnonzero(plan == c)
            assert model.centre_unit is not None
            candidates = np.flatnonzero(np.isin(model.centre_unit, members))
            totals = model.cost[np.ix_(members, candidates)].sum(axis=0)
            moved.append(int(candidates[int(np.argmin(totals))]))
        centres = np.array(sorted(moved), dtype=np.int64)
    return best, best_value


def locate_allocate(
    model: Districting,
    *,
    solver: str = "HiGHS",
    time_limit: float = 30.0,
    adjacency=None,
    rounds: int = 10,
    progress: Progress | None = None,
) -> np.ndarray | None:
    """A good greenfield plan by Hess's alternation: fix K centres, allocate units to them
    (balanced: a small MILP), move each centre to the unit of its territory with the least
    cost, repeat until the centres stop moving. It starts from the LP relaxation's most open
    centres when the model is small enough to hold every pair (on NC and Georgia counties a
    better start than the greedy p-median centres, which are the start otherwise). On larger
    models the alternation first runs with LP allocations from the greedy and 16 seeded starts
    (:mod:`solvers.districting_multistart`), and the best centres get exact allocations.

    With ``adjacency`` the alternation runs without contiguity on half the time, and its plan
    is made contiguous by :func:`solvers.districting_lns.contiguous_incumbent` (repair,
    connected moves, border MILPs): far faster than allocating with contiguity cuts in every
    round."""
    from solvers.districting_search import PRICED_PAIRS

    progress = progress or (lambda phase, detail: None)
    start = time.perf_counter()
    deadline = start + (0.5 if adjacency is not None else 1.0) * time_limit
    from_lp = None
    large = np.isfinite(model.cost).sum() > PRICED_PAIRS
    if not large:
        from_lp = lp_centres(model, 0.25 * time_limit)
    starts = [from_lp] if from_lp is not None else [greedy_centres(model)]
    gap = 0.005
    if large:  # the alternation with LP allocations from many starts, then exact allocations
        from solvers.districting_multistart import STARTS, best_centres, seeded_starts

        many, value = best_centres(
            model, starts + seeded_starts(model, STARTS), start + 0.6 * (deadline - start)
        )
        progress("heuristic", f"{STARTS + 1} starts by LP allocation: best {value:.6g}")
        starts, gap = ([many] if many is not None else []) + starts, 1e-4
    best: np.ndarray | None = None
    best_value = np.inf
    for i, centres in enumerate(starts):
        if large and best is not None:
            break  # the greedy start is only the fallback of the seeded ones
        now = time.perf_counter()  # each start gets an equal share of the time left
        until = deadline if large else now + (deadline - now) / (len(starts) - i)
        plan, value = _alternate(model, centres, solver, until, rounds, progress, gap)
        if plan is not None and value < best_value - 1e-9 * max(1.0, value):
            best, best_value = plan, value
    if adjacency is None or best is None:
        return best
    from solvers.districting_lns import contiguous_incumbent

    return contiguous_incumbent(
        model,
        adjacency,
        best,
        time_limit=time_limit - (time.perf_counter() - start),
        solver=solver,
        progress=progress,
    )
