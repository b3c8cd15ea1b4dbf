"""A contiguous, balanced plan fast: repair the pieces of a plan, then border local search.

The exact model proves optimality best from a good contiguous incumbent (its value prunes
pairs by reduced cost and every MILP round only looks for strictly better plans), but a MILP
with contiguity cuts is a slow way to *find* one. This module builds one by plain moves on the
unit graph, every move checked to keep the territories connected:

1. **Repair**: every piece of a territory cut off from its anchor (the centre unit in a
   greenfield design, the largest piece otherwise) joins the adjacent territory that costs
   least. The number of pieces drops with every move, so this ends, with every territory
   connected.
2. **Local search**: moves of one border unit to an adjacent territory, swaps of two border
   units between adjacent territories, and (greenfield) moving a territory's centre to another
   of its units; a move is taken when it lowers the band violation, or keeps it and lowers the
   cost (lexicographic, so balance is restored first). A move is only taken when the territory
   that gives a unit stays connected (breadth-first search on its remaining units); the one
   that receives a unit next to it stays connected by construction.

Plans are centre positions per unit, as in :mod:`solvers.districting`.
"""

from __future__ import annotations

import time
from collections import deque

import numpy as np

from solvers.districting import Districting
from territory.adjacency import Adjacency, territory_parts

EPS = 1e-12


def connected_without(
    neighbours: list[list[int]],
    members: set[int],
    removed: int,
    added: int | None = None,
) -> bool:
    """Whether ``members - {removed} + {added}`` is one connected piece (empty counts)."""
    rest = set(members)
    rest.discard(removed)
    if added is not None:
        rest.add(added)
    if not rest:
        return True
    first = next(iter(rest))
    seen = {first}
    todo = deque([first])
    while todo:
        u = todo.popleft()
        for v in neighbours[u]:
            if v in rest and v not in seen:
                seen.add(v)
                todo.append(v)
    return len(seen) == len(rest)


class _Bands:
    """Band violation of each territory, relative to its target (0 inside every band)."""

    def __init__(self, model: Districting) -> None:
        m = self.model = model
        self.families: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        scale = np.where(m.pot_target > 0, m.pot_target, 1.0)
        self.families.append(
            (
                m.potential,
                (1 - m.tolerance) * m.pot_target,
                (1 + m.tolerance) * m.pot_target,
                scale,
            )
        )
        if m.work_target is not None and m.work_tolerance is not None:
            wscale = np.where(m.work_target > 0, m.work_target, 1.0)
            self.families.append(
                (
                    m.workload,
                    (1 - m.work_tolerance) * m.work_target,
                    (1 + m.work_tolerance) * m.work_target,
                    wscale,
                )
            )
        if m.capacity is not None:
            cap = np.where(np.isfinite(m.capacity), m.capacity, np.inf)
            cscale = np.where(np.isfinite(cap) & (cap > 0), cap, 1.0)
            self.families.append((m.workload, np.full(m.n_centres, -np.inf), cap, cscale))

    def totals(self, plan: np.ndarray) -> list[np.ndarray]:
        n = self.model.n_centres
        return [np.bincount(plan, weights=f[0], minlength=n).astype(float) for f in self.families]

    def of(self, totals: list[float], c: int) -> float:
        """Violation of centre ``c`` holding ``totals`` (one value per family)."""
        out = 0.0
        for value, (_, lo, hi, scale) in zip(totals, self.families, strict=True):
            if value < lo[c]:
                out += (lo[c] - value) / scale[c]
            elif value > hi[c]:
                out += (value - hi[c]) / scale[c]
        return out


