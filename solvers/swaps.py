r"""Cut a feasible plan's cost by swapping accounts between two reps.

Single moves (``repair.py``) stall once the bands bind: every rep sits near an edge of its band,
so giving an account away breaks it. A swap moves account *a* from rep *r* to *s* and account
*b* from *s* to *r*; the loads change only by :math:`\pm(p_a - p_b)` and
:math:`\pm(w_a - w_b)`, so two accounts of similar size can trade places where neither could
move alone. Its gain is :math:`(c_{ar} - c_{as}) + (c_{bs} - c_{br})`.

Each round takes, for every ordered pair of reps (r, s), the ``PER_DIRECTION`` cheapest moves
from r to s, pairs them with those from s to r, keeps the combinations that keep both reps (and
the moved cap) within their rows and gain, and applies the best ones touching disjoint reps, so
their effects add up exactly. When no swap gains, single cost-cutting moves get another turn
(swaps can open room for them), and the rounds stop when neither gains or after ``SWAP_ROUNDS``
(a work limit, not a clock, so the plan does not depend on the machine), or earlier when
``seconds`` would run out during the next round.
"""

from __future__ import annotations

import time

import numpy as np
from scipy.spatial import cKDTree

from solvers.formulation import BalancedAssignment
from solvers.keys import segment_ranks, unique_keys
from solvers.repair import Violation, disjoint_best, loads_of, repair

PER_DIRECTION = 24
SWAP_ROUNDS = 200
NEIGHBOUR_REPS = 12  # a broken rep and its nearest reps trade freely once swaps stall
WIDENINGS = 3


def improve_by_swaps(
    model: BalancedAssignment,
    assignment: np.ndarray,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    pair_cost: np.ndarray,
    seconds: float = np.inf,
) -> np.ndarray:
    """Swaps (and single moves) over the candidate pairs until none gains; a plan meeting every
    row stays so. A plan breaking rows is repaired first: swaps that remove violation, the
    least added cost per unit removed first (single moves alone cannot fix a workload band
    without breaking the potential band next to it)."""
    assignment = assignment.copy()
    k = model.n_reps
    viol = Violation(model)
    finite = np.isfinite(pair_cost)
    pair_a, pair_r, pair_cost = pair_a[finite], pair_r[finite], pair_cost[finite]
    tiny = 1e-9 * (float(np.abs(pair_cost).mean()) + 1.0) if len(pair_cost) else 0.0
    held_cost = np.full(model.n_accounts, np.nan)
    deadline = time.perf_counter() + seconds
    last_round = 0.0
    for _ in range(SWAP_ROUNDS):
        started = time.perf_counter()
        # a round over millions of pairs takes seconds: none starts that would end past the time
        if started + last_round > deadline:
            break
        loads = loads_of(model, assignment)
        broken = viol.rep(np.arange(k), loads.potential, loads.workload) > 1e-12
        repairing = viol.total(loads) > 1e-12
        current = assignment[pair_a]
        held = current == pair_r
        held_cost[:] = np.nan
        held_cost[pair_a[held]] = pair_cost[held]
        movable = ~held & (current >= 0)
        if repairing and model.max_moved is None:
            # only a swap touching a rep that breaks a row can remove violation
            movable &= broken[np.maximum(current, 0)] | broken[pair_r]
        move = np.flatnonzero(movable)
        if len(move) == 0:
            break
        delta = pair_cost[move] - held_cost[pair_a[move]]
        old, new = current[move], pair_r[move]
        # the PER_DIRECTION cheapest moves per ordered pair of reps
        direction = old.astype(np.int64) * k + new
        order = np.lexsort((delta, direction))
        direction_sorted = direction[order]
        first = np.r_[True, direction_sorted[1:] != direction_sorted[:-1]]
        start = np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))
        order = order[np.arange(len(order)) - start < PER_DIRECTION]
        move, delta, old, new = move[order], delta[order], old[order], new[order]
        x, y = _partners(old, new, k)
        if len(x) == 0:
            break
        ax, ay = pair_a[move[x]], pair_a[move[y]]
        r, s = old[x], new[x]
        dp = model.potential[ax] - model.potential[ay]
        dw = model.workload[ax] - model.workload[ay]
        after = viol.rep(r, loads.potential[r] - dp, loads.workload[r] - dw) + viol.rep(
            s, loads.potential[s] + dp, loads.workload[s] + dw
        )
        d_moved = (
            model.potential[ax] * (model.is_move(ax, s).astype(float) - model.is_move(ax, r))
        ) + model.potential[ay] * (model.is_move(ay, r).astype(float) - model.is_move(ay, s))
        after = after + viol.moved(loads.moved + d_moved)
        gain = delta[x] + delta[y]
        if repairing:
            now = viol.rep(r, loads.potential[r], loads.workload[r]) + viol.rep(
                s, loads.potential[s], loads.workload[s]
            )
            relief = now + viol.moved(loads.moved) - after
            useful = relief > 1e-12
            score = np.where(useful, gain / np.where(useful, relief, 1.0), np.inf)
        else:
            score = np.where((after <= 1e-12) & (gain < -tiny), gain, np.inf)
        capped = model.max_moved is not None
        picked = disjoint_best(score, r, s, d_moved, capped)
        if not picked:
            # single moves may open up again after swaps; stop once they do not either
            moved = repair(model, assignment, pair_a, pair_r, pair_cost, seconds=deadline - started)
            if (moved == assignment).all():
                break
            assignment = moved
            last_round = time.perf_counter() - started
            continue
        picked_arr = np.asarray(picked)
        assignment[ax[picked_arr]] = s[picked_arr]
        assignment[ay[picked_arr]] = r[picked_arr]
        last_round = time.perf_counter() - started
    return assignment


