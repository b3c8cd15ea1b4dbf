r"""A bound above the LP bound for large greenfield models: branching on how many centres
open in each region, with a Lagrangian bound per branch.

The LP relaxation of the p-median with bands opens centres fractionally and mixes whole
territories: on 1,000 US places (K = 10) it opens about 30 centres, around Los Angeles 1.2
territories' worth and around New York 2.5, and sits 2.7 % below the best plan found, while
its bound cannot be raised by any ascent (the Lagrangian of :mod:`solvers.districting_bound`
reaches it). With the number of open centres of every region required to be an integer it
closes: over the 35 most promising centres, integral counts of 8 regions took the LP bound
from 1.8274e13 to 1.87313e13, the value of the best plan's centres (by LP allocation).

Regions here are the territories of a plan (a centre belongs to the territory of its unit).
Every plan opens an integral number :math:`n_R` of centres in each region *R*, so the plans
split into branches :math:`lo_R \le n_R \le hi_R`; a branch's Lagrangian :math:`L` picks its K
centres within the counts (:class:`solvers.districting_bound.Counts`), so it bounds every plan
of the branch, and the least bound over the leaves bounds every plan. Branching is best
first, on the region whose averaged open count (the volume algorithm's approximate LP
solution) is farthest from an integer; a branch whose bound reaches the target (the plan's
value less the wanted gap) is not explored further, and its ascent stops there.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvers.districting import Districting
from solvers.districting_bound import Counts, lagrangian_bound

NODE_SECONDS = 20.0  # the most one branch's ascent may take
INTEGRAL = 0.02  # a region's averaged count this close to an integer is not branched on
Progress = Callable[[str, str], None]


@dataclass
class RegionBound:
    """The least bound over the leaves, and how many branches were solved and left open."""

    bound: float
    nodes: int
    open: int


def regions_of(model: Districting, plan: np.ndarray) -> np.ndarray:
    """Region of every candidate centre: the plan's territory (0..K-1) its unit is in."""
    assert model.centre_unit is not None
    territories = np.unique(plan)
    return np.searchsorted(territories, plan[model.centre_unit])


def region_bound(
    model: Districting,
    plan: np.ndarray,
    upper: float,
    seconds: float,
    start: np.ndarray | None = None,
    gap: float = 0.01,
    progress: Progress | None = None,
) -> RegionBound:
    """Best-first branching on the regions' counts until every leaf's bound reaches
    ``upper · (1 - gap)``, no branch can be split or ``seconds`` pass; the bound is valid for
    every plan of the full model whatever the reason it stopped."""
    progress = progress or (lambda phase, detail: None)
    deadline = time.perf_counter() + seconds
    region = regions_of(model, plan)
    n_regions = int(region.max()) + 1
    k = model.n_territories
    target = upper * (1 - gap)
    root = Counts(region, np.zeros(n_regions, np.int64), np.full(n_regions, k, np.int64))
    heap: list[tuple[float, int, Counts, np.ndarray, np.ndarray]] = []
    closed: list[float] = []  # bounds of the leaves that are not split further
    nodes = 0

    def solve(counts: Counts, lam: np.ndarray | None) -> None:
        nonlocal nodes
        left = deadline - time.perf_counter()
        found = lagrangian_bound(
            model, upper, min(NODE_SECONDS, max(left, 0.0)), lam, counts=counts, enough=target
        )
        nodes += 1
        opened = np.bincount(region, weights=found.opening, minlength=n_regions)
        if found.bound >= target or not np.isfinite(found.bound):
            closed.append(found.bound)
        else:
            heapq.heappush(heap, (found.bound, nodes, counts, found.multipliers, opened))

    solve(root, start)
    while heap and time.perf_counter() < deadline:
        bound, _, counts, lam, opened = heapq.heappop(heap)
        fraction = np.abs(opened - np.round(opened))
        fraction[counts.lo == counts.hi] = 0.0
        r = int(np.argmax(fraction))
        if fraction[r] <= INTEGRAL:
            closed.append(bound)  # nothing left to split on
            continue
        low, high = int(np.floor(opened[r])), int(np.ceil(opened[r]))
        for lo_r, hi_r in ((counts.lo[r], low), (high, counts.hi[r])):
            if lo_r > hi_r:
                continue
            lo, hi = counts.lo.copy(), counts.hi.copy()
            lo[r], hi[r] = lo_r, hi_r
            solve(Counts(region, lo, hi), lam)
        least = min([b for b, *_ in heap] + closed)
        progress("bound", f"regions: {nodes} branches, {len(heap)} open, bound {least:.6g}")
    leaves = [b for b, *_ in heap] + closed
    return RegionBound(min(leaves) if leaves else np.inf, nodes, len(heap))
