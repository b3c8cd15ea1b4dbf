r"""The potential bands alone as a min-cost flow: prices and a bound for thousands of reps.

Drop the workload, capacity and moved-potential rows from the LP (``formulation.py``) and
write :math:`y_{ar} = p_a x_{ar}` (potential of account *a* given to rep *r*):

.. math::

    \min \; & \sum_{(a,r) \in E} d_{ar} y_{ar}, \quad d_{ar} = c_{ar} / p_a \\
    \text{supply}_a: \; & \sum_r y_{ar} = p_a && \forall a \\
    \text{band}_r: \; & (1 - t) T_r \le \sum_a y_{ar} \le (1 + t) T_r && \forall r

That is a transportation problem with ranged demands, a min-cost flow: accounts supply their
potential, arc :math:`a \to r` costs :math:`d_{ar}` per unit, rep *r* keeps its lower band and
passes up to :math:`2tT_r` more to a sink that takes the rest. OR-Tools' min-cost flow solves
it on integers (potential scaled to ``FLOW_UNITS`` in total, unit costs to ``COST_UNITS`` at
the dearest pair), many times faster than a general LP solver on the same problem.

**Prices.** At an optimal flow every residual cycle costs at least zero. Contracting the
accounts gives a graph on the reps and the sink: :math:`r \to s` costs
:math:`\min_a (d_{as} - d_{ar})` over accounts with flow on *r* and *s* a candidate,
:math:`r \to` sink exists while *r* is below its upper band and sink :math:`\to r` while it is
above its lower band, both at zero. Shortest distances :math:`\delta` from a root joined to
every node (Bellman-Ford; no negative cycle at an optimum) give band prices
:math:`\lambda_r = \delta_r - \delta_{\text{sink}}`: the account's flow goes to its reps of least
:math:`d_{ar} - \lambda_r`, :math:`\lambda_r \ge 0` below the upper band, :math:`\le 0` above
the lower one.

**Bound and columns.** Any prices give the Lagrangian bound
:math:`\sum_a \min_r (c_{ar} - p_a \lambda_r) + \sum_r \lambda_r (\text{band}_r)` over *all*
pairs (``pricing.price``; workload prices zero). It is valid for the full model, since its rows
only add constraints, and equals the flow's value over all pairs once pricing finds no missing
pair. Pricing brings those pairs in and the flow is solved again (column generation).

**Plan.** The flow puts most reps on a band edge, so rounding its split accounts breaks many
bands. Once the prices are found, one more flow over the same nodes with every band narrowed
by ``PLAN_MARGIN`` of the tolerance gives the fractional plan that is rounded (the bound stays
the one with the true bands).

**Clusters.** With many accounts per rep the first rounds run on clusters of look-alike
accounts (``coarsening.py``; a cluster moves as one, so its flow is a restriction) while pricing
stays over the accounts' pairs; the last rounds run on the accounts when the time allows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from ortools.graph.python import min_cost_flow
from scipy import sparse
from scipy.sparse.csgraph import bellman_ford

from solvers.coarsening import Coarsening, cluster_size
from solvers.dual import PairArrays
from solvers.formulation import BalancedAssignment
from solvers.keys import segment_ranks, unique_keys
from solvers.pricing import Duals, price

FLOW_UNITS = 1e10  # total potential in flow units
COST_UNITS = 1e6  # cost per unit of the dearest arc, in integer cost units
MAX_ROUNDS = 30  # flow solves per level (clusters, accounts)
# a level's rounds stop when pricing adds fewer pairs than this share of the candidates, or
# when the flow's value is this close to the bound
FEW_NEW_PAIRS = 0.005
CLOSE_TO_BOUND = 0.001
FINE_SLOWDOWN = 3.0  # an account-level solve takes up to this many times a cluster one per arc
# the plan's flow keeps every rep this share of the tolerance inside its band, so that rounding
# the split accounts and the repair after it have room (at 200k x 2,000 with all bands at
# their edge, rounding broke 1,137 reps and repair left 887; with 10 % room 227, which swaps
# then fixed)
PLAN_MARGIN = 0.1


@dataclass(frozen=True)
class FlowSolution:
    """An optimal flow over node pairs (``node``, ``rep``): each pair's share of its node's
    potential, the band prices and the flow's cost in the model's units."""

    node: np.ndarray
    rep: np.ndarray
    share: np.ndarray
    prices: np.ndarray  # λ_r, cost per unit of potential
    objective: float
    seconds: float


def solve_flow(
    supply: np.ndarray,
    node: np.ndarray,
    rep: np.ndarray,
    cost: np.ndarray,
    band_lo: np.ndarray,
    band_hi: np.ndarray,
) -> FlowSolution | None:
    """Min-cost flow of the potential ``supply`` of each node to reps within their bands.

    ``node``, ``rep`` (sorted by node) and ``cost`` (per pair, for the whole node) are the
    arcs; ``band_lo``/``band_hi`` each rep's potential band. Returns None when no flow meets
    the bands over these arcs.
    """
    n_nodes, k = len(supply), len(band_lo)
    scale = FLOW_UNITS / max(float(supply.sum()), 1e-300)
    units = np.rint(supply * scale).astype(np.int64)
    lo = np.ceil(band_lo * scale).astype(np.int64)
    hi = np.maximum(np.floor(band_hi * scale).astype(np.int64), lo)
    if lo.sum() > units.sum() or hi.sum() < units.sum():
        return None
    per_unit = cost / np.maximum(supply[node], 1e-300)
    cost_scale = COST_UNITS / max(float(np.abs(per_unit).max(initial=0.0)), 1e-300)
    unit_cost = np.rint(per_unit * cost_scale).astype(np.int64)
    sink = n_nodes + k
    solver = min_cost_flow.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(
        np.concatenate([node, n_nodes + np.arange(k)]),
        np.concatenate([n_nodes + rep, np.full(k, sink)]),
        np.concatenate([units[node], hi - lo]),
        np.concatenate([unit_cost, np.zeros(k, dtype=np.int64)]),
    )
    solver.set_nodes_supplies(
        np.arange(sink + 1), np.concatenate([units, -lo, [lo.sum() - units.sum()]])
    )
    started = time.perf_counter()
    status = solver.solve()
    seconds = time.perf_counter() - started
    if status != min_cost_flow.SimpleMinCostFlow.OPTIMAL:
        return None
    flows = solver.flows(np.arange(len(node) + k))
    on_arc, to_sink = flows[: len(node)], flows[len(node) :]
    prices = _band_prices(node, rep, unit_cost, on_arc, to_sink, hi - lo, k) / cost_scale
    share = on_arc / np.maximum(units[node], 1)
    return FlowSolution(node, rep, share, prices, float(cost @ share), seconds)


def _band_prices(
    node: np.ndarray,
    rep: np.ndarray,
    unit_cost: np.ndarray,
    on_arc: np.ndarray,
    to_sink: np.ndarray,
    sink_room: np.ndarray,
    k: int,
) -> np.ndarray:
    """λ_r (in integer cost units) from shortest paths on the residual graph contracted to the
    reps, the sink (index k) and a root (k + 1) joined to all at zero cost."""
    used = np.flatnonzero(on_arc > 0)
    first = np.searchsorted(node, node[used])
    count = np.searchsorted(node, node[used], side="right") - first
    owner = np.repeat(used, count)
    other = (
        np.repeat(first, count)
        + np.arange(count.sum())
        - np.repeat(np.cumsum(count) - count, count)
    )
    src, dst = rep[owner], rep[other]
    weight = unit_cost[other] - unit_cost[owner]
    keep = src != dst
    below_hi, above_lo = np.flatnonzero(to_sink < sink_room), np.flatnonzero(to_sink > 0)
    src = np.concatenate([src[keep], below_hi, np.full(len(above_lo), k), np.full(k + 1, k + 1)])
    dst = np.concatenate([dst[keep], np.full(len(below_hi), k), above_lo, np.arange(k + 1)])
    weight = np.concatenate(
        [weight[keep], np.zeros(len(below_hi) + len(above_lo) + k + 1, dtype=np.int64)]
    ).astype(float)
    # the cheapest arc per (from, to): duplicates would be summed by the sparse matrix
    pair = src * (k + 2) + dst
    order = np.lexsort((weight, pair))
    cheapest = order[np.r_[True, pair[order][1:] != pair[order][:-1]]]
    graph = sparse.csr_matrix(
        (weight[cheapest], (src[cheapest], dst[cheapest])), shape=(k + 2, k + 2)
    )
    distance = bellman_ford(graph, directed=True, indices=k + 1)
    return distance[:k] - distance[k]


@dataclass
class FlowRelaxation:
    """What column generation on the flow leaves for rounding: account pairs (every candidate
    priced in, sorted by account), the flow's shares on them, prices and the bound."""

    pair_a: np.ndarray
    pair_r: np.ndarray
    x: np.ndarray
    duals: Duals
    objective: float  # the last flow's cost (clusters' or accounts')
    bound: float  # best Lagrangian bound over all pairs; -inf when no pricing pass finished
    rounds: int
    # the flow over the accounts stopped because pricing found few or no missing pairs, or
    # its value met the bound (not because the time ran out)
    finished: bool
    level: str  # "accounts" or "clusters": what the last flow moved


