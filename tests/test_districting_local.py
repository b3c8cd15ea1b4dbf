"""The contiguous heuristic and the Lagrangian bound on tiny grids, against brute force.

The heuristic's plans must be contiguous, meet the bands and cost no less than the brute-force
optimum; a move that would cut a territory in two must be refused (the connectivity check is
tested on its own and through the moves); the Lagrangian bound must never exceed the optimum,
and the pricing path must report it when pricing cannot finish; reach fixing and neighbour rows
must keep every contiguous plan; regrouping must return a feasible plan no dearer than its
start, and the optimum when one group holds every territory.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import sparse

import solvers.districting_search as search
from solvers.districting import solve_districting
from solvers.districting_bound import evaluate, lagrangian_bound
from solvers.districting_highs import HighsDistricting
from solvers.districting_lns import contiguous_incumbent, regroup
from solvers.districting_local import LocalSearch, connected_without
from solvers.districting_reach import add_neighbour_rows, unreachable
from tests.test_districting import (
    SETTINGS,
    brute_force,
    feasible,
    greenfield,
    grid,
    plan_value,
    plans,
    potentials,
    ranked,
)


@SETTINGS
@given(
    p=potentials,
    k=st.sampled_from([2, 3]),
    tol=st.sampled_from([0.1, 0.25, 0.5]),
    seed=st.integers(0, 10**6),
)
def test_contiguous_plans_from_any_start_are_feasible_and_not_below_the_optimum(p, k, tol, seed):
    """Start from a random plan (pieces, bands broken): what comes back is contiguous,
    balanced, and no cheaper than the contiguous optimum."""
    model = greenfield(p, k, tol)
    _, adjacency = grid()
    rng = np.random.default_rng(seed)
    centres = np.sort(rng.choice(model.n_units, size=k, replace=False))
    start = centres[rng.integers(0, k, size=model.n_units)]
    start[centres] = centres
    plan = contiguous_incumbent(model, adjacency, start, time_limit=10.0)
    optimum = brute_force(model, adjacency)
    if plan is None:
        return
    assert optimum is not None  # a plan found means one exists
    assert feasible(model, plan, adjacency)
    assert plan_value(model, plan) >= optimum * (1 - 1e-9) - 1e-9


def test_the_heuristic_finds_the_contiguous_optimum_of_a_simple_grid():
    """Even potentials, 3 territories of 3 units: the three rows (or columns) are optimal,
    and the moves reach them from a scattered start."""
    model = greenfield(np.ones(9), 3, 0.01)
    _, adjacency = grid()
    start = np.array([1, 4, 7, 1, 4, 7, 1, 4, 7])  # centres 1, 4, 7, columns mixed
    plan = contiguous_incumbent(model, adjacency, start, time_limit=10.0)
    assert plan is not None
    assert feasible(model, plan, adjacency)
    assert plan_value(model, plan) == pytest.approx(brute_force(model, adjacency))


@SETTINGS
@given(p=potentials, k=st.sampled_from([2, 3]), tol=st.sampled_from([0.25, 0.5]))
def test_regrouping_the_worst_plan_reaches_the_contiguous_optimum(p, k, tol):
    """From the dearest contiguous plan: with groups as large as K the whole instance is
    designed again (the optimum comes back); with pairs only the plan stays feasible and
    does not get dearer."""
    import time

    model = greenfield(p, k, tol)
    _, adjacency = grid()
    worst = next(ranked(model, adjacency, descending=True), None)
    if worst is None:
        return
    start, start_value = worst
    optimum = brute_force(model, adjacency)
    assert optimum is not None
    whole = regroup(model, adjacency, start, time.perf_counter() + 30, sizes=(k,))
    assert feasible(model, whole, adjacency)
    assert plan_value(model, whole) == pytest.approx(optimum, rel=1e-9, abs=1e-9)
    pairs = regroup(model, adjacency, start, time.perf_counter() + 30, sizes=(2,))
    assert feasible(model, pairs, adjacency)
    assert optimum * (1 - 1e-9) - 1e-9 <= plan_value(model, pairs) <= start_value * (1 + 1e-9)


def test_connectivity_check_of_a_removal():
    """A path 0-1-2-3: taking out a middle unit cuts it, taking out an end does not; a swap
    keeps it whole only when the unit added bridges the gap."""
    neighbours = [[1], [0, 2], [1, 3], [2]]
    assert not connected_without(neighbours, {0, 1, 2}, 1)
    assert connected_without(neighbours, {0, 1, 2}, 0)
    assert connected_without(neighbours, {0, 1, 3}, 3, added=2)
    assert not connected_without(neighbours, {0, 1, 2}, 2, added=3)


def test_a_move_that_would_cut_its_territory_is_refused():
    """On the 3×3 grid, three columns: A in the middle (centre 1, top), B left (centre 6),
    C right (centre 8). Moving unit 4 (A's middle) to B pays, and nothing else does, but it
    would cut A's unit 7 off its centre: it must not happen."""
    cost = np.full((9, 9), 10.0)
    cost[[1, 4, 7], 1] = 1.0
    cost[[0, 3, 6], 6] = 5.0
    cost[[2, 5, 8], 8] = 5.0
    cost[[1, 6, 8], [1, 6, 8]] = 0.0  # centres cost nothing in their own territory
    cost[4, 6] = 0.0  # unit 4 would rather be in B
    model = replace(greenfield(np.ones(9), 3, 1.0), cost=cost)
    _, adjacency = grid()
    plan = np.array([6, 1, 8, 6, 1, 8, 6, 1, 8])
    assert feasible(model, plan, adjacency)
    local = LocalSearch(model, adjacency, plan)
    local.improve(deadline=float("inf"))
    assert feasible(model, local.plan, adjacency)
    assert local.plan[4] == 1, "unit 7 would be cut off from centre 1"


@SETTINGS
@given(p=potentials, k=st.sampled_from([2, 3]), tol=st.sampled_from([0.1, 0.25, 0.5]))
def test_the_lagrangian_bound_never_exceeds_the_optimum(p, k, tol):
    model = greenfield(p, k, tol)
    candidates = plans(model)
    found = lagrangian_bound(model, upper=1e6, seconds=5.0, max_iterations=200)
    if len(candidates) == 0:
        return
    optimum = model.cost[np.arange(model.n_units)[None, :], candidates].sum(axis=1).min()
    assert found.bound <= optimum * (1 + 1e-9) + 1e-9
    # at the LP's own duals it is at least the LP bound (the relaxation is the LP's or tighter)
    problem = HighsDistricting(model)
    report = problem.solve(integer=False, time_limit=10)
    assert report.objective is not None
    at_duals, _, _ = evaluate(model, problem.assignment_duals())
    assert at_duals >= report.objective * (1 - 1e-7) - 1e-7
    assert at_duals <= optimum * (1 + 1e-9) + 1e-9


def test_unfinished_pricing_reports_the_lagrangian_bound(monkeypatch):
    """Pricing cut short (no time for it): the bound is still there, and still a bound."""
    monkeypatch.setattr(search, "PRICED_PAIRS", 0)
    monkeypatch.setattr(search, "NEAREST", 2)
    monkeypatch.setattr(search, "ADD_PER_UNIT", 1)
    monkeypatch.setattr(search, "PRICE_SHARE", 0.0)
    p = np.array([3, 1, 4, 1, 5, 9, 2, 6, 5], dtype=float)
    model = greenfield(p, 3, 0.5)
    result = solve_districting(model, gap=0.0, time_limit=5.0, backend="highs")
    optimum = brute_force(model, None)
    assert optimum is not None
    assert result.lower_bound is not None
    assert result.lower_bound <= optimum * (1 + 1e-9)
    # ended before its time limit: optimal when the bound reached the plan, else feasible
    assert result.objective is not None and result.status in ("optimal", "feasible")
    closed = result.lower_bound >= result.objective * (1 - 1e-9)
    assert (result.status == "optimal") == closed


@SETTINGS
@given(p=potentials, k=st.sampled_from([2, 3]), tol=st.sampled_from([0.1, 0.25, 0.5]))
def test_reach_fixing_and_neighbour_rows_keep_every_contiguous_plan(p, k, tol):
    """No pair of a feasible contiguous plan is out of reach, and every such plan satisfies
    the neighbour rows (checked on the rows as HiGHS holds them)."""
    model = greenfield(p, k, tol)
    _, adjacency = grid()
    out = unreachable(model, adjacency)
    problem = HighsDistricting(model)
    rows, _ = add_neighbour_rows(problem, adjacency)
    lp = problem.highs.getLp()
    matrix = lp.a_matrix_
    a = sparse.csc_matrix(
        (matrix.value_, matrix.index_, matrix.start_), shape=(lp.num_row_, lp.num_col_)
    ).tocsr()
    upper = np.asarray(lp.col_upper_)
    neighbour = a[lp.num_row_ - rows :]
    for plan, _ in ranked(model, adjacency):
        assert not out[np.arange(model.n_units), plan].any()
        x = problem.vector(plan)
        assert np.all(neighbour @ x <= 1e-9)
        assert np.all(x <= upper)


@SETTINGS
@given(
    p=potentials,
    k=st.sampled_from([2, 3]),
    tol=st.sampled_from([0.1, 0.5]),
    seed=st.integers(0, 10**6),
)
def test_pruned_evaluation_equals_the_full_one(p, k, tol, seed):
    """Solving only the centres that may be among the K cheapest (from any band prices)
    gives the same L as solving every centre."""
    model = greenfield(p, k, tol)
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, 2 * model.cost.mean(), size=model.n_units)
    theta = rng.normal(0, 1, size=model.n_centres)
    full, _, _ = evaluate(model, lam)
    pruned, _, _ = evaluate(model, lam, theta)
    assert pruned == pytest.approx(full, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("status", "value", "bound", "gap", "expected"),
    [
        ("feasible", 100.0, 100.0, 0.0, "optimal"),  # the bound reached the plan
        ("time_limit", 100.0, 99.6, 0.005, "optimal"),  # within the gap asked for
        ("feasible", 100.0, 99.0, 0.005, "feasible"),  # 1 % apart: stays a plan with a gap
        ("time_limit", 100.0, 99.0, 0.0, "time_limit"),
        ("error", 100.0, 100.0, 0.0, "error"),  # never turns an error into a proof
    ],
)
def test_a_bound_that_reaches_the_plan_makes_it_optimal(status, value, bound, gap, expected):
    found, message = search._closed_status(status, "as before", value, bound, gap)
    assert found == expected
    if expected == "optimal":
        # says whether it is proved outright or within the gap asked for
        assert ("gap asked for" in message) == (bound < value)
    else:
        assert message == "as before"
