r"""Where to put home bases: a p-median with balance bands over divisible demand points.

Sets: demand points :math:`u \in U` (accounts aggregated by location), candidate sites
:math:`c \in C`, some of them fixed open (the home bases of a kept roster). Data: cost
:math:`d_{uc}` (the point's accounts' weighted distance to the site, summed), potential
:math:`p_u`, workload :math:`w_u`, targets :math:`T_c, W_c` (FTE shares of the totals),
tolerances :math:`t, t_w`, capacity :math:`Q_c`. Variables: :math:`o_c \in \{0, 1\}` (site open;
1 for fixed sites) and :math:`x_{uc} \in [0, 1]`, the share of point *u* served from site *c*.

.. math::

    \min \; & \sum_{u, c} d_{uc} x_{uc} \\
    \text{assign}_u: \; & \sum_c x_{uc} = 1 && \forall u \\
    \text{count}: \; & \sum_c o_c = K \\
    \text{link}_{u,c}: \; & x_{uc} \le o_c && \forall (u, c) \\
    \text{pot}_c: \; & (1 - t) T_c o_c \le \sum_u p_u x_{uc} \le (1 + t) T_c o_c && \forall c \\
    \text{work}_c: \; & (1 - t_w) W_c o_c \le \sum_u w_u x_{uc} \le (1 + t_w) W_c o_c
        && \text{(when workload is balanced)} \\
    \text{cap}_c: \; & \sum_u w_u x_{uc} \le Q_c o_c && \text{(when capacity is imposed)}

Points are divisible (a point stands for many accounts), so only the opening decisions are
integer: the bands can be met exactly whatever the aggregation, and the account-level alignment
that follows decides who serves each account. :func:`locate_allocate` (Hess's alternation with
an LP split) gives the sites; with ``mip_nodes`` the MILP over every pair, started from them,
improves them where it can and proves a lower bound of this aggregated model. Both are solved by
HiGHS with one thread; the MILP stops at a node limit (a work limit that repeats) or a time
limit. The sites stay a heuristic for the account-level problem either way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from solvers.backends import (
    ERROR,
    FEASIBLE,
    INFEASIBLE,
    OPTIMAL,
    TIME_LIMIT,
    highs_status,
    run_highs,
    stdout_silenced,
)

HEURISTIC = "heuristic"  # a plan of sites without a bound


@dataclass(frozen=True)
class Location:
    """One instance as arrays: ``cost`` is (points, sites), ``+inf`` where a pair is left out."""

    cost: np.ndarray
    potential: np.ndarray
    workload: np.ndarray
    pot_target: np.ndarray  # per site, were it open
    tolerance: float
    n_open: int
    fixed: np.ndarray  # bool per site: open whatever the cost
    work_target: np.ndarray | None = None
    work_tolerance: float | None = None
    capacity: np.ndarray | None = None  # per site, imposed when given (inf: none)

    @property
    def n_points(self) -> int:
        return self.cost.shape[0]

    @property
    def n_sites(self) -> int:
        return self.cost.shape[1]


@dataclass
class LocationResult:
    """The sites opened, the share of each point they serve, and what is proven about it."""

    opened: np.ndarray | None  # site positions, ascending
    shares: sp.csr_matrix | None  # (points, sites)
    status: str
    objective: float | None
    lower_bound: float | None
    message: str
    nodes: int = 0
    seconds: float = 0.0

    @property
    def gap(self) -> float | None:
        if self.objective is None or self.lower_bound is None:
            return None
        if self.objective <= 0:
            return 0.0
        return max(0.0, (self.objective - self.lower_bound) / abs(self.objective))


def _bands(model: Location) -> list[tuple[np.ndarray, np.ndarray, float]]:
    bands = [(model.potential, model.pot_target, model.tolerance)]
    if model.work_target is not None and model.work_tolerance is not None:
        bands.append((model.workload, model.work_target, model.work_tolerance))
    return bands


def _matrix(model: Location, pu: np.ndarray, pc: np.ndarray) -> tuple[sp.csc_matrix, list, list]:
    """Constraint matrix (columns: pairs then sites) with the row bounds."""
    n_pairs, m, c = len(pu), model.n_points, model.n_sites
    inf = np.inf
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    vals: list[np.ndarray] = []
    lower: list[float] = []
    upper: list[float] = []

    def add(r: np.ndarray, col: np.ndarray, v: np.ndarray) -> None:
        rows.append(r)
        cols.append(col)
        vals.append(v)

    pairs = np.arange(n_pairs)
    site_col = n_pairs + np.arange(c)
    add(pu, pairs, np.ones(n_pairs))  # assign
    lower += [1.0] * m
    upper += [1.0] * m
    base = m
    add(np.full(c, base), site_col, np.ones(c))  # count
    lower.append(float(model.n_open))
    upper.append(float(model.n_open))
    base += 1
    link = base + pairs  # link: x - o <= 0
    add(link, pairs, np.ones(n_pairs))
    add(link, n_pairs + pc, -np.ones(n_pairs))
    lower += [-inf] * n_pairs
    upper += [0.0] * n_pairs
    base += n_pairs
    for values, target, tol in _bands(model):
        for sign in (-1.0, 1.0):  # Σ v x - level o  >= 0 (lower edge), <= 0 (upper edge)
            add(base + pc, pairs, values[pu])
            add(base + np.arange(c), site_col, -target * (1 + sign * tol))
            lower += [0.0 if sign < 0 else -inf] * c
            upper += [inf if sign < 0 else 0.0] * c
            base += c
    if model.capacity is not None:
        capped = np.flatnonzero(np.isfinite(model.capacity))
        row_of = np.full(c, -1)
        row_of[capped] = base + np.arange(len(capped))
        on = np.isin(pc, capped)
        add(row_of[pc[on]], pairs[on], model.workload[pu[on]])
        add(row_of[capped], site_col[capped], -model.capacity[capped])
        lower += [-inf] * len(capped)
        upper += [0.0] * len(capped)
        base += len(capped)
    matrix = sp.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(base, n_pairs + c),
    )
    return matrix, lower, upper


def _highs(
    model: Location, keep: np.ndarray, time_limit: float, gap: float, node_limit: int | None
):
    """The MILP over the pairs in ``keep`` as a live ``highspy.Highs`` (with its columns)."""
    import highspy

    pu, pc = np.nonzero(keep)
    cost = model.cost[pu, pc]
    matrix, lower, upper = _matrix(model, pu, pc)
    n_cols = matrix.shape[1]
    lp = highspy.HighsLp()
    lp.num_col_ = n_cols
    lp.num_row_ = matrix.shape[0]
    lp.col_cost_ = np.concatenate([cost / _scale(model), np.zeros(model.n_sites)])
    lp.col_lower_ = np.concatenate([np.zeros(len(pu)), model.fixed.astype(float)])
    lp.col_upper_ = np.ones(n_cols)
    lp.row_lower_ = np.array(lower)
    lp.row_upper_ = np.array(upper)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data
    lp.integrality_ = [highspy.HighsVarType.kContinuous] * len(pu) + [
        highspy.HighsVarType.kInteger
    ] * model.n_sites
    with stdout_silenced():
        h = highspy.Highs()
    for option, value in (
        ("output_flag", False),
        ("threads", 1),
        ("random_seed", 0),
        ("time_limit", float(max(time_limit, 0.01))),
        ("mip_rel_gap", float(gap)),
        ("mip_max_nodes", int(node_limit) if node_limit else 2**31 - 1),
    ):
        h.setOptionValue(option, value)
    h.passModel(lp)
    return h, pu, pc


def _scale(model: Location) -> float:
    """Costs are divided by this in the solver, so coefficients sit near 1."""
    finite = model.cost[np.isfinite(model.cost) & (model.cost > 0)]
    return float(finite.mean()) if len(finite) else 1.0


def allocate(model: Location, sites: np.ndarray) -> tuple[sp.csr_matrix, float] | None:
    """The cheapest split of every point among the open ``sites`` within the bands (an LP);
    None when no split meets them."""
    keep = np.zeros(model.cost.shape, dtype=bool)
    keep[:, sites] = np.isfinite(model.cost[:, sites])
    opened = np.zeros(model.n_sites)
    opened[sites] = 1.0
    sub = Location(
        model.cost,
        model.potential,
        model.workload,
        model.pot_target,
        model.tolerance,
        len(sites),
        opened > 0,
        model.work_target,
        model.work_tolerance,
        model.capacity,
    )
    h, pu, pc = _highs(sub, keep, 60.0, 0.0, None)
    run_highs(h)
    _, has_solution, _ = highs_status(h, True)
    if not has_solution:
        return None
    values = np.clip(np.asarray(h.getSolution().col_value)[: len(pu)], 0.0, 1.0)
    shares = sp.csr_matrix((values, (pu, pc)), shape=model.cost.shape)
    return shares, float(model.cost[pu, pc] @ values)


def greedy_sites(model: Location) -> np.ndarray:
    """The fixed sites plus, one at a time, the site that lowers the sum of every point's
    cheapest open-site cost most (the greedy p-median rule, balance ignored); deterministic."""
    cost = model.cost
    chosen = np.flatnonzero(model.fixed).tolist()
    best = cost[:, chosen].min(axis=1) if chosen else np.full(model.n_points, np.inf)
    while len(chosen) < model.n_open:
        totals = np.minimum(best[:, None], cost)
        score = np.where(np.isfinite(totals), totals, 1e300).sum(axis=0)
        score[chosen] = np.inf
        pick = int(np.argmin(score))
        chosen.append(pick)
        best = np.minimum(best, cost[:, pick])
    return np.array(sorted(chosen), dtype=np.int64)


def locate_allocate(
    model: Location, rounds: int = 20
) -> tuple[np.ndarray, sp.csr_matrix, float] | None:
    """Hess's alternation on divisible points: allocate within the bands (LP), move every
    site that is not fixed to the candidate with the least cost for what it serves, repeat
    until the sites stop moving; the best plan seen. None when the greedy sites cannot meet
    the bands."""
    sites = greedy_sites(model)
    best: tuple[np.ndarray, sp.csr_matrix, float] | None = None
    seen: set[tuple[int, ...]] = set()
    for _ in range(rounds):
        key = tuple(sites.tolist())
        if key in seen:
            break
        seen.add(key)
        result = allocate(model, sites)
        if result is None:
            break
        shares, value = result
        if best is None or value < best[2] - 1e-9 * max(1.0, abs(value)):
            best = (sites, shares, value)
        moved = []
        taken = set(np.flatnonzero(model.fixed).tolist())
        for c in sites.tolist():
            if model.fixed[c]:
                moved.append(c)
                continue
            served = shares[:, c].toarray().ravel()
            totals = served @ np.where(np.isfinite(model.cost), model.cost, 1e300)
            for s in np.argsort(totals, kind="stable").tolist():
                if s not in taken:
                    break
            taken.add(s)
            moved.append(s)
        sites = np.array(sorted(moved), dtype=np.int64)
    return best


def solve_location(
    model: Location,
    *,
    mip_nodes: int = 0,
    time_limit: float = 60.0,
    gap: float = 0.005,
) -> LocationResult:
    """Open ``n_open`` sites (the fixed ones among them) and split every point among the open
    sites at a low cost; see the module docstring for the model.

    The locate-allocate plan comes first (status ``heuristic``, no bound). With ``mip_nodes``
    above 0 the MILP over every pair starts from it, improves it where it can and proves a
    lower bound of the aggregated model, within that many branch-and-bound nodes (a work
    limit, so the result repeats) and ``time_limit`` seconds.
    """
    import highspy

    start = time.perf_counter()
    n_fixed = int(model.fixed.sum())
    if model.n_open < n_fixed or model.n_open > model.n_sites:
        return LocationResult(
            None,
            None,
            INFEASIBLE,
            None,
            None,
            f"{model.n_open} sites cannot be opened: {n_fixed} are fixed and "
            f"{model.n_sites} are candidates",
        )
    best = locate_allocate(model)
    if mip_nodes <= 0:
        seconds = time.perf_counter() - start
        if best is None:
            return LocationResult(
                None, None, ERROR, None, None, "the locate-allocate sites cannot meet the bands",
                seconds=seconds,
            )  # fmt: skip
        return LocationResult(
            best[0], best[1], HEURISTIC, best[2], None,
            "locate-allocate sites (a heuristic: no bound)", seconds=seconds,
        )  # fmt: skip
    h, pu, pc = _highs(model, np.isfinite(model.cost), time_limit, gap, mip_nodes)
    if best is not None:
        opened = np.zeros(model.n_sites)
        opened[best[0]] = 1.0
        solution = highspy.HighsSolution()
        solution.col_value = np.concatenate([np.asarray(best[1][pu, pc]).ravel(), opened]).tolist()
        solution.value_valid = True
        h.setSolution(solution)
    run_highs(h)
    status, has_solution, bound = highs_status(h, True)
    nodes = int(h.getInfo().mip_node_count)
    raw = h.modelStatusToString(h.getModelStatus())
    lower_bound = None if bound is None else bound * _scale(model)
    if has_solution:
        values = np.asarray(h.getSolution().col_value, dtype=float)
        x = np.clip(values[: len(pu)], 0.0, 1.0)
        value = float(model.cost[pu, pc] @ x)
        if best is None or value < best[2]:
            shares = sp.csr_matrix((x, (pu, pc)), shape=model.cost.shape)
            best = (np.flatnonzero(values[len(pu) :] > 0.5), shares, value)
    seconds = time.perf_counter() - start
    if best is None:
        message = (
            "no choice of sites meets the bands (proved by the MILP)"
            if status == INFEASIBLE
            else f"no choice of sites meets the bands within the limits ({raw})"
        )
        return LocationResult(None, None, status, None, lower_bound, message, nodes, seconds)
    sites, shares, objective = best
    if status == OPTIMAL and lower_bound is not None:
        lower_bound = min(lower_bound, objective)
        message = f"sites proven within {gap:.2%} of the aggregated model's optimum"
    else:
        status = TIME_LIMIT if status == TIME_LIMIT else FEASIBLE
        message = f"locate-allocate sites, improved by the MILP where it could ({raw})"
    return LocationResult(sites, shares, status, objective, lower_bound, message, nodes, seconds)


def _scaled(bound: float | None, scale: float) -> float | None:
    return None if bound is None else bound * scale
