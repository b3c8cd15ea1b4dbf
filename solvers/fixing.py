r"""Shrink a large LP with near-optimal prices: fix the accounts whose rep is clear.

1. **Prices.** :func:`solvers.dual.smoothed_ascent` over the candidate pairs, then pricing
   over *all* pairs (``pricing.price``): pairs that undercut an account's cheapest candidate at
   these prices join, and the ascent resumes at a lower temperature (``DUAL_SCHEDULE``). Each
   pricing pass also gives the Lagrangian bound :math:`L(y)` over all pairs, valid for the
   full model whatever :math:`y` is.
2. **Fixing.** With reduced costs :math:`\bar c_{ar} = c_{ar} - \sum_i y_i g_{i,ar}`, an
   account whose cheapest pair beats its second cheapest by more than ``FIX_MARGIN`` × its
   mean candidate cost keeps only that pair. At optimal prices complementary slackness puts
   every LP optimum on the cheapest pairs, so such accounts are fixed in every LP optimum;
   with near-optimal prices the margin absorbs the error.
3. The LP over the remaining pairs is solved by column generation with pricing over all pairs
   (``solve.column_generation``), so a wrongly fixed account gets its other pairs back when
   they price out, and the LP converges to the full model's LP value. Its coupling rows are
   elastic (slack columns at a large price) so a fixing that makes the bands unreachable
   still solves and pricing repairs it.

The fixing only decides which columns the LP sees first: the bound is never taken from the
restricted LP alone, only from Lagrangian values over all pairs or a converged LP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvers.dual import PairArrays, smoothed_ascent
from solvers.formulation import BalancedAssignment
from solvers.pricing import Duals, price

# (temperature, price limit) per round; the limit grows so that an infeasible candidate set
# cannot push the prices far before pricing has brought in the pairs the bands need
DUAL_SCHEDULE: tuple[tuple[float, float], ...] = (
    (0.1, 1.0),
    (0.03, 3.0),
    (0.01, 10.0),
    (0.003, 30.0),
    (0.001, 50.0),
    (0.001, 50.0),
    (0.001, 50.0),
    (0.001, 50.0),
    (0.001, 50.0),
    (0.001, 50.0),
)
# at the final temperature, stop once a round lifts the bound by less than this share
SETTLED = 2e-4
DUAL_ITERATIONS = 100  # L-BFGS-B iterations per round
FIX_MARGIN = 0.01
ELASTIC_PRICE = 100.0  # slack price: this many times the plan's cost per rep, per 100 % off


@dataclass
class Reduced:
    """The pairs the LP starts from, the bound and prices found, and what it took."""

    pair_a: np.ndarray  # restricted pairs, sorted by account then rep
    pair_r: np.ndarray
    all_a: np.ndarray  # every candidate priced in (a superset, for repair)
    all_r: np.ndarray
    bound: float  # Lagrangian bound over all pairs
    elastic_price: float


def reduce_by_prices(
    model: BalancedAssignment,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    progress: Callable[[str, str], None],
    out_of_time: Callable[[], bool] = lambda: False,
    schedule: tuple[tuple[float, float], ...] = DUAL_SCHEDULE,
    margin: float = FIX_MARGIN,
) -> Reduced:
    """Price the candidates by smoothed dual ascent and fix the accounts whose rep is clear."""
    k = model.n_reps
    y = None
    bound = -np.inf
    pairs = PairArrays.of(model, pair_a, pair_r, model.costs.cost(pair_a, pair_r))
    duals = None
    for rounds, (temperature, limit) in enumerate(schedule, start=1):
        result = smoothed_ascent(
            model,
            pairs,
            y0=y,
            temperatures=(temperature,),
            iterations=DUAL_ITERATIONS,
            price_limit=limit,
        )
        y, duals = result.y, result.duals
        keys = pairs.a * k + pairs.r
        priced = price(model, duals, "cost", keys)
        gain = priced.bound - bound
        bound = max(bound, priced.bound)
        progress(
            "dual",
            f"round {rounds}: bound {priced.bound:,.6g} over all pairs "
            f"({result.bound:,.6g} over {len(keys):,} candidates, {result.evaluations} "
            f"evaluations), +{len(priced.new_a):,} pairs",
        )
        if len(priced.new_a):
            # priced pairs are new and distinct: a sort merges them
            merged = np.sort(np.concatenate([keys, priced.new_a * k + priced.new_r]))
            a, r = merged // k, merged % k
            pairs = PairArrays.of(model, a, r, model.costs.cost(a, r))
        if temperature <= schedule[-1][0] and gain <= SETTLED * abs(bound):
            break  # the final temperature's prices have settled
        if out_of_time():
            break
    assert duals is not None
    keep, free = clear_accounts(pairs, duals, margin)
    count = np.diff(np.r_[pairs.starts, len(pairs.a)])
    typical_plan = float((np.add.reduceat(pairs.cost, pairs.starts) / count).sum())
    elastic = ELASTIC_PRICE * typical_plan / max(k, 1)
    progress("fix", f"{len(pairs.starts) - free:,} accounts fixed, {free:,} left to the LP")
    return Reduced(pairs.a[keep], pairs.r[keep], pairs.a, pairs.r, bound, elastic)


def clear_accounts(pairs: PairArrays, duals: Duals, margin: float) -> tuple[np.ndarray, int]:
    """Pairs to keep (all of an unclear account's, the cheapest of a clear one's) and the
    number of unclear accounts.

    An account is clear when its second-cheapest reduced cost exceeds its cheapest by more
    than ``margin`` × its mean candidate cost; ties are never clear.
    """
    reduced = pairs.reduced(duals)
    segment = pairs.segment
    best = pairs.segment_min(reduced)
    above = reduced - best[segment]
    count = np.diff(np.r_[pairs.starts, len(pairs.a)])
    unit = np.add.reduceat(pairs.cost, pairs.starts) / count
    at_best = above <= 0
    n_best = np.add.reduceat(at_best.astype(np.int64), pairs.starts)
    second = np.minimum.reduceat(np.where(at_best, np.inf, above), pairs.starts)
    clear = (n_best == 1) & (second > margin * np.maximum(unit, 1e-300))
    keep = ~clear[segment] | at_best
    return keep, int((~clear).sum())
