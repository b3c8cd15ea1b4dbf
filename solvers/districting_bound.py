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
:math:`r/p` up to the clipped weight (numpy over all centres at once). Subgradient steps with a
Polyak target raise :math:`L`; this is what large instances report as their bound when the LP
over all pairs is too slow to price out (1,000 units have a million pairs).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from solvers.districting import Districting


@dataclass
class LagrangianBound:
    """The best bound found, its multipliers and iterations."""

    bound: float
    multipliers: np.ndarray
    iterations: int


def _knapsacks(
    model: Districting, reduced: np.ndarray, centres: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Value of every centre's knapsack (``+inf`` when its band cannot be met) and, when
    ``centres`` is given, their solutions (units × len(centres))."""
    m = model
    cols = np.arange(m.n_centres) if centres is None else centres
    r = reduced[:, cols].copy()
    p = np.broadcast_to(m.potential[:, None], r.shape).astype(float).copy()
    lo = (1 - m.tolerance) * m.pot_target[cols]
    hi = (1 + m.tolerance) * m.pot_target[cols]
    base = np.zeros(len(cols))
    forced = np.zeros(r.shape, dtype=bool)
    if m.centre_unit is not None:
        own = m.centre_unit[cols]
        pos = np.arange(len(cols))
        base = r[own, pos].copy()
        lo, hi = lo - m.potential[own], hi - m.potential[own]
        forced[own, pos] = True
    usable = np.isfinite(r) & ~forced
    r = np.where(usable, r, 0.0)
    p = np.where(usable, p, 0.0)
    free = usable & (p <= 0)  # no weight: taken when they pay
    take_free = free & (r < 0)
    base = base + np.where(take_free, r, 0.0).sum(axis=0)
    weighted = usable & (p > 0)
    ratio = np.where(weighted, r / np.where(p > 0, p, 1.0), np.inf)
    order = np.argsort(ratio, axis=0, kind="stable")
    rs = np.take_along_axis(np.where(weighted, r, 0.0), order, axis=0)
    ps = np.take_along_axis(np.where(weighted, p, 0.0), order, axis=0)
    cum_p = np.cumsum(ps, axis=0)
    total = cum_p[-1] if len(cum_p) else np.zeros(len(cols))
    paying = np.where(weighted & (r < 0), p, 0.0).sum(axis=0)
    weight = np.clip(paying, np.maximum(lo, 0.0), np.maximum(hi, 0.0))
    room = (weight[None, :] - (cum_p - ps)) / np.where(ps > 0, ps, 1.0)
    share = np.where(ps > 0, np.clip(room, 0.0, 1.0), 0.0)
    value = base + (share * rs).sum(axis=0)
    value = np.where((total + 1e-9 * np.abs(lo) < lo) | (hi < -1e-9 * np.abs(hi)), np.inf, value)
    if centres is None:
        return value, None
    x = np.zeros(r.shape)
    np.put_along_axis(x, order, share, axis=0)
    x = x + take_free + forced
    return value, x


def evaluate(model: Districting, multipliers: np.ndarray) -> tuple[float, np.ndarray]:
    """:math:`L(\\lambda)` and a subgradient (1 minus each unit's total share)."""
    reduced = model.cost - multipliers[:, None]
    value, _ = _knapsacks(model, reduced)
    if model.centre_unit is not None:
        k = model.n_territories
        chosen = np.argsort(value, kind="stable")[:k]
    else:
        chosen = np.arange(model.n_centres)
    if not np.all(np.isfinite(value[chosen])):
        return np.inf, np.zeros(model.n_units)
    _, x = _knapsacks(model, reduced, chosen)
    assert x is not None
    return float(multipliers.sum() + value[chosen].sum()), 1.0 - x.sum(axis=1)


def lagrangian_bound(
    model: Districting,
    upper: float,
    seconds: float,
    start: np.ndarray | None = None,
    max_iterations: int = 500,
) -> LagrangianBound:
    """Subgradient ascent on :math:`L` from ``start`` (default: each unit's second-cheapest
    cost), Polyak steps towards ``upper`` (a plan's value), the step halved after 20 rounds
    without progress; stops at ``seconds``, ``max_iterations`` or a tiny step."""
    deadline = time.perf_counter() + seconds
    if start is None:
        finite = np.where(np.isfinite(model.cost), model.cost, np.inf)
        k = min(2, model.n_centres)
        start = np.partition(finite, k - 1, axis=1)[:, k - 1]
        start = np.where(np.isfinite(start), start, 0.0)
    lam = np.asarray(start, dtype=float).copy()
    best = LagrangianBound(-np.inf, lam.copy(), 0)
    theta, stale = 1.0, 0
    for it in range(1, max_iterations + 1):
        value, grad = evaluate(model, lam)
        if value > best.bound:
            best = LagrangianBound(value, lam.copy(), it)
            stale = 0
        else:
            stale += 1
            if stale >= 20:
                theta, stale = theta / 2, 0
        norm = float(grad @ grad)
        if not np.isfinite(value) or norm <= 0 or theta < 1e-4:
            break
        if time.perf_counter() >= deadline:
            break
        gap = max(upper - value, 1e-6 * abs(upper))
        lam = lam + theta * gap / norm * grad
    best.iterations = it
    return best
