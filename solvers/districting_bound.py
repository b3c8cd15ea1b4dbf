r"""A lower bound of the districting model without its LP: Lagrangian relaxation of the
assignment rows, one continuous knapsack per centre.

Relax :math:`\sum_c x_{uc} = 1` with multipliers :math:`\lambda_u` (free signs). What is left
splits by centre: with reduced costs :math:`r_{uc} = d_{uc} - \lambda_u`, centre *c* (if open)
takes units to minimise :math:`\sum_u r_{uc} x_{uc}` within its potential band, and the model
opens the *K* centres of least value (every centre, with fixed centres). Dropping the other
rows (workload bands, capacity, integrality of :math:`x`) only lowers the value, so

.. math::

    L(\lambda) = \sum_u \lambda_u + \min_{|O| = K} \sum_{c \in O} v_c(\lambda), \qquad
    v_c = r_{u_c c} + \min \Big\{ \sum_{u \ne u_c} r_{uc} x_u :
        \ell_c \le p_{u_c} + \sum_{u \ne u_c} p_u x_u \le h_c,\; 0 \le x \le 1 \Big\}

is a lower bound of every plan's cost for any :math:`\lambda`. Each :math:`v_c` is a
continuous knapsack with two sides, solved exactly by taking units in increasing
:math:`r/p` up to the clipped weight (numpy over all centres at once). The volume algorithm
(averaged subgradients, Polyak steps towards a plan's value) raises :math:`L`; this is what
large instances report as their bound when the LP over all pairs is too slow to price out
(1,000 units have a million pairs). Its maximum is the LP bound: the knapsacks are continuous.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from solvers.districting import Districting

PATIENCE = 20  # steps without a better bound before the step factor shrinks
MIN_STEP = 1e-5  # the step factor at which the ascent stops
ALPHA = 0.1  # the most weight a new subgradient gets in the volume algorithm's average


@dataclass(frozen=True)
class Counts:
    """Bounds on how many centres open in each region (a branch of the region bound):
    ``lo[region[c]]`` to ``hi[region[c]]`` centres of each region."""

    region: np.ndarray  # region of each centre
    lo: np.ndarray
    hi: np.ndarray

    def select(self, values: np.ndarray, k: int) -> np.ndarray | None:
        """The K centres of least total value within the bounds (None when none exist): the
        ``lo`` cheapest of every region, then the cheapest others while their region has room;
        optimal because every region's choice is a prefix of its centres by value."""
        n_regions = len(self.lo)
        if (
            self.lo.sum() > k
            or np.minimum(self.hi, np.bincount(self.region, minlength=n_regions)).sum() < k
        ):
            return None
        order = np.lexsort((values, self.region))
        first = np.searchsorted(self.region[order], np.arange(n_regions))
        rank = np.empty(len(values), dtype=np.int64)
        rank[order] = np.arange(len(values)) - first[self.region[order]]
        mandatory = rank < self.lo[self.region]
        if (np.bincount(self.region[mandatory], minlength=n_regions) < self.lo).any():
            return None
        optional = np.flatnonzero(~mandatory & (rank < self.hi[self.region]))
        fill = optional[np.argsort(values[optional], kind="stable")][: k - int(mandatory.sum())]
        return np.sort(np.concatenate([np.flatnonzero(mandatory), fill]))


@dataclass
class LagrangianBound:
    """The best bound found, its multipliers and iterations."""

    bound: float
    multipliers: np.ndarray
    iterations: int
    opening: np.ndarray  # averaged open share of each centre (an approximate LP solution)


def _bands(model: Districting, cols: np.ndarray):
    """Each centre's band on the units other than its own, the own pair, and which pairs are
    free to choose."""
    m = model
    lo = (1 - m.tolerance) * m.pot_target[cols]
    hi = (1 + m.tolerance) * m.pot_target[cols]
    forced = np.zeros((m.n_units, len(cols)), dtype=bool)
    if m.centre_unit is not None:
        own = m.centre_unit[cols]
        lo, hi = lo - m.potential[own], hi - m.potential[own]
        forced[own, np.arange(len(cols))] = True
    return lo, hi, forced


