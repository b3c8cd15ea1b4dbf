"""Centres for a large greenfield districting model: Hess's alternation from many seeded starts,
each allocation an LP.

On 1,000 units Hess's alternation with an exact allocation per round (a MILP over units ×
10 centres) takes 7–10 s a round and was cut off by its round limit before it settled (plan
1.8875e13 on ``places1000``). The LP relaxation of the same allocation takes about 0.2 s and
leaves a handful of units split (8 of 1,000 on that instance), so the alternation runs on LP
values instead, to convergence, from many starts; only the best centres get an exact
allocation at the end (:func:`solvers.districting.locate_allocate`). Starts are drawn by the
k-means++ rule on the cost (each next centre with probability proportional to the cost of the
units to their nearest chosen centre) from a fixed seed, so runs repeat. On ``places1000``
the alternations settle on a few local optima; the best (1.8731e13 by LP) is reached from
about a third of the starts.
"""

from __future__ import annotations

import time

import numpy as np

from solvers.backends import OPTIMAL
from solvers.districting import Districting, restricted

STARTS = 16  # seeded starts on a large model
ROUNDS = 30  # alternation rounds per start (each start stops earlier once centres repeat)


def allocate_lp(model: Districting, centres: np.ndarray, time_limit: float):
    """The LP value of allocating every unit to ``centres`` within the bands, and the plan of
    each unit's largest share (it may miss a band by the few split units); None when the LP
    has no solution in time."""
    from solvers.districting_highs import HighsDistricting

    problem = HighsDistricting(restricted(model, centres))
    report = problem.solve(integer=False, time_limit=time_limit)
    if report.status != OPTIMAL or report.objective is None:
        return None
    return report.objective, centres[problem.assignment(problem.values())]


def medoids(model: Districting, plan: np.ndarray) -> np.ndarray:
    """For every territory of ``plan``, the candidate centre among its units that serves its
    units at least cost (Hess's relocation step)."""
    assert model.centre_unit is not None
    moved = []
    for c in np.unique(plan).tolist():
        members = np.flatnonzero(plan == c)
        candidates = np.flatnonzero(np.isin(model.centre_unit, members))
        if len(candidates) == 0:
            moved.append(int(c))
            continue
        totals = model.cost[np.ix_(members, candidates)].sum(axis=0)
        moved.append(int(candidates[int(np.argmin(totals))]))
    return np.array(sorted(set(moved)), dtype=np.int64)


def seeded_starts(model: Districting, count: int, seed: int = 0) -> list[np.ndarray]:
    """``count`` sets of K candidate centres by the k-means++ rule on the cost (the first by
    potential); a unit no chosen centre can serve weighs as much as the farthest served."""
    assert model.centre_unit is not None
    rng = np.random.default_rng(seed)
    cost = np.where(np.isfinite(model.cost), model.cost, np.inf)
    starts = []
    for _ in range(count):
        weight = np.maximum(model.potential, 0.0).astype(float)
        nearest = np.full(model.n_units, np.inf)
        chosen: list[int] = []
        for _ in range(model.n_territories):
            p = weight[model.centre_unit]
            p[chosen] = 0.0
            if p.sum() > 0:
                pick = int(rng.choice(model.n_centres, p=p / p.sum()))
            else:
                pick = int(rng.choice(np.setdiff1d(np.arange(model.n_centres), chosen)))
            chosen.append(pick)
            nearest = np.minimum(nearest, cost[:, pick])
            served = np.isfinite(nearest)
            far = float(nearest[served].max()) if served.any() else 1.0
            weight = np.where(served, nearest, far)
        starts.append(np.array(sorted(chosen), dtype=np.int64))
    return starts


def best_centres(
    model: Districting, starts: list[np.ndarray], deadline: float, rounds: int = ROUNDS
) -> tuple[np.ndarray | None, float]:
    """The centres of least LP allocation value met by the alternation from every start
    (starts cut short by ``deadline``), and that value."""
    best: np.ndarray | None = None
    best_value = np.inf
    for centres in starts:
        seen: set[tuple[int, ...]] = set()
        for _ in range(rounds):
            key = tuple(centres.tolist())
            left = deadline - time.perf_counter()
            if key in seen or left <= 0.1 or len(centres) != model.n_territories:
                break
            seen.add(key)
            found = allocate_lp(model, centres, left)
            if found is None:
                break
            value, plan = found
            if value < best_value - 1e-9 * max(1.0, abs(value)):
                best, best_value = centres, value
            centres = medoids(model, plan)
        if time.perf_counter() >= deadline:
            break
    return best, best_value
