"""From a fractional LP solution to an integral plan: round, then repair the bands greedily.

The LP leaves few split accounts (at most one per binding coupling row), so rounding each to its
largest share changes little, but it can push a rep out of its band. Repair moves single
accounts between candidate reps: first to remove band violations at the least cost per unit of
violation removed, then to cut cost without creating violations. Each round applies the best
moves that touch disjoint reps, so their effects add up exactly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from solvers.formulation import BalancedAssignment

MAX_ROUNDS = 2_000


@dataclass
class Loads:
    """Rep totals of a plan and its scaled violation of every coupling row."""

    potential: np.ndarray
    workload: np.ndarray
    moved: float


class Violation:
    """Scaled violation of the bands, capacities and moved cap (0 for a feasible plan)."""

    def __init__(self, model: BalancedAssignment) -> None:
        self.model = model
        t = model.tolerance
        self.p_lo, self.p_hi = (1 - t) * model.pot_target, (1 + t) * model.pot_target
        self.p_scale = np.maximum(model.pot_target, 1e-12)
        if model.work_target is not None and model.work_tolerance is not None:
            tw = model.work_tolerance
            self.w_lo, self.w_hi = (1 - tw) * model.work_target, (1 + tw) * model.work_target
            self.w_scale = np.maximum(model.work_target, 1e-12)
        else:
            self.w_lo = self.w_hi = self.w_scale = None  # type: ignore[assignment]
        self.cap = model.capacity
        self.cap_scale = np.where(np.isfinite(model.capacity), np.maximum(model.capacity, 1e-12), 1)
        self.m_scale = max(model.max_moved or 0.0, 1e-12)

    def rep(self, rep: np.ndarray, pot: np.ndarray, work: np.ndarray) -> np.ndarray:
        """Violation of rep ``rep`` if its loads were ``pot`` and ``work`` (vectorised)."""
        v = (np.maximum(self.p_lo[rep] - pot, 0) + np.maximum(pot - self.p_hi[rep], 0)) / (
            self.p_scale[rep]
        )
        if self.w_lo is not None:
            v = (
                v
                + (np.maximum(self.w_lo[rep] - work, 0) + np.maximum(work - self.w_hi[rep], 0))
                / self.w_scale[rep]
            )
        over = np.where(np.isfinite(self.cap[rep]), np.maximum(work - self.cap[rep], 0), 0)
        return v + over / self.cap_scale[rep]

    def moved(self, moved: float | np.ndarray) -> np.ndarray:
        if self.model.max_moved is None:
            return np.zeros_like(np.asarray(moved, dtype=float))
        return np.maximum(np.asarray(moved) - self.model.max_moved, 0) / self.m_scale

    def total(self, loads: Loads) -> float:
        reps = np.arange(self.model.n_reps)
        return float(
            self.rep(reps, loads.potential, loads.workload).sum() + self.moved(loads.moved)
        )


def loads_of(model: BalancedAssignment, assignment: np.ndarray) -> Loads:
    on = assignment >= 0
    k = model.n_reps
    pot = np.bincount(assignment[on], weights=model.potential[on], minlength=k)
    work = np.bincount(assignment[on], weights=model.workload[on], minlength=k)
    idx = np.flatnonzero(on)
    moved = float(model.potential[idx][model.is_move(idx, assignment[idx])].sum())
    return Loads(pot, work, moved)


def round_largest(
    n_accounts: int, pair_a: np.ndarray, pair_r: np.ndarray, x: np.ndarray
) -> np.ndarray:
    """Give each account to the rep holding its largest share (ties: lowest rep index)."""
    assignment = np.full(n_accounts, -1, dtype=np.int64)
    order = np.lexsort((pair_r, -x, pair_a))
    first = np.r_[True, pair_a[order][1:] != pair_a[order][:-1]]
    chosen = order[first]
    assignment[pair_a[chosen]] = pair_r[chosen]
    return assignment


def repair(
    model: BalancedAssignment,
    assignment: np.ndarray,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    pair_cost: np.ndarray,
    improve: bool = True,
    seconds: float = np.inf,
) -> np.ndarray:
    """Greedy single-account moves over the candidate pairs; returns a new assignment."""
    deadline = time.perf_counter() + seconds
    assignment = assignment.copy()
    viol = Violation(model)
    cost_of = np.full(model.n_accounts, np.nan)
    for _ in range(MAX_ROUNDS):
        if time.perf_counter() > deadline:
            break
        loads = loads_of(model, assignment)
        current = assignment[pair_a]
        cost_of[pair_a] = np.nan
        held = current == pair_r
        cost_of[pair_a[held]] = pair_cost[held]
        total = viol.total(loads)
        eps = 1e-12
        if total > eps:
            # only a move out of or into a rep that breaks a row (or one changing a broken
            # moved cap) can remove violation: the others are not scored
            broken = viol.rep(np.arange(model.n_reps), loads.potential, loads.workload) > eps
            touches = broken[current] | broken[pair_r]
            if model.max_moved is not None and viol.moved(loads.moved) > eps:
                touches = np.ones(len(pair_a), dtype=bool)
            cand = np.flatnonzero(~held & touches)
        elif improve:
            scale = 1e-9 * (np.abs(pair_cost[np.isfinite(pair_cost)]).mean() + 1.0)
            # only a move that cuts cost is scored (then it must not create violation)
            cand = np.flatnonzero(~held & (pair_cost - cost_of[pair_a] < -scale))
        else:
            break
        if len(cand) == 0:
            break
        a, r, old = pair_a[cand], pair_r[cand], current[cand]
        p, w = model.potential[a], model.workload[a]
        now = viol.rep(np.arange(model.n_reps), loads.potential, loads.workload)  # per rep
        d_viol = (
            viol.rep(old, loads.potential[old] - p, loads.workload[old] - w)
            - now[old]
            + viol.rep(r, loads.potential[r] + p, loads.workload[r] + w)
            - now[r]
        )
        d_moved = p * (model.is_move(a, r).astype(float) - model.is_move(a, old))
        d_viol = d_viol + viol.moved(loads.moved + d_moved) - viol.moved(loads.moved)
        d_cost = pair_cost[cand] - cost_of[a]
        if total > eps:
            useful = d_viol < -eps
            if not useful.any():
                break
            score = np.where(useful, d_cost / np.maximum(-d_viol, eps), np.inf)
        else:
            useful = d_viol <= eps
            if not useful.any():
                break
            score = np.where(useful, d_cost, np.inf)
        picked = disjoint_best(score, old, r, d_moved, model.max_moved is not None)
        if not picked:
            break
        assignment[a[picked]] = r[picked]
    return assignment


def disjoint_best(
    score: np.ndarray, old: np.ndarray, new: np.ndarray, d_moved: np.ndarray, capped: bool
) -> list[int]:
    """Best-scoring moves whose reps are all distinct, so their deltas add up exactly.

    The moved cap is a single global row: at most one move that changes it is taken per round.
    """
    order = np.argsort(score, kind="stable")
    order = order[np.isfinite(score[order])]
    if len(order) == 0:
        return []
    # a later move with the same reps (and the same effect on the moved cap) always finds
    # them taken: only the best move per such key can be picked, so the rest are dropped
    width = int(max(old.max(initial=0), new.max(initial=0))) + 2
    key = ((old[order] + 1) * width + new[order] + 1) * 2
    if capped:
        key = key + (d_moved[order] != 0)
    by_key = np.argsort(key, kind="stable")  # within a key, the best move stays first
    first = np.r_[True, key[by_key][1:] != key[by_key][:-1]]
    order = order[np.sort(by_key[first])]
    touched: set[int] = set()
    picked: list[int] = []
    moved_change_taken = False
    for j in order:
        o, n = int(old[j]), int(new[j])
        if o in touched or n in touched:
            continue
        if capped and d_moved[j] != 0:
            if moved_change_taken:
                continue
            moved_change_taken = True
        touched.update((o, n))
        picked.append(int(j))
    return picked
