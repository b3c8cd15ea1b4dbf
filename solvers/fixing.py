r"""Shrink a large LP with a near-integral fractional plan: fix the accounts it does not split.

1. **Prices and a fractional plan.** :func:`solvers.dual.smoothed_dual` (Newton on the smoothed
   Lagrangian) over the candidate pairs for a falling temperature (``DUAL_SCHEDULE``), with
   pricing over *all* pairs after each stage (``pricing.price``): pairs that undercut an
   account's cheapest candidate join and the stage is repeated. Each pricing pass also gives
   the Lagrangian bound :math:`L(\lambda)` over all pairs, valid for the full model whatever
   :math:`\lambda` is. With many accounts per rep, the first ``COARSE_STAGES`` stages solve
   the dual of clusters of look-alike accounts (``coarsening.py``) while pricing still runs
   over the accounts' pairs; the last coarse stage is repeated on the accounts.
2. **Fixing.** At the last temperature the soft assignment :math:`\pi` meets the (slightly
   shrunk) bands and is nearly integral. An account with :math:`\max_r \pi_{ar} \ge 1 -`
   ``FIX_SHARE`` keeps only that pair; the others keep the pairs with
   :math:`\pi_{ar} >` ``PAIR_SHARE``. Rounding the fixed accounts moves a load by at most
   ``FIX_SHARE`` of it, which the shrunk bands absorb, so the restricted LP stays feasible.
3. The LP over these columns is solved by column generation with pricing over all pairs
   (``solve.column_generation``), so a wrongly fixed account gets its other pairs back when
   they price out, and the LP converges to the full model's LP value. Its coupling rows stay
   elastic (slack columns at a large price) as a safeguard.

The fixing only decides which columns the LP sees first: the bound is never taken from the
restricted LP alone, only from Lagrangian values over all pairs or a converged LP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from solvers.coarsening import Coarsening, cluster_size
from solvers.dual import ColumnBands, DualResult, PairArrays, exact_value, smoothed_dual
from solvers.formulation import BalancedAssignment
from solvers.pricing import price

# (temperature, price limit in price units, Newton steps) per stage; the limit grows so that an
# infeasible candidate set cannot push the prices far before pricing brings the pairs it needs
DUAL_SCHEDULE: tuple[tuple[float, float, int], ...] = (
    (0.3, 3.0, 25),
    (0.1, 10.0, 25),
    (0.03, 30.0, 25),
    (0.01, 50.0, 25),
    (0.003, 50.0, 25),
)
COARSE_STAGES = 4  # stages on clusters of accounts; the last is repeated on the accounts
STAGE_ROUNDS = 2  # a stage is repeated while pricing adds pairs, at most this often
FIX_SHARE = 1e-3
PAIR_SHARE = 1e-6
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
    schedule: tuple[tuple[float, float, int], ...] = DUAL_SCHEDULE,
) -> Reduced:
    """Prices and a near-integral fractional plan by smoothed Newton; fix what it settles.

    With many accounts per rep the first ``COARSE_STAGES`` stages run on clusters of accounts
    (``coarsening.py``) and the last of them is repeated on the accounts themselves.
    """
    k = model.n_reps
    pairs = PairArrays.of(model, pair_a, pair_r, model.costs.cost(pair_a, pair_r))
    stages = Stages(model, progress, out_of_time)
    size = cluster_size(model, len(pairs.starts))
    if size > 1:
        coarse = Coarsening.of(model, pairs, size)
        progress(
            "dual",
            f"stages 1-{COARSE_STAGES} on {coarse.n_clusters:,} clusters of up to {size} accounts",
        )
        pairs = stages.run(pairs, schedule[:COARSE_STAGES], 1, coarse)
        schedule, first = schedule[COARSE_STAGES - 1 :], COARSE_STAGES
    else:
        first = 1
    pairs = stages.run(pairs, schedule, first)
    result, solved = stages.result, stages.solved
    assert result is not None and solved is not None
    # fix on the pairs of the last solve; pairs priced in after it reach the LP by its own
    # pricing (and repair through ``all_a``, ``all_r``)
    keep, free = settled_accounts(solved, result.share)
    count = np.diff(np.r_[solved.starts, len(solved.a)])
    typical_plan = float((np.add.reduceat(solved.cost, solved.starts) / count).sum())
    elastic = ELASTIC_PRICE * typical_plan / max(k, 1)
    progress("fix", f"{len(solved.starts) - free:,} accounts fixed, {free:,} left to the LP")
    return Reduced(solved.a[keep], solved.r[keep], pairs.a, pairs.r, stages.bound, elastic)


@dataclass
class Stages:
    """The falling-temperature stages with pricing over all pairs after each solve; keeps the
    prices, the best bound and the last solve over the accounts themselves."""

    model: BalancedAssignment
    progress: Callable[[str, str], None]
    out_of_time: Callable[[], bool]
    lam: np.ndarray | None = None
    bound: float = -np.inf
    result: DualResult | None = None
    solved: PairArrays | None = None  # the pairs of ``result``

    def run(
        self,
        pairs: PairArrays,
        schedule: tuple[tuple[float, float, int], ...],
        first: int,
        coarse: Coarsening | None = None,
    ) -> PairArrays:
        """Run ``schedule`` (numbered from ``first``) on the accounts, or on ``coarse``'s
        clusters; either way pricing is over all account pairs. Returns the grown pairs."""
        model, k = self.model, self.model.n_reps
        bands = ColumnBands.of(model)
        for stage, (temperature, limit, steps) in enumerate(schedule, start=first):
            for _ in range(STAGE_ROUNDS):
                if coarse is None:
                    result = smoothed_dual(
                        model,
                        pairs,
                        self.lam,
                        temperature,
                        limit,
                        steps,
                        out_of_time=self.out_of_time,
                    )
                    self.result, self.solved = result, pairs
                    over = f"{len(pairs.a):,} candidates"
                    duals = result.duals
                else:
                    lifted = coarse.lift(pairs)
                    result = smoothed_dual(
                        coarse.model,
                        lifted,
                        self.lam,
                        temperature,
                        limit,
                        steps,
                        out_of_time=self.out_of_time,
                    )
                    over = f"{len(lifted.a):,} cluster candidates"
                    duals = exact_value(model, pairs, bands, result.lam)[1]
                self.lam = result.lam
                keys = pairs.a * k + pairs.r
                priced = price(model, duals, "cost", keys, out_of_time=self.out_of_time)
                self.bound = max(self.bound, priced.bound)
                self.progress(
                    "dual",
                    f"stage {stage} (temperature {temperature:g}): bound {priced.bound:,.6g} over "
                    f"all pairs ({result.bound:,.6g} over {over}, "
                    f"{result.newton_steps} Newton steps), +{len(priced.new_a):,} pairs",
                )
                if len(priced.new_a) == 0 or self.out_of_time():
                    break
                # priced pairs are new and distinct: a sort merges them
                merged = np.sort(np.concatenate([keys, priced.new_a * k + priced.new_r]))
                a, r = merged // k, merged % k
                pairs = PairArrays.of(model, a, r, model.costs.cost(a, r))
            if self.out_of_time():
                break
        return pairs


def settled_accounts(pairs: PairArrays, share: np.ndarray) -> tuple[np.ndarray, int]:
    """Pairs to keep and the number of accounts left free.

    A settled account (largest share at least ``1 - FIX_SHARE``) keeps its largest pair (the
    first on ties); a free one keeps the pairs holding more than ``PAIR_SHARE`` of it.
    """
    segment = pairs.segment
    top = np.maximum.reduceat(share, pairs.starts)
    settled = top >= 1 - FIX_SHARE
    order = np.lexsort((-share, segment))  # per account, largest share first (stable)
    largest = np.zeros(len(share), dtype=bool)
    largest[order[np.r_[True, segment[order][1:] != segment[order][:-1]]]] = True
    keep = np.where(settled[segment], largest, (share > PAIR_SHARE) | largest)
    return keep, int((~settled).sum())
