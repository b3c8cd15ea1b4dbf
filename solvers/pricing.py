r"""Dual prices of the coupling rows, the Lagrangian lower bound, and pricing of missing pairs.

With duals :math:`y_i` of the coupling rows (sign-feasible: :math:`y \ge 0` on :math:`\ge`
rows, :math:`y \le 0` on :math:`\le` rows), relaxing those rows leaves one independent choice per
account, so for *every* allowed pair, not only the candidates,

.. math:: L(y) = \sum_a \min_r \big(c_{ar} - \textstyle\sum_i y_i g_{i,ar}\big)
                 + \sum_i y_i h_i

is a lower bound on the full model (LP and MILP alike), where :math:`g_{i,ar}` is the pair's
coefficient in row *i* and :math:`h_i` the row's right-hand side. A pair whose reduced cost
:math:`c_{ar} - u_a - \sum_i y_i g_{i,ar}` is negative (:math:`u_a` the dual of
:math:`\text{assign}_a`) can improve the LP and is added to the candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvers.formulation import BalancedAssignment, BuiltProblem, Phase, Row
from solvers.keys import contains, unique_keys


@dataclass(frozen=True)
class Duals:
    """Duals aggregated per rep and kind of coefficient."""

    assign: np.ndarray  # u_a (0 for accounts without a row)
    potential: np.ndarray  # sum of y over rows whose coefficient is p_a, per rep
    workload: np.ndarray  # same for w_a (workload bands and capacity)
    moved: float  # y of the max_moved row
    rhs_term: float  # sum_i y_i h_i


def aggregate_duals(
    model: BalancedAssignment,
    assign_accounts: np.ndarray,
    assign_duals: np.ndarray,
    rows: list[Row],
    row_duals: np.ndarray,
) -> Duals:
    """Duals per account and per rep and kind, clipped to their valid signs.

    Works for any back-end: it takes the raw duals of the ``assign`` rows and of the coupling
    rows (in the order of ``rows``), already in our objective's units.
    """
    u = np.zeros(model.n_accounts)
    u[assign_accounts] = assign_duals
    senses = np.array([row.sense == ">=" for row in rows], dtype=bool)
    y = np.where(senses, np.maximum(row_duals, 0.0), np.minimum(row_duals, 0.0))
    rhs = np.array([row.rhs for row in rows], dtype=float)
    kinds = np.array([row.kind for row in rows])
    reps = np.array([row.rep for row in rows], dtype=np.int64)
    y_pot = np.zeros(model.n_reps)
    y_work = np.zeros(model.n_reps)
    np.add.at(y_pot, reps[kinds == "potential"], y[kinds == "potential"])
    np.add.at(y_work, reps[kinds == "workload"], y[kinds == "workload"])
    y_moved = float(y[kinds == "moved"].sum())
    return Duals(u, y_pot, y_work, y_moved, float(y @ rhs) if len(rows) else 0.0)


def read_duals(model: BalancedAssignment, built: BuiltProblem) -> Duals:
    """Duals of the last PuLP solve."""
    scale = built.objective_scale
    accounts = np.fromiter(built.assign.keys(), dtype=np.int64, count=len(built.assign))
    assign = np.array([(c.pi or 0.0) * scale for c in built.assign.values()], dtype=float)
    row_duals = np.array([float(c.pi or 0.0) * scale for _, c in built.rows], dtype=float)
    return aggregate_duals(model, accounts, assign, [row for row, _ in built.rows], row_duals)


SPATIAL_GROUPS = 8  # reps split by price level for the ball queries of spatial pricing
# accounts per round of ball queries: at most this many pairs (accounts × reps) at once, so
# that wild prices (budgets reaching every rep) cannot hold a large share of all pairs at once
PRICING_CHUNK_PAIRS = 25_000_000


@dataclass(frozen=True)
class PricingResult:
    bound: float  # -inf when the pass was stopped early (``complete`` False)
    new_a: np.ndarray
    new_r: np.ndarray
    most_negative: float
    complete: bool = True  # every pair was priced: no new pairs then means none prices out


def reduced_costs_block(
    model: BalancedAssignment, duals: Duals, a: np.ndarray, costs: np.ndarray, phase: Phase
) -> np.ndarray:
    """Pair costs minus the coupling-row prices, ``+inf`` on forbidden pairs (before u_a)."""
    if phase != "cost":
        costs = np.where(np.isfinite(costs), 0.0, np.inf)
    priced = (
        costs
        - model.potential[a, None] * duals.potential[None, :]
        - model.workload[a, None] * duals.workload[None, :]
    )
    if duals.moved:
        moved = model.moved_matrix(a, model.n_reps)
        priced = priced - duals.moved * model.potential[a, None] * moved
    return priced


def price(
    model: BalancedAssignment,
    duals: Duals,
    phase: Phase,
    in_set: np.ndarray,
    per_account: int = 3,
    tolerance: float = 1e-9,
    out_of_time: Callable[[], bool] = lambda: False,
) -> PricingResult:
    """Lagrangian bound over all allowed pairs and the most negative missing pairs.

    ``in_set`` holds the sorted keys ``a * K + r`` of the current candidates.
    ``out_of_time`` is asked between blocks of accounts: a pass it stops keeps the pairs found
    so far but has no bound (``complete`` False).
    """
    if phase == "cost" and len(in_set):
        spatial = _price_spatial(model, duals, in_set, per_account, tolerance, out_of_time)
        if spatial is not None:
            return spatial
    k = model.n_reps
    bound = duals.rhs_term
    new_a: list[np.ndarray] = []
    new_r: list[np.ndarray] = []
    most_negative = 0.0
    complete = True
    for a, costs in model.costs.blocks():
        if out_of_time():
            complete = False
            break
        active = model.active[a]
        if not active.any():
            continue
        a, costs = a[active], costs[active]
        priced = reduced_costs_block(model, duals, a, costs, phase)
        bound += float(priced.min(axis=1).sum())
        rc = priced - duals.assign[a, None]
        scale = tolerance * (1.0 + np.abs(duals.assign[a, None]))
        negative = rc < -scale
        if not negative.any():
            continue
        rows, cols = np.nonzero(negative)
        keys = a[rows].astype(np.int64) * k + cols
        fresh = ~contains(in_set, keys)
        rows, cols, keys = rows[fresh], cols[fresh], keys[fresh]
        if len(keys) == 0:
            continue
        values = rc[rows, cols]
        most_negative = min(most_negative, float(values.min()))
        order = np.lexsort((cols, values, rows))  # per account, most negative first
        rows, cols = rows[order], cols[order]
        first = np.r_[True, rows[1:] != rows[:-1]]
        rank = np.arange(len(rows)) - np.maximum.accumulate(
            np.where(first, np.arange(len(rows)), 0)
        )
        keep = rank < per_account
        new_a.append(a[rows[keep]])
        new_r.append(cols[keep])
    cat_a = np.concatenate(new_a) if new_a else np.zeros(0, np.int64)
    cat_r = np.concatenate(new_r) if new_r else np.zeros(0, np.int64)
    return PricingResult(bound if complete else -np.inf, cat_a, cat_r, most_negative, complete)


def _price_spatial(
    model: BalancedAssignment,
    duals: Duals,
    in_set: np.ndarray,
    per_account: int,
    tolerance: float,
    out_of_time: Callable[[], bool],
) -> PricingResult | None:
    r"""Exact pricing without visiting every pair: only pairs near enough can price out.

    Let :math:`m_a` be account *a*'s cheapest reduced cost over its candidates (before
    :math:`u_a`) and :math:`t_a = \max(m_a, u_a)`. A missing pair changes the bound or prices
    out only if :math:`c_{ar} < t_a + p_a Y^p_r + w_a Y^w_r` (the moved price only adds), so
    with the reps split into groups by price and :math:`Y_g` the group's largest prices, a ball
    query per group with budget :math:`t_a + p_a Y^p_g + w_a Y^w_g` on the cost's distance
    lower bound (``PairCosts.cheap_pairs``) finds every such pair. Same bound and pairs as the
    dense pass.
    """
    cheap = getattr(model.costs, "cheap_pairs", None)
    if cheap is None:
        return None
    k = model.n_reps
    cand_a, cand_r = in_set // k, in_set % k
    reduced = _reduced(model, duals, cand_a, cand_r, model.costs.cost(cand_a, cand_r))
    m = np.full(model.n_accounts, np.inf)
    np.minimum.at(m, cand_a, reduced)
    accounts = np.flatnonzero(model.active & np.isfinite(m))
    if len(accounts) < int(model.active.sum()):
        return None  # an account without candidates: the dense pass covers it
    # pairs below m_a change the bound, pairs below u_a price out: search up to the larger
    top = np.maximum(m[accounts], duals.assign[accounts])
    p_mean = float(model.potential[accounts].mean())
    w_mean = float(model.workload[accounts].mean())
    order = np.argsort(-(duals.potential * p_mean + duals.workload * w_mean), kind="stable")
    groups = [g for g in np.array_split(order, min(SPATIAL_GROUPS, k)) if len(g)]
    best = m.copy()
    new_a, new_r, most_negative = [], [], 0.0
    per_chunk = max(1, PRICING_CHUNK_PAIRS // max(k, 1))
    chunks = max(1, -(-len(accounts) // per_chunk))
    complete = True
    for chunk in np.array_split(np.arange(len(accounts)), chunks):
        if out_of_time():
            complete = False
            break
        found = _cheap_missing(model, cheap, duals, in_set, accounts[chunk], top[chunk], groups)
        if found is None:
            return None
        a, r, rc = found
        np.minimum.at(best, a, rc)
        rel = rc - duals.assign[a]
        negative = rel < -tolerance * (1.0 + np.abs(duals.assign[a]))
        a, r, rel = a[negative], r[negative], rel[negative]
        if len(rel):
            most_negative = min(most_negative, float(rel.min()))
        order = np.lexsort((r, rel, a))
        a, r = a[order], r[order]
        first = np.r_[True, a[1:] != a[:-1]] if len(a) else np.zeros(0, bool)
        rank = np.arange(len(a)) - np.maximum.accumulate(np.where(first, np.arange(len(a)), 0))
        new_a.append(a[rank < per_account])
        new_r.append(r[rank < per_account])
    bound = duals.rhs_term + float(best[accounts].sum()) if complete else -np.inf
    # per account, most negative first; the chunks follow the account order
    cat_a = np.concatenate(new_a) if new_a else np.zeros(0, np.int64)
    cat_r = np.concatenate(new_r) if new_r else np.zeros(0, np.int64)
    return PricingResult(bound, cat_a, cat_r, most_negative, complete)


def _cheap_missing(
    model: BalancedAssignment,
    cheap: Callable[..., tuple[np.ndarray, np.ndarray] | None],
    duals: Duals,
    in_set: np.ndarray,
    accounts: np.ndarray,
    top: np.ndarray,
    groups: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Missing pairs of ``accounts`` whose reduced cost may be below ``top``, with it."""
    k = model.n_reps
    p, w = model.potential[accounts], model.workload[accounts]
    found_a, found_r = [], []
    for group in groups:
        budget = top + p * duals.potential[group].max() + w * duals.workload[group].max()
        near = cheap(accounts, budget * (1 + 1e-9) + 1e-9, group)
        if near is None:
            return None
        keys = near[0].astype(np.int64) * k + near[1]
        fresh = ~contains(in_set, keys)
        found_a.append(near[0][fresh])
        found_r.append(near[1][fresh])
    a, r = np.concatenate(found_a), np.concatenate(found_r)
    rc = _reduced(model, duals, a, r, model.costs.cost(a, r))
    ok = np.isfinite(rc)
    return a[ok], r[ok], rc[ok]


