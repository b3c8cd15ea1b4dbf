r"""Clusters of look-alike accounts, so that the first dual stages run on a smaller problem.

The smoothed dual (``dual.py``) spends its early, high-temperature stages finding rough prices;
every Newton step there touches every candidate pair and, since most accounts are still split,
a dense Hessian. Those rough prices do not need every account: accounts with the same incumbent
rep, the same two cheapest candidate reps and a similar margin between them (cost per unit of
potential) respond to the prices almost alike. Each cluster of ``size`` such accounts becomes
one account of a *coarse* model:

.. math:: p_C = \sum_{a \in C} p_a, \quad w_C = \sum_{a \in C} w_a, \quad
          c_{Cr} = \sum_{a \in C} c_{ar}, \quad k_C = k_a,

with the same rows (bands, capacities, moved cap). A coarse plan is a fine plan in which each
cluster moves as one, so the coarse LP is a restriction of the fine one: its prices are only a
warm start. Nothing is taken from the coarse problem as a bound; bounds come from pricing over
all fine pairs (``fixing.py``). A cluster's candidate reps are those of its members (``lift``),
and its cost with a rep sums over all members, including those for which the rep is not yet a
candidate.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from solvers.dual import PairArrays
from solvers.formulation import BalancedAssignment
from solvers.keys import segment_ranks, unique_keys

CLUSTERS_PER_REP = 40  # coarse accounts per rep's share of the accounts: enough for its bands


def cluster_size(model: BalancedAssignment, n_accounts: int) -> int:
    """Accounts per cluster: about ``CLUSTERS_PER_REP`` clusters per rep (1: no coarsening)."""
    return max(1, n_accounts // max(model.n_reps * CLUSTERS_PER_REP, 1))


def cluster_labels(model: BalancedAssignment, pairs: PairArrays, size: int) -> np.ndarray:
    """A cluster per account segment of ``pairs``: same incumbent, same two cheapest reps,
    then consecutive runs of ``size`` accounts by the margin between those two reps."""
    per_potential = pairs.cost / np.maximum(pairs.p, 1e-300)
    order = np.lexsort((pairs.r, per_potential, pairs.segment))  # cheapest first per account
    starts = pairs.starts
    count = np.diff(np.r_[starts, len(pairs.a)])
    first = order[starts]
    second = order[np.minimum(starts + 1, len(order) - 1)]
    two = count > 1
    best = pairs.r[first]
    runner_up = np.where(two, pairs.r[second], -1)
    margin = np.where(two, per_potential[second] - per_potential[first], np.inf)
    incumbent = model.incumbent[pairs.accounts]
    by_group = np.lexsort((margin, runner_up, best, incumbent))
    group = np.c_[incumbent, best, runner_up][by_group]
    new_group = np.r_[True, np.any(group[1:] != group[:-1], axis=1)]
    group_start = np.maximum.accumulate(np.where(new_group, np.arange(len(by_group)), 0))
    new_cluster = new_group | ((np.arange(len(by_group)) - group_start) % size == 0)
    labels = np.empty(len(by_group), dtype=np.int64)
    labels[by_group] = np.cumsum(new_cluster) - 1
    return labels


@dataclass(frozen=True)
class Coarsening:
    """The coarse model and the map between its accounts (clusters) and the fine accounts."""

    model: BalancedAssignment  # one account per cluster; costs are summed in ``lift``
    fine: BalancedAssignment
    label: np.ndarray  # cluster of each fine account (-1: not in any)
    members: np.ndarray  # fine accounts ordered by cluster
    member_starts: np.ndarray  # first member of each cluster, and the total at the end

    @property
    def n_clusters(self) -> int:
        return self.model.n_accounts

    @classmethod
    def of(cls, model: BalancedAssignment, pairs: PairArrays, size: int) -> Coarsening:
        by_segment = cluster_labels(model, pairs, size)
        n = int(by_segment.max()) + 1 if len(by_segment) else 0
        label = np.full(model.n_accounts, -1, dtype=np.int64)
        label[pairs.accounts] = by_segment
        order = np.argsort(by_segment, kind="stable")
        members = pairs.accounts[order]
        member_starts = np.searchsorted(by_segment[order], np.arange(n + 1))
        incumbent = np.full(n, -1, dtype=model.incumbent.dtype)
        incumbent[by_segment] = model.incumbent[pairs.accounts]  # one per cluster by design
        coarse = replace(
            model,
            potential=np.bincount(by_segment, model.potential[pairs.accounts], n),
            workload=np.bincount(by_segment, model.workload[pairs.accounts], n),
            incumbent=incumbent,
            active=np.ones(n, dtype=bool),
        )
        return cls(coarse, model, label, members, member_starts)

    def lift(self, pairs: PairArrays) -> PairArrays:
        """Coarse pairs: each cluster with every rep any member has as a candidate, at the cost
        summed over all members (pairs forbidden to a member are left out)."""
        return PairArrays.of(self.model, *self.lift_arrays(pairs.a, pairs.r))

    def lift_arrays(
        self, a: np.ndarray, r: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``lift`` on plain pair arrays: (cluster, rep, summed cost), sorted by cluster."""
        k = self.model.n_reps
        keys = unique_keys(self.label[a] * k + r)
        cluster, rep = keys // k, keys % k
        size = np.diff(self.member_starts)[cluster]
        owner = np.repeat(np.arange(len(keys)), size)
        member = self.members[self.member_starts[cluster][owner] + segment_ranks(size)]
        cost = np.bincount(owner, self.fine.costs.cost(member, rep[owner]), len(keys))
        allowed = np.isfinite(cost)
        return cluster[allowed], rep[allowed], cost[allowed]