def potential_flow(
    model: BalancedAssignment,
    pair_a: np.ndarray,
    pair_r: np.ndarray,
    left: Callable[[], float],
    progress: Callable[[str, str], None],
) -> FlowRelaxation | None:
    """Column generation on the potential-band flow from the candidates (``pair_a``,
    ``pair_r``, sorted by account then rep); None when no flow over them meets the bands.

    ``left``: seconds left. A flow solve cannot be stopped, so one only starts when its time,
    estimated from the last solve's time per arc, fits in what is left.
    """
    k = model.n_reps
    flow = _Flow(model, pair_a.astype(np.int64) * k + pair_r, left, progress)
    levels: list[Coarsening | None] = [None]
    size = cluster_size(model, int(model.active.sum()))
    if size > 1:
        pairs = PairArrays.of(model, pair_a, pair_r, model.costs.cost(pair_a, pair_r))
        levels.insert(0, Coarsening.of(model, pairs, size))
    for coarse in levels:
        for _ in range(MAX_ROUNDS):
            settled = flow.round(coarse)
            if settled is None or settled or left() <= 0:
                break
        if flow.result is None:
            return None  # no flow over the candidates meets the bands
    flow.narrow_for_plan()
    return _relaxation(model, flow)


class _Flow:
    """The state of column generation on the flow: candidate keys, the best bound, the last
    solve (and on what it was), and the time per arc of the last solve."""

    def __init__(
        self,
        model: BalancedAssignment,
        keys: np.ndarray,
        left: Callable[[], float],
        progress: Callable[[str, str], None],
    ) -> None:
        self.model, self.keys, self.left, self.progress = model, keys, left, progress
        tolerance, target = model.tolerance, model.pot_target
        self.lo, self.hi = (1 - tolerance) * target, (1 + tolerance) * target
        self.bound = -np.inf
        self.rounds = 0
        self.seconds_per_arc: float | None = None
        self.last_level: Coarsening | None = None
        self.result: FlowSolution | None = None
        self.on: Coarsening | None = None
        self.finished = False
        total = max(float(model.potential.sum()), 1e-300)
        self.flowing = model.potential > 1e-12 * total

    def arcs(self, coarse: Coarsening | None) -> tuple[np.ndarray, ...]:
        """(supply, node, rep, cost) of the flow over accounts or clusters."""
        k = self.model.n_reps
        a, r = self.keys // k, self.keys % k
        keep = self.flowing[a]
        if coarse is None:
            node, rep = a[keep], r[keep]
            cost = self.model.costs.cost(node, rep)
            return self.model.potential, node, rep, cost
        node, rep, cost = coarse.lift_arrays(a[keep], r[keep])
        return coarse.model.potential, node, rep, cost

    def solve(
        self,
        coarse: Coarsening | None,
        arcs: tuple[np.ndarray, ...],
        narrowing: np.ndarray | float = 0.0,
    ) -> FlowSolution | None:
        """One flow (every band ``narrowing`` potential narrower on each side), if its
        estimated time fits; None otherwise."""
        supply, node, rep, cost = arcs
        slowdown = FINE_SLOWDOWN if coarse is not self.last_level else 1.0
        per_arc = self.seconds_per_arc
        if per_arc is not None and slowdown * per_arc * len(node) > self.left():
            return None
        solved = solve_flow(supply, node, rep, cost, self.lo + narrowing, self.hi - narrowing)
        if solved is not None:
            self.seconds_per_arc = solved.seconds / max(len(node), 1)
            self.last_level = coarse
        return solved

    def round(self, coarse: Coarsening | None) -> bool | None:
        """A flow, then pricing over all pairs; whether the level has settled (None: no flow)."""
        model, k = self.model, self.model.n_reps
        solved = self.solve(coarse, self.arcs(coarse))
        if solved is None:
            return None
        self.rounds += 1
        self.result, self.on = solved, coarse
        duals = self.duals(self.keys, solved.prices)
        priced = price(model, duals, "cost", self.keys, out_of_time=lambda: self.left() <= 0)
        self.bound = max(self.bound, priced.bound)
        level = "accounts" if coarse is None else f"{coarse.n_clusters:,} clusters"
        self.progress(
            "flow",
            f"round {self.rounds} over {level}: flow {solved.objective:,.6g}, bound "
            f"{self.bound:,.6g}, {len(solved.node):,} arcs in {solved.seconds:.1f} s, "
            f"+{len(priced.new_a):,} pairs",
        )
        if len(priced.new_a):
            self.keys = unique_keys(np.concatenate([self.keys, priced.new_a * k + priced.new_r]))
        close = solved.objective - self.bound <= CLOSE_TO_BOUND * abs(solved.objective)
        few = len(priced.new_a) < FEW_NEW_PAIRS * len(self.keys)
        settled = priced.complete and (close or few)
        self.finished = settled and coarse is None
        return settled

    def narrow_for_plan(self) -> None:
        """Replace the last flow by one over the same nodes with bands ``PLAN_MARGIN`` of the
        tolerance narrower, when it fits in the time and exists; its cost is not a bound."""
        assert self.result is not None
        margin = PLAN_MARGIN * self.model.tolerance * self.model.pot_target
        narrowed = self.solve(self.on, self.arcs(self.on), margin)
        if narrowed is not None:
            self.progress(
                "flow",
                f"plan flow in bands narrowed by {PLAN_MARGIN:.0%}: {narrowed.objective:,.6g}",
            )
            self.result = replace(narrowed, objective=self.result.objective)

    def duals(self, keys: np.ndarray, prices: np.ndarray) -> Duals:
        """Duals for band prices λ: each account's cheapest reduced cost over its candidates,
        band terms by the sign of λ; workload and moved prices zero."""
        model, k = self.model, self.model.n_reps
        a, r = keys // k, keys % k
        reduced = model.costs.cost(a, r) - model.potential[a] * prices[r]
        assign = np.full(model.n_accounts, np.inf)
        np.minimum.at(assign, a, reduced)
        assign[~np.isfinite(assign)] = 0.0
        rhs = float(np.where(prices > 0, prices * self.lo, prices * self.hi).sum())
        return Duals(assign, prices, np.zeros(k), 0.0, rhs)