def swaps_widening(
    model: BalancedAssignment,
    assignment: np.ndarray,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    pair_cost: np.ndarray,
    seconds: float = np.inf,
) -> np.ndarray:
    """``improve_by_swaps``; while bands stay broken, every account on a broken rep or on one
    of its ``NEIGHBOUR_REPS`` nearest reps gets pairs to all of them, and swaps go again (at
    most ``WIDENINGS`` times). Candidate pairs priced for cost need not hold the trades a
    workload band needs; the reps next to a broken one do."""
    deadline = time.perf_counter() + seconds
    k = model.n_reps
    plan = improve_by_swaps(model, assignment, pair_a, pair_r, pair_cost, seconds)
    keys = unique_keys(pair_a.astype(np.int64) * k + pair_r)
    reps = model.costs.points()[1]
    tree = cKDTree(reps)
    viol = Violation(model)
    for _ in range(WIDENINGS):
        loads = loads_of(model, plan)
        broken = np.flatnonzero(viol.rep(np.arange(k), loads.potential, loads.workload) > 1e-12)
        if len(broken) == 0 or time.perf_counter() >= deadline:
            break
        near = tree.query(reps[broken], k=min(NEIGHBOUR_REPS, k))[1].reshape(len(broken), -1)
        group = np.repeat(np.arange(len(broken)), near.shape[1])
        order = np.argsort(near.ravel(), kind="stable")
        member, member_group = near.ravel()[order], group[order]
        on = np.flatnonzero(np.isin(plan, member))
        first = np.searchsorted(member, plan[on])
        count = np.searchsorted(member, plan[on], side="right") - first
        # each account on a neighbourhood's rep, with every rep of that neighbourhood
        which = member_group[np.repeat(first, count) + segment_ranks(count)]
        account = np.repeat(on, count)
        new_a = np.repeat(account, near.shape[1])
        new_r = near[which].ravel()
        new = unique_keys(new_a.astype(np.int64) * k + new_r)
        keys = unique_keys(np.concatenate([keys, new]))
        a, r = keys // k, keys % k
        cost = model.costs.cost(a, r)
        plan = improve_by_swaps(model, plan, a, r, cost, deadline - time.perf_counter())
    return plan


def _partners(old: np.ndarray, new: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every combination of a move r → s (r < s) with a move s → r, as index arrays."""
    forward = np.flatnonzero(old < new)
    backward = np.flatnonzero(old > new)
    key_f = old[forward].astype(np.int64) * k + new[forward]
    key_b = new[backward].astype(np.int64) * k + old[backward]
    forward = forward[np.argsort(key_f, kind="stable")]
    backward = backward[np.argsort(key_b, kind="stable")]
    key_f = old[forward].astype(np.int64) * k + new[forward]
    key_b = new[backward].astype(np.int64) * k + old[backward]
    lo = np.searchsorted(key_b, key_f, side="left")
    count = np.searchsorted(key_b, key_f, side="right") - lo
    x = np.repeat(forward, count)
    offset = np.arange(len(x)) - np.repeat(np.cumsum(count) - count, count)
    y = backward[np.repeat(lo, count) + offset]
    return x, y