class LocalSearch:
    """State of one plan under moves that keep every territory connected."""

    def __init__(self, model: Districting, adjacency: Adjacency, plan: np.ndarray) -> None:
        self.model = model
        self.cost = model.cost
        self.plan = np.asarray(plan, dtype=np.int64).copy()
        graph = adjacency.graph
        self.neighbours = [
            graph.indices[graph.indptr[u] : graph.indptr[u + 1]].tolist()
            for u in range(model.n_units)
        ]
        self.adjacency = adjacency
        self.bands = _Bands(model)
        self.values = [f[0] for f in self.bands.families]
        self.members: dict[int, set[int]] = {}
        for u, c in enumerate(self.plan.tolist()):
            self.members.setdefault(c, set()).add(u)
        totals = self.bands.totals(self.plan)
        self.totals = {c: [float(t[c]) for t in totals] for c in self.members}
        self.balancing = False
        self._objective = 0.0
        self.pinned = np.zeros(model.n_units, dtype=bool)
        if model.centre_unit is not None:
            self.pinned[model.centre_unit[list(self.members)]] = True

    # ----- measures ----------------------------------------------------------------------------

    def violation(self) -> float:
        return sum(self.bands.of(t, c) for c, t in self.totals.items())

    def objective(self) -> float:
        return float(self.cost[np.arange(self.model.n_units), self.plan].sum())

    def _shifted(self, c: int, units: list[int], sign: float) -> list[float]:
        return [
            t + sign * float(sum(v[u] for u in units))
            for t, v in zip(self.totals[c], self.values, strict=True)
        ]

    # ----- repair ------------------------------------------------------------------------------

    def repair(self) -> bool:
        """Give every stray piece to its cheapest adjacent territory; False when a piece has
        no adjacent territory it may join (finite cost)."""
        m = self.model
        while True:
            moved = False
            for c in sorted(self.members):
                pieces = territory_parts(self.adjacency, self.plan, c)
                if len(pieces) <= 1:
                    continue
                if m.centre_unit is not None:
                    anchor = int(m.centre_unit[c])
                    stray = [p for p in pieces if anchor not in p]
                else:
                    stray = pieces[1:]
                for piece in stray:
                    targets = {int(self.plan[v]) for u in piece for v in self.neighbours[u]} - {c}
                    options = [
                        (float(self.cost[piece, t].sum()), t)
                        for t in sorted(targets)
                        if np.isfinite(self.cost[piece, t]).all()
                    ]
                    if not options:
                        return False
                    self._move(piece, c, min(options)[1])
                    moved = True
                    break  # pieces of c changed: recompute
            if not moved:
                return True

    def _move(self, units: list[int], source: int, target: int) -> None:
        self.totals[source] = self._shifted(source, units, -1.0)
        self.totals[target] = self._shifted(target, units, 1.0)
        for u in units:
            self.members[source].discard(u)
            self.members[target].add(u)
            self.plan[u] = target

    # ----- moves -------------------------------------------------------------------------------

    def _gain(self, changes: dict[int, list[float]]) -> float:
        """Violation change when the centres in ``changes`` take the given totals."""
        return sum(
            self.bands.of(new, c) - self.bands.of(self.totals[c], c) for c, new in changes.items()
        )

    def _spread(self, changes: dict[int, list[float]]) -> float:
        """Change of the squared distance to target (potential), relative: the balancing
        measure, which moves weight from heavy to light territories even before the
        band violation can drop."""
        target = self.model.pot_target
        out = 0.0
        for c, new in changes.items():
            scale = target[c] if target[c] > 0 else 1.0
            before = (self.totals[c][0] - target[c]) / scale
            out += ((new[0] - target[c]) / scale) ** 2 - before**2
        return out

    def _score(self, changes: dict[int, list[float]]) -> float:
        """What a move changes first: the squared spread while balancing, else the violation."""
        if self.balancing:
            return self._spread(changes)
        return self._gain(changes)

    def _better(self, dv: float, dc: float) -> bool:
        scale = 1e-12 * max(1.0, abs(self._objective))
        return dv < -EPS or (dv <= EPS and dc < -scale)

    def try_single(self, u: int) -> bool:
        """Move border unit ``u`` to the adjacent territory that improves most, if any."""
        if self.pinned[u]:
            return False
        s = int(self.plan[u])
        targets = sorted({int(self.plan[v]) for v in self.neighbours[u]} - {s})
        best: tuple[float, float, int] | None = None
        for t in targets:
            dc = float(self.cost[u, t] - self.cost[u, s])
            if not np.isfinite(dc):
                continue
            dv = self._score({s: self._shifted(s, [u], -1.0), t: self._shifted(t, [u], 1.0)})
            if self._better(dv, dc) and (best is None or (dv, dc) < best[:2]):
                best = (dv, dc, t)
        if best is None or not connected_without(self.neighbours, self.members[s], u):
            return False
        self._move([u], s, best[2])
        self._objective += best[1]
        return True

    def try_swaps(self, u: int) -> bool:
        """Swap border unit ``u`` with a unit of an adjacent territory next to ``u``'s own."""
        if self.pinned[u]:
            return False
        s = int(self.plan[u])
        targets = sorted({int(self.plan[v]) for v in self.neighbours[u]} - {s})
        for t in targets:
            # units of t bordering s, other than t's pinned centre
            candidates = sorted(
                {
                    v
                    for w in self.members[s]
                    for v in self.neighbours[w]
                    if self.plan[v] == t and not self.pinned[v]
                }
            )
            for v in candidates:
                dc = float(self.cost[u, t] + self.cost[v, s] - self.cost[u, s] - self.cost[v, t])
                if not np.isfinite(dc):
                    continue
                new_s = [a - x[u] + x[v] for a, x in zip(self.totals[s], self.values, strict=True)]
                new_t = [a - x[v] + x[u] for a, x in zip(self.totals[t], self.values, strict=True)]
                dv = self._score({s: new_s, t: new_t})
                if not self._better(dv, dc):
                    continue
                if not connected_without(self.neighbours, self.members[s], u, v):
                    continue
                if not connected_without(self.neighbours, self.members[t], v, u):
                    continue
                self._move([u], s, t)
                self._move([v], t, s)
                self._objective += dc
                return True
        return False

    def try_recentre(self, c: int) -> bool:
        """Greenfield: move territory ``c``'s centre to the unit of it that improves most."""
        m = self.model
        if m.centre_unit is None:
            return False
        members = np.array(sorted(self.members[c]), dtype=np.int64)
        inside = np.zeros(m.n_units, dtype=bool)
        inside[members] = True
        candidates = np.flatnonzero(inside[m.centre_unit])
        candidates = candidates[~np.isin(candidates, list(self.members))]
        if len(candidates) == 0:
            return False
        totals = self.cost[np.ix_(members, candidates)].sum(axis=0)
        current = float(self.cost[members, c].sum())
        old_v = self.bands.of(self.totals[c], c)
        best: tuple[float, float, int] | None = None
        for k in np.argsort(totals, kind="stable").tolist():
            dc = float(totals[k]) - current
            if not np.isfinite(dc):
                break
            cand = int(candidates[k])
            dv = 0.0 if self.balancing else self.bands.of(self.totals[c], cand) - old_v
            if self._better(dv, dc) and (best is None or (dv, dc) < best[:2]):
                best = (dv, dc, cand)
        if best is None:
            return False
        new = best[2]
        self.members[new] = self.members.pop(c)
        self.totals[new] = self.totals.pop(c)
        self.plan[members] = new
        self.pinned[m.centre_unit[c]] = False
        self.pinned[m.centre_unit[new]] = True
        self._objective += best[1]
        return True

    def improve(self, deadline: float) -> None:
        """Balance first (squared spread down until every band holds), then lower the cost
        keeping the bands; passes of recentring, single moves and swaps until none improves
        or time is up."""
        self._objective = self.objective()
        self.balancing = self.violation() > EPS
        while self.balancing and time.perf_counter() < deadline:
            if not self._pass(deadline) or self.violation() <= EPS:
                self.balancing = False
        if self.violation() > EPS:
            return
        while time.perf_counter() < deadline and self._pass(deadline):
            pass

    def _pass(self, deadline: float) -> bool:
        changed = False
        for c in sorted(self.members):
            changed |= self.try_recentre(c)
        border = [
            u
            for u in range(self.model.n_units)
            if any(self.plan[v] != self.plan[u] for v in self.neighbours[u])
        ]
        for u in border:
            if time.perf_counter() >= deadline:
                break
            if not any(self.plan[v] != self.plan[u] for v in self.neighbours[u]):
                continue  # no longer on a border after earlier moves
            if self.try_single(u) or self.try_swaps(u):
                changed = True
                if self.balancing and self.violation() <= EPS:
                    break
        return changed


def contiguous_plan(
    model: Districting,
    adjacency: Adjacency,
    start: np.ndarray,
    time_limit: float = 10.0,
) -> np.ndarray | None:
    """A contiguous plan from ``start`` (any plan), balanced when the moves can reach the
    bands; None when it stays outside them (or a piece cannot be joined to a neighbour)."""
    deadline = time.perf_counter() + time_limit
    search = LocalSearch(model, adjacency, start)
    if not search.repair():
        return None
    search.improve(deadline)
    if search.violation() > EPS:
        return None
    return search.plan
