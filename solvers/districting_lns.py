"""A good contiguous plan for the exact model to start from: repair, local search, and small
MILPs over the units near the territories' borders.

1. The starting plan (any: the non-contiguous heuristic's, say) is repaired and balanced by the
   moves of :mod:`solvers.districting_local`, each checked to keep the territories connected.
2. **Border neighbourhood**: with the centres fixed, every unit may stay or join a territory
   within ``hops`` steps on the unit graph; all other pairs are forbidden (``+inf`` cost). This
   small model is solved exactly with contiguity cuts (:func:`solvers.districting.
   solve_districting`), from the current plan when it meets the bands, so it can only improve
   it; it restores the bands where single moves and swaps cannot.
3. Local search again (centres move to their best unit), and so on while the cost drops.
   (Widening the neighbourhood when it gives nothing better found nothing on NC K=8 or
   Georgia K=6 and cost NC 10 s, so it does not.)
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
