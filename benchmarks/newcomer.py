"""Baseline (a): our model as a newcomer writes it in PuLP, solved by CBC.

What a newcomer does, and therefore what this measures:

* **Every account × rep pair** is a binary variable, made one at a time in a Python loop
  (``prob.add_variable``); only forbidden pairs (a locked account's other reps, pairs beyond
  the maximum distance) are skipped. The newcomer has no candidate generation or pricing, so
  all pairs it is: that is the honest baseline, and it is why sizes above
  :data:`NEWCOMER_MAX_PAIRS` pairs are not run but estimated from the measured rate.
* **One ``lpSum`` per constraint**, each a generator over the pairs: a choose-one row per
  account, per rep the potential band ``(1 ± t)·T_r`` and workload band ``(1 ± t_w)·W_r`` as
  separate ``>=``/``<=`` rows, capacity ``<= C_r`` where given and the moved-potential cap
  where given. The data (targets from FTE shares of the coverable potential, tolerances,
  capacities, the weight floor inside the pair cost) are those of our model
  (``territory.align.build_model`` / ``PairCosts``), so the MILP is exactly ours over all pairs.
* **CBC** through ``pulp.getSolver("PULP_CBC_CMD", timeLimit=..., msg=False)``, the solver
  PuLP 3 ships with (``COIN_CMD`` with a ``cbc`` on the PATH otherwise; PuLP 4 bundles no CBC,
  and without one the baseline is reported as unavailable); ``solve`` seconds cover PuLP
  writing the MPS file, CBC and reading back.

The plan is re-scored with the same metric functions as ours (``Plan.metrics()``) and
``plan_objective``; CBC's status is read from ``prob.status`` *and* ``prob.sol_status`` (PuLP
reports a run stopped by its time limit as "Optimal" in the first).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
import pulp

from solvers.formulation import BalancedAssignment

NEWCOMER_MAX_PAIRS = 1_000_000  # above this, estimate instead of running (memory and hours)


def cost_matrix(model: BalancedAssignment) -> list[list[float]]:
    """Every pair's cost as nested lists (``inf`` where forbidden): the newcomer's table."""
    rows: list[list[float]] = []
    for _, block in model.costs.blocks():
        rows.extend(block.tolist())
    return rows


def build_newcomer(
    model: BalancedAssignment, cost: list[list[float]]
) -> tuple[pulp.LpProblem, dict[tuple[int, int], pulp.LpVariable]]:
    """The all-pairs binary model, written the way PuLP tutorials write it."""
    prob = pulp.LpProblem("newcomer", pulp.LpMinimize)
    accounts = [a for a in range(model.n_accounts) if model.active[a]]
    reps = list(range(model.n_reps))
    p = model.potential.tolist()
    w = model.workload.tolist()
    x: dict[tuple[int, int], pulp.LpVariable] = {}
    for a in accounts:
        for r in reps:
            if math.isfinite(cost[a][r]):
                x[a, r] = prob.add_variable(f"x_{a}_{r}", cat=pulp.LpBinary)

    prob.setObjective(pulp.lpSum(cost[a][r] * x[a, r] for (a, r) in x))
    for a in accounts:
        prob += pulp.lpSum(x[a, r] for r in reps if (a, r) in x) == 1, f"assign_{a}"
    t = model.tolerance
    for r in reps:
        target = float(model.pot_target[r])
        pot = pulp.lpSum(p[a] * x[a, r] for a in accounts if (a, r) in x)
        prob += pot >= (1 - t) * target, f"pot_lo_{r}"
        prob += pot <= (1 + t) * target, f"pot_hi_{r}"
        work = pulp.lpSum(w[a] * x[a, r] for a in accounts if (a, r) in x)
        if model.work_target is not None and model.work_tolerance is not None:
            tw = model.work_tolerance
            prob += work >= (1 - tw) * float(model.work_target[r]), f"work_lo_{r}"
            prob += work <= (1 + tw) * float(model.work_target[r]), f"work_hi_{r}"
        if math.isfinite(model.capacity[r]):
            prob += work <= float(model.capacity[r]), f"cap_{r}"
    if model.max_moved is not None:
        incumbent = model.incumbent.tolist()
        prob += (
            pulp.lpSum(
                p[a] * var for (a, r), var in x.items() if incumbent[a] >= 0 and r != incumbent[a]
            )
            <= model.max_moved,
            "max_moved",
        )
    return prob, x


CBC_SOLVERS = ("PULP_CBC_CMD", "COIN_CMD")  # PuLP's bundled CBC, then a cbc on the PATH


def cbc_solver() -> str | None:
    """The name of an installed CBC interface, or None (PuLP 4 bundles none)."""
    available = set(pulp.listSolvers(onlyAvailable=True))
    return next((name for name in CBC_SOLVERS if name in available), None)


def solve_newcomer(model: BalancedAssignment, time_limit: float) -> dict[str, Any]:
    """Build and solve the newcomer's model; times, CBC's statuses and the assignment."""
    start = time.perf_counter()
    cost = cost_matrix(model)
    data_seconds = time.perf_counter() - start
    start = time.perf_counter()
    prob, x = build_newcomer(model, cost)
    build_seconds = time.perf_counter() - start
    name = cbc_solver()
    if name is None:
        raise RuntimeError(f"no CBC in PuLP {pulp.__version__}: the newcomer baseline needs one")
    solver = pulp.getSolver(name, timeLimit=max(1, math.ceil(time_limit)), msg=False)
    start = time.perf_counter()
    prob.solve(solver)
    solve_seconds = time.perf_counter() - start
    has_solution = prob.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
    assignment = np.full(model.n_accounts, -1, dtype=np.int64)
    if has_solution:
        for (a, r), var in x.items():
            if (var.varValue or 0.0) > 0.5:
                assignment[a] = r
    objective = pulp.value(prob.objective) if has_solution else None
    return {
        "variables": len(x),
        "constraints": prob.numConstraints(),
        "data_seconds": data_seconds,
        "build_seconds": build_seconds,
        "solve_seconds": solve_seconds,
        "time_limit": time_limit,
        "status": pulp.LpStatus[prob.status],
        "solution_status": pulp.LpSolution[prob.sol_status],
        "has_solution": bool(has_solution),
        "solver_objective": objective,
        "assignment": assignment,
    }


def estimate(n_pairs: int, measured: dict[str, Any] | None) -> dict[str, Any]:
    """What an all-pairs model of ``n_pairs`` would cost, scaled from a measured run.

    Build time and memory grow with the number of variables (one Python object each), so the
    per-variable rates of the largest run of this benchmark are scaled linearly; CBC's time is
    not estimated.
    """
    out: dict[str, Any] = {"variables": n_pairs}
    if measured and measured.get("variables"):
        per = n_pairs / measured["variables"]
        out["from_instance"] = measured.get("instance")
        out["build_seconds"] = measured["build_seconds"] * per
        if measured.get("rss_peak_mib"):
            out["rss_mib"] = measured["rss_peak_mib"] * per
    return out


__all__ = ["NEWCOMER_MAX_PAIRS", "build_newcomer", "cost_matrix", "estimate", "solve_newcomer"]
