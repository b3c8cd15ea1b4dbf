"""A good contiguous plan for the exact model to start from: repair, local search, a small
MILP over the units near the territories' borders, then exact redesigns of neighbouring
territories.

1. The starting plan (any: the non-contiguous heuristic's, say) is repaired and balanced by the
   moves of :mod:`solvers.districting_local`, each checked to keep the territories connected.
2. **Border neighbourhood**: with the centres fixed, every unit may stay or join a territory
   within ``hops`` steps on the unit graph; all other pairs are forbidden (``+inf`` cost). This
   small model is solved exactly with contiguity cuts (:func:`solvers.districting.
   solve_districting`), from the current plan when it meets the bands, so it can only improve
   it; it restores the bands where single moves and swaps cannot. Local search again, and so
   on while the cost drops.
3. **Regrouping** (:func:`regroup`): the units of three neighbouring territories are designed
   again from scratch (their centres free) as a small exact greenfield model with contiguity;
   the rest of the plan stays, for at most a quarter of the time limit. On NC K=8 the
   border search gives 9.38473e8 and regrouping 9.16816e8 (the contiguous optimum is
   9.15715e8) in about 3 CPU seconds; the closer start lets probing close more centres before
   the exact MILP. Pairs before triples gave the same plan 2 CPU seconds later (a triple's
   redesign covers its pairs'). Stopping step 2 at the first plan within the bands saved
   2 CPU seconds on NC K=8 but left Georgia K=6 at 3.59e10 instead of 2.97e10.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import numpy as np
from scipy import sparse

from solvers.districting import Districting, restricted, solve_districting
from solvers.districting_local import EPS, LocalSearch
from territory.adjacency import Adjacency

Progress = Callable[[str, str], None]
REGROUP_SECONDS = 5.0  # at most, for one group's exact design (its best plan is kept)
REGROUP_SHARE = 0.25  # of the heuristic's time limit, for regrouping (Georgia K=6: nothing
# better in 29 s, triples of about 80 counties)


def border_model(
    model: Districting, adjacency: Adjacency, plan: np.ndarray, hops: int
) -> tuple[Districting, np.ndarray]:
    """The model restricted to ``plan``'s centres, each unit allowed in the territories
    within ``hops`` steps of it; returns it and the centres (its columns)."""
    centres = np.unique(plan)
    position = np.searchsorted(centres, plan)
    n = model.n_units
    step = adjacency.graph.astype(bool).tocsr() + sparse.identity(n, dtype=bool, format="csr")
    reach = sparse.csr_matrix(
        (np.ones(n, dtype=bool), (np.arange(n), position)), shape=(n, len(centres))
    )
    for _ in range(hops):
        reach = (step @ reach).astype(bool)
    sub = restricted(model, centres)
    if sub.work_target is None and model.capacity is not None:
        sub = dataclasses.replace(sub, capacity=model.capacity[centres])
    return dataclasses.replace(sub, cost=np.where(reach.toarray(), sub.cost, np.inf)), centres


def contiguous_incumbent(
    model: Districting,
    adjacency: Adjacency,
    start: np.ndarray,
    *,
    time_limit: float,
    hops: int = 2,
    solver: str = "HiGHS",
    progress: Progress | None = None,
) -> np.ndarray | None:
    """A contiguous plan meeting the bands, from ``start`` (a greenfield plan); None when
    none is found in ``time_limit``."""
    progress = progress or (lambda phase, detail: None)
    deadline = time.perf_counter() + time_limit
    best = _border_search(model, adjacency, start, deadline, hops, solver, progress)
    if best is None or model.n_territories <= 3:  # a triple would be the whole instance
        return best
    until = min(deadline, time.perf_counter() + REGROUP_SHARE * time_limit)
    return regroup(model, adjacency, best, until, solver=solver, progress=progress)


def _border_search(
    model: Districting,
    adjacency: Adjacency,
    start: np.ndarray,
    deadline: float,
    hops: int,
    solver: str,
    progress: Progress,
) -> np.ndarray | None:
    """Steps 1 and 2 of the module docstring: the best contiguous plan within the bands."""
    search = LocalSearch(model, adjacency, start)
    if not search.repair():
        return None
    search.improve(deadline)
    best: np.ndarray | None = None
    best_value = np.inf
    while True:
        plan, value = search.plan.copy(), search.objective()
        balanced = search.violation() <= EPS
        if balanced and value < best_value - 1e-9 * max(1.0, abs(value)):
            best, best_value = plan, value
            progress("heuristic", f"contiguous plan, cost {value:.6g}")
        elif balanced:
            return best  # the neighbourhood gave nothing better
        left = deadline - time.perf_counter()
        if left <= 0.5:
            return best
        sub, centres = border_model(model, adjacency, plan, hops)
        result = solve_districting(
            sub,
            solver=solver,
            time_limit=left,
            gap=0.0,
            adjacency=adjacency,
            incumbent=np.searchsorted(centres, plan) if balanced else None,
        )
        if result.assignment is None:
            return best
        search = LocalSearch(model, adjacency, centres[result.assignment])
        search.improve(deadline)


def _groups(adjacency: Adjacency, plan: np.ndarray, size: int) -> list[tuple[int, ...]]:
    """Sets of ``size`` territories (by centre) that are connected through shared borders,
    in a fixed order."""
    import itertools

    centres = np.unique(plan).tolist()
    graph = adjacency.graph.tocoo()
    touching = {
        (int(a), int(b))
        for a, b in zip(plan[graph.row].tolist(), plan[graph.col].tolist(), strict=True)
        if a != b
    }
    found = []
    for group in itertools.combinations(centres, size):
        linked = {group[0]}
        changed = True
        while changed:
            more = {b for a in linked for b in group if (a, b) in touching} - linked
            changed = bool(more)
            linked |= more
        if len(linked) == size:
            found.append(group)
    return found


def regroup(
    model: Districting,
    adjacency: Adjacency,
    plan: np.ndarray,
    deadline: float,
    *,
    sizes: tuple[int, ...] = (3,),
    solver: str = "HiGHS",
    progress: Progress | None = None,
) -> np.ndarray:
    """Improve a contiguous greenfield plan within the bands by designing groups of
    neighbouring territories again, exactly: for each group (triples by default), the
    greenfield model over the group's units with as many territories, candidate centres
    among those units and contiguity on the units' own graph, solved from the group's current
    plan. A better design replaces the group's territories (each contiguous, within its
    bands, so the whole plan stays feasible) and the sweep starts again; a unit set already
    tried is not solved twice (its optimum does not depend on the rest of the plan). A group
    as large as K is the whole instance. Stops at ``deadline``."""
    assert model.centre_unit is not None
    progress = progress or (lambda phase, detail: None)
    plan = plan.copy()
    value = float(model.cost[np.arange(model.n_units), plan].sum())
    tried: set[tuple[int, ...]] = set()
    for size in sizes:
        if size > model.n_territories:
            break
        restart = True
        while restart:
            restart = False
            for group in _groups(adjacency, plan, size):
                if time.perf_counter() >= deadline:
                    return plan
                units = np.flatnonzero(np.isin(plan, group))
                key = tuple(units.tolist())
                if key in tried:
                    continue
                tried.add(key)
                better = _redesign(model, adjacency, plan, units, deadline, solver)
                if better is None:
                    continue
                new_value = float(model.cost[np.arange(model.n_units), better].sum())
                if new_value < value - 1e-9 * max(1.0, abs(value)):
                    plan, value = better, new_value
                    progress("heuristic", f"regrouped {size} territories, cost {value:.6g}")
                    restart = True
                    break
    return plan


def _redesign(
    model: Districting,
    adjacency: Adjacency,
    plan: np.ndarray,
    units: np.ndarray,
    deadline: float,
    solver: str,
) -> np.ndarray | None:
    """``plan`` with the territories on ``units`` designed again (None if nothing came back)."""
    assert model.centre_unit is not None
    candidates = np.flatnonzero(np.isin(model.centre_unit, units))
    position = np.full(model.n_units, -1, dtype=np.int64)
    position[units] = np.arange(len(units))
    sub = Districting(
        cost=model.cost[np.ix_(units, candidates)],
        potential=model.potential[units],
        workload=model.workload[units],
        pot_target=model.pot_target[candidates],
        tolerance=model.tolerance,
        n_territories=len(np.unique(plan[units])),
        centre_unit=position[model.centre_unit[candidates]],
        work_target=None if model.work_target is None else model.work_target[candidates],
        work_tolerance=model.work_tolerance,
        capacity=None if model.capacity is None else model.capacity[candidates],
    )
    graph = adjacency.graph[units][:, units].tocsr()
    local = Adjacency(graph, adjacency.kind)
    start = np.searchsorted(candidates, plan[units])
    result = solve_districting(
        sub,
        solver=solver,
        time_limit=min(deadline - time.perf_counter(), REGROUP_SECONDS),
        gap=0.0,
        adjacency=local,
        incumbent=start,
    )
    if result.assignment is None:
        return None
    out = plan.copy()
    out[units] = candidates[result.assignment]
    return out