def _reduced(
    model: BalancedAssignment, duals: Duals, a: np.ndarray, r: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """Reduced cost of pairs before :math:`u_a` (``+inf`` stays for forbidden pairs)."""
    p = model.potential[a]
    value = cost - p * duals.potential[r] - model.workload[a] * duals.workload[r]
    if duals.moved:
        value = value - duals.moved * p * model.is_move(a, r)
    return value


def reduced_cost(
    model: BalancedAssignment, duals: Duals, a: np.ndarray, r: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """Reduced cost of pairs at ``duals``, :math:`u_a` included (at an LP optimum over all
    pairs none is negative)."""
    return _reduced(model, duals, a, r, cost) - duals.assign[a]


def pairs_below(
    model: BalancedAssignment, duals: Duals, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """Every allowed pair whose reduced cost is at most ``threshold`` (reduced-cost fixing)."""
    k = model.n_reps
    out_a, out_r = [], []
    for a, costs in model.costs.blocks():
        active = model.active[a]
        a, costs = a[active], costs[active]
        rc = reduced_costs_block(model, duals, a, costs, "cost") - duals.assign[a, None]
        rows, cols = np.nonzero(rc <= threshold)
        out_a.append(a[rows])
        out_r.append(cols)
    if not out_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    a_all, r_all = np.concatenate(out_a), np.concatenate(out_r)
    keys = unique_keys(a_all.astype(np.int64) * k + r_all)
    return keys // k, keys % k


def all_pairs(model: BalancedAssignment, limit: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Every allowed pair of the active accounts, or None when there are more than ``limit``."""
    k = model.n_reps
    out_a, out_r, count = [], [], 0
    for a, costs in model.costs.blocks():
        active = model.active[a]
        rows, cols = np.nonzero(np.isfinite(costs[active]))
        count += len(rows)
        if count > limit:
            return None
        out_a.append(a[active][rows])
        out_r.append(cols)
    if not out_a:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = unique_keys(np.concatenate(out_a).astype(np.int64) * k + np.concatenate(out_r))
    return keys // k, keys % k