def _relaxation(model: BalancedAssignment, flow: _Flow) -> FlowRelaxation:
    """Account-level shares of the last flow on the candidate pairs (a cluster's shares go to
    each member; an account without potential takes its cheapest candidate)."""
    k = model.n_reps
    solved, coarse = flow.result, flow.on
    assert solved is not None
    positive = solved.share > 0
    node, rep, share = solved.node[positive], solved.rep[positive], solved.share[positive]
    if coarse is None:
        account, account_rep, account_share = node, rep, share
    else:
        size = np.diff(coarse.member_starts)[node]
        owner = np.repeat(np.arange(len(node)), size)
        account = coarse.members[coarse.member_starts[node][owner] + segment_ranks(size)]
        account_rep, account_share = rep[owner], share[owner]
    pair_keys = account.astype(np.int64) * k + account_rep
    all_keys = unique_keys(np.concatenate([flow.keys, pair_keys]))
    x = np.zeros(len(all_keys))
    x[np.searchsorted(all_keys, pair_keys)] = account_share
    a, r = all_keys // k, all_keys % k
    covered = np.bincount(a, weights=x, minlength=model.n_accounts) > 0.5
    cost = model.costs.cost(a, r)
    cheapest = np.lexsort((r, cost, a))
    first = cheapest[np.r_[True, a[cheapest][1:] != a[cheapest][:-1]]]
    x[first[~covered[a[first]]]] = 1.0
    duals = flow.duals(all_keys, solved.prices)
    level = "accounts" if coarse is None else "clusters"
    return FlowRelaxation(
        a, r, x, duals, solved.objective, flow.bound, flow.rounds, flow.finished, level
    )