def _knapsacks(
    model: Districting, reduced: np.ndarray, cols: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""For the centres ``cols``: knapsack values (``+inf`` when the band cannot be met),
    solutions (units × len(cols)) and the optimal prices :math:`\theta` of the band row."""
    m = model
    r = reduced[:, cols]
    lo, hi, forced = _bands(m, cols)
    base = np.where(forced, r, 0.0).sum(axis=0)
    usable = np.isfinite(r) & ~forced
    r = np.where(usable, r, 0.0)
    p = np.where(usable, m.potential[:, None].astype(float), 0.0)
    take_free = usable & (p <= 0) & (r < 0)  # no weight: taken when they pay
    base = base + np.where(take_free, r, 0.0).sum(axis=0)
    weighted = usable & (p > 0)
    ratio = np.where(weighted, r / np.where(p > 0, p, 1.0), np.inf)
    order = np.argsort(ratio, axis=0, kind="stable")
    rs = np.take_along_axis(r, order, axis=0)
    ps = np.take_along_axis(np.where(weighted, p, 0.0), order, axis=0)
    cum_p = np.cumsum(ps, axis=0)
    total = cum_p[-1]
    paying = np.where(weighted & (r < 0), p, 0.0).sum(axis=0)
    weight = np.clip(paying, np.maximum(lo, 0.0), np.maximum(hi, 0.0))
    room = (weight[None, :] - (cum_p - ps)) / np.where(ps > 0, ps, 1.0)
    share = np.where(ps > 0, np.clip(room, 0.0, 1.0), 0.0)
    value = base + (share * rs).sum(axis=0)
    value = np.where((total + 1e-9 * np.abs(lo) < lo) | (hi < -1e-9 * np.abs(hi)), np.inf, value)
    # the band's price: the ratio of the unit taken last, 0 when the band does not bind
    last = np.minimum((cum_p < weight[None, :] * (1 - 1e-12)).sum(axis=0), len(ps) - 1)
    critical = np.take_along_axis(np.take_along_axis(ratio, order, axis=0), last[None, :], 0)[0]
    binding = np.abs(weight - paying) > 1e-12 * np.maximum(np.abs(weight), 1.0)
    theta = np.where(binding & np.isfinite(critical), critical, 0.0)
    x = np.zeros(r.shape)
    np.put_along_axis(x, order, share, axis=0)
    return value, x + take_free + forced, theta


def _lower_values(model: Districting, reduced: np.ndarray, theta: np.ndarray) -> np.ndarray:
    r"""A lower bound of every centre's knapsack value from a price :math:`\theta` of its band
    row (LP duality: :math:`\theta\ell + \sum_u \min(0, r_u - \theta p_u)` for
    :math:`\theta \ge 0`, :math:`h` in place of :math:`\ell` below 0), no sorting needed."""
    cols = np.arange(model.n_centres)
    lo, hi, forced = _bands(model, cols)
    base = np.where(forced, reduced, 0.0).sum(axis=0)
    usable = np.isfinite(reduced) & ~forced
    slope = reduced - theta[None, :] * model.potential[:, None]
    pays = np.where(usable, np.minimum(slope, 0.0), 0.0).sum(axis=0)
    return base + pays + theta * np.where(theta >= 0, lo, hi)


def evaluate(
    model: Districting, multipliers: np.ndarray, theta: np.ndarray | None = None
) -> tuple[float, np.ndarray, np.ndarray]:
    r""":math:`L(\lambda)`, a subgradient (1 minus each unit's total share) and the band
    prices found. With ``theta`` (last round's prices) only the centres whose lower value
    could place them among the K cheapest are solved exactly; the others cannot change L."""
    value, grad, theta, _ = _evaluate(model, multipliers, theta)
    return value, grad, theta


def _evaluate(
    model: Districting,
    multipliers: np.ndarray,
    theta: np.ndarray | None = None,
    counts: Counts | None = None,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`evaluate`, and the centres it opens; with ``counts`` (every centre solved)
    the K centres open within the regions' bounds."""
    m = model
    reduced = m.cost - multipliers[:, None]
    k = m.n_territories if m.centre_unit is not None else m.n_centres
    theta = np.zeros(m.n_centres) if theta is None else theta.copy()
    if counts is not None:
        return _evaluate_counts(m, multipliers, reduced, theta, counts)
    exact = np.full(m.n_centres, np.nan)
    solutions: dict[int, np.ndarray] = {}
    if m.centre_unit is None or theta is None or not theta.any():
        todo = np.arange(m.n_centres)
        lower = np.full(m.n_centres, -np.inf)
    else:
        lower = _lower_values(m, reduced, theta)
        todo = np.argsort(lower, kind="stable")[: 2 * k]
    while len(todo):
        value, x, prices = _knapsacks(m, reduced, todo)
        exact[todo], theta[todo] = value, prices
        for i, c in enumerate(todo.tolist()):
            solutions[c] = x[:, i]
        known = np.flatnonzero(~np.isnan(exact))
        if len(known) < k:
            todo = np.argsort(np.where(np.isnan(exact), lower, np.inf), kind="stable")
            todo = todo[: 2 * k - len(known)]
            continue
        kth = np.sort(exact[known])[k - 1]
        todo = np.flatnonzero(np.isnan(exact) & (lower < kth))[: 4 * k]
    known = np.flatnonzero(~np.isnan(exact))
    chosen = known[np.argsort(exact[known], kind="stable")[:k]]
    if not np.all(np.isfinite(exact[chosen])):
        return np.inf, np.zeros(m.n_units), theta, chosen
    share = np.sum([solutions[c] for c in chosen.tolist()], axis=0)
    return float(multipliers.sum() + exact[chosen].sum()), 1.0 - share, theta, chosen


def _evaluate_counts(
    m: Districting,
    multipliers: np.ndarray,
    reduced: np.ndarray,
    theta: np.ndarray,
    counts: Counts,
) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_evaluate` within region counts. The selection over exact values where known
    and lower values elsewhere is at most the true one; once it picks only exactly solved
    centres it is the true one, so only the centres it picks are ever solved."""
    k = m.n_territories
    lower = _lower_values(m, reduced, theta) if theta.any() else np.full(m.n_centres, -np.inf)
    exact = np.full(m.n_centres, np.nan)
    solutions: dict[int, np.ndarray] = {}
    todo = np.argsort(lower, kind="stable")[: 2 * k]
    while True:
        if len(todo):
            value, x, prices = _knapsacks(m, reduced, todo)
            exact[todo], theta[todo] = value, prices
            for i, c in enumerate(todo.tolist()):
                solutions[c] = x[:, i]
        mixed = np.where(np.isnan(exact), lower, exact)
        chosen = counts.select(mixed, k)
        if chosen is None:
            return np.inf, np.zeros(m.n_units), theta, np.zeros(0, np.int64)
        todo = chosen[np.isnan(exact[chosen])]
        if len(todo) == 0:
            break
    if not np.all(np.isfinite(exact[chosen])):
        return np.inf, np.zeros(m.n_units), theta, chosen
    share = np.sum([solutions[c] for c in chosen.tolist()], axis=0)
    return float(multipliers.sum() + exact[chosen].sum()), 1.0 - share, theta, chosen


def lagrangian_bound(
    model: Districting,
    upper: float,
    seconds: float,
    start: np.ndarray | None = None,
    max_iterations: int = 100_000,
    counts: Counts | None = None,
    enough: float = np.inf,
) -> LagrangianBound:
    """Ascent on :math:`L` by the volume algorithm (Barahona and Anbil 2000) from ``start`` or
    each unit's second-cheapest cost, whichever bounds higher (LP duals of a partly priced
    model can bound very low).

    Plain subgradient steps zigzag here: at the dual optimum hundreds of centres tie for the
    K cheapest, and each step's subgradient follows one arbitrary K of them. The volume
    algorithm steps along an average of past subgradients (that is, of past solutions, so
    the average approximates an LP solution) and moves the stability centre only when
    :math:`L` rises. On 1,000 US places (K = 10) it reached 1.8248e13 in 40 s where plain
    subgradient stalled near 1.822e13; the LP bound is at most 1.8274e13 (the LP over the
    44 most promising centres only). Polyak steps towards ``upper`` (a plan's value); the
    step factor grows after improving steps and shrinks after :data:`PATIENCE` steps without
    one; stops at ``seconds``, ``max_iterations`` or a factor below :data:`MIN_STEP`.
    ``opening`` of the result: the averaged share of each centre among the K opened.
    ``counts``: the bound over the plans with those region counts only; ``enough``: stop
    once the bound reaches it."""
    deadline = time.perf_counter() + seconds
    finite = np.where(np.isfinite(model.cost), model.cost, np.inf)
    k = min(2, model.n_centres)
    second = np.partition(finite, k - 1, axis=1)[:, k - 1]
    lam = np.where(np.isfinite(second), second, 0.0)
    if start is not None and (
        _evaluate(model, start, counts=counts)[0] > _evaluate(model, lam, counts=counts)[0]
    ):
        lam = np.asarray(start, dtype=float).copy()
    value, direction, prices, chosen = _evaluate(model, lam, counts=counts)
    best = LagrangianBound(value, lam.copy(), 1, _indicator(model, chosen))
    factor, stale, it = 0.1, 0, 1
    while it < max_iterations and np.isfinite(best.bound) and factor >= MIN_STEP:
        if best.bound >= enough:
            break
        norm = float(direction @ direction)
        if norm <= 1e-18 or time.perf_counter() >= deadline:
            break
        it += 1
        gap = max(upper - best.bound, 1e-6 * abs(upper))
        trial = best.multipliers + factor * gap / norm * direction
        value, grad, prices, chosen = _evaluate(model, trial, prices, counts)
        if not np.isfinite(value):
            factor, stale = factor / 2, 0
            continue
        # the weight of the new subgradient: the one that shortens the average most
        change = grad - direction
        weight = -float(direction @ change) / max(float(change @ change), 1e-300)
        weight = min(max(weight, ALPHA / 10), ALPHA)
        direction = weight * grad + (1 - weight) * direction
        best.opening = weight * _indicator(model, chosen) + (1 - weight) * best.opening
        if value > best.bound:
            best.bound, best.multipliers = value, trial
            stale = 0
            if grad @ direction >= 0:
                factor = min(2.0, 1.1 * factor)
        else:
            stale += 1
            if stale >= PATIENCE:
                factor, stale = factor * 0.66, 0
    best.iterations = it
    return best


def _indicator(model: Districting, chosen: np.ndarray) -> np.ndarray:
    out = np.zeros(model.n_centres)
    out[chosen] = 1.0
    return out
