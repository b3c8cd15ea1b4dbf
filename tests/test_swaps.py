"""Swaps between two reps cut a feasible plan's cost where single moves cannot."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.pricing import all_pairs
from solvers.repair import Violation, loads_of, repair
from solvers.solve import plan_cost
from solvers.swaps import improve_by_swaps, swaps_widening
from territory.align import build_model
from territory.costs import PairCosts
from territory.params import AlignParams
from tests.conftest import brute_force, make_inputs


def _model(accounts, reps, params):
    inputs = make_inputs(accounts, reps)
    model = build_model(inputs, params, PairCosts(inputs, params))
    a, r = all_pairs(model, 10**6)
    return inputs, model, a, r, model.costs.cost(a, r)


def _random_rows(rng, n_accounts: int, extra: str) -> tuple[list[dict], list[dict]]:
    """Three reps and ``n_accounts`` accounts in the unit square; ``extra`` adds a random
    ``current_rep`` or ``workload`` column."""
    reps = [
        {"rep_id": f"r{j}", "lat": float(rng.uniform(-1, 1)), "lon": float(rng.uniform(-1, 1))}
        for j in range(3)
    ]
    accounts = []
    for i in range(n_accounts):
        row = {
            "account_id": f"a{i}",
            "lat": float(rng.uniform(-1, 1)),
            "lon": float(rng.uniform(-1, 1)),
            "potential": float(rng.integers(1, 20)),
        }
        row[extra] = (
            f"r{int(rng.integers(3))}" if extra == "current_rep" else float(rng.integers(1, 20))
        )
        accounts.append(row)
    return accounts, reps


def _feasible(model, assignment) -> bool:
    return Violation(model).total(loads_of(model, assignment)) <= 1e-12


def test_a_swap_fixes_two_crossed_accounts_that_no_single_move_can():
    # west rep at lon 0, east rep at lon 1; every account has potential 10, bands 20 ± 1 each.
    # The plan gives "far_w" (lon 0.9) to west and "far_e" (lon 0.1) to east: moving either
    # alone breaks both bands; swapping them is the optimum (each account to its nearer rep).
    accounts = [
        {"account_id": "near_w", "lat": 0.0, "lon": 0.0, "potential": 10},
        {"account_id": "far_w", "lat": 0.0, "lon": 0.9, "potential": 10},
        {"account_id": "near_e", "lat": 0.0, "lon": 1.0, "potential": 10},
        {"account_id": "far_e", "lat": 0.0, "lon": 0.1, "potential": 10},
    ]
    reps = [
        {"rep_id": "west", "lat": 0.0, "lon": 0.0},
        {"rep_id": "east", "lat": 0.0, "lon": 1.0},
    ]
    params = AlignParams(tolerance=0.05)
    inputs, model, a, r, cost = _model(accounts, reps, params)
    crossed = np.array([0, 0, 1, 1])
    assert _feasible(model, crossed)
    assert (repair(model, crossed, a, r, cost) == crossed).all()  # single moves are stuck
    swapped = improve_by_swaps(model, crossed, a, r, cost)
    optimum, _ = brute_force(inputs, params)
    assert plan_cost(model, crossed) > optimum * 1.5
    assert np.isclose(plan_cost(model, swapped), optimum, rtol=1e-9)


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    tolerance=st.sampled_from([0.05, 0.1, 0.2]),
    max_moved=st.sampled_from([None, 0.5]),
)
def test_swaps_keep_a_feasible_plan_feasible_and_never_cost_more(seed, tolerance, max_moved):
    rng = np.random.default_rng(seed)
    accounts, reps = _random_rows(rng, 7, "current_rep")
    params = AlignParams(tolerance=tolerance, max_moved=max_moved)
    inputs, model, a, r, cost = _model(accounts, reps, params)
    _, plan = brute_force(inputs, AlignParams(tolerance=tolerance, max_moved=max_moved))
    if plan is None:
        return
    # start from a feasible plan that is not the optimum: the worst feasible permutation of it
    start = plan.copy()
    for _ in range(20):
        trial = start.copy()
        i, j = rng.choice(len(trial), 2, replace=False)
        trial[i], trial[j] = trial[j], trial[i]
        if _feasible(model, trial) and plan_cost(model, trial) >= plan_cost(model, start):
            start = trial
    improved = improve_by_swaps(model, start, a, r, cost)
    assert _feasible(model, improved)
    assert plan_cost(model, improved) <= plan_cost(model, start) * (1 + 1e-12)


def test_a_swap_repairs_a_workload_band_that_no_single_move_can():
    # two reps, four accounts of potential 10 (bands 20 ± 1 each). West holds the two busy
    # accounts (workload 6 each), east the two quiet ones (4 each): workload 12 / 8 against
    # bands of 10 ± 1, violation 0.1 + 0.1. Any single move breaks both potential bands by 9
    # (violation 0.9 at least), so repair is stuck; swapping one busy account for one quiet
    # one gives 10 / 10, and the cheaper of those swaps is the optimum.
    accounts = [
        {"account_id": "busy_w", "lat": 0.0, "lon": 0.0, "potential": 10, "workload": 6},
        {"account_id": "busy_e", "lat": 0.0, "lon": 0.9, "potential": 10, "workload": 6},
        {"account_id": "quiet_w", "lat": 0.0, "lon": 0.1, "potential": 10, "workload": 4},
        {"account_id": "quiet_e", "lat": 0.0, "lon": 1.0, "potential": 10, "workload": 4},
    ]
    reps = [
        {"rep_id": "west", "lat": 0.0, "lon": 0.0},
        {"rep_id": "east", "lat": 0.0, "lon": 1.0},
    ]
    params = AlignParams(tolerance=0.05, workload_tolerance=0.1)
    inputs, model, a, r, cost = _model(accounts, reps, params)
    broken = np.array([0, 0, 1, 1])
    assert not _feasible(model, broken)
    assert (repair(model, broken, a, r, cost) == broken).all()  # single moves are stuck
    repaired = improve_by_swaps(model, broken, a, r, cost)
    assert _feasible(model, repaired)
    optimum, _ = brute_force(inputs, params)
    assert np.isclose(plan_cost(model, repaired), optimum, rtol=1e-9)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), tolerance=st.sampled_from([0.05, 0.2]))
def test_swaps_never_add_violation_to_a_plan_that_breaks_bands(seed, tolerance):
    rng = np.random.default_rng(seed)
    accounts, reps = _random_rows(rng, 9, "workload")
    params = AlignParams(tolerance=tolerance, workload_tolerance=2 * tolerance)
    _, model, a, r, cost = _model(accounts, reps, params)
    start = rng.integers(0, 3, len(accounts))
    violation = Violation(model)
    after = improve_by_swaps(model, start, a, r, cost)
    assert (
        violation.total(loads_of(model, after)) <= violation.total(loads_of(model, start)) + 1e-12
    )


def test_stalled_swaps_reach_the_bands_once_neighbouring_reps_may_trade():
    # reps A, B, C on a line; A's four accounts (potential 10) are quiet (workload 1), C's are
    # busy (3), B holds two big accounts (potential 20, workload 4). Bands: potential [38, 42],
    # workload [5.6, 10.4]: A (4) and C (12) break theirs. The candidates link A and C only to
    # B, whose accounts are too big to trade with either, so swaps over them stall; with the
    # neighbouring reps' pairs, one of A's accounts trades places with one of C's (A 6, C 10).
    reps = [
        {"rep_id": n, "lat": 0.0, "lon": lon} for n, lon in (("A", 0.0), ("B", 1.0), ("C", 2.0))
    ]
    rows = [("a", 0.0, 10.0, 1.0)] * 4 + [("b", 1.0, 20.0, 4.0)] * 2 + [("c", 2.0, 10.0, 3.0)] * 4
    accounts = [
        {"account_id": f"{kind}{i}", "lat": 0.01 * i, "lon": lon, "potential": p, "workload": w}
        for i, (kind, lon, p, w) in enumerate(rows)
    ]
    params = AlignParams(tolerance=0.05, workload_tolerance=0.3)
    _, model, _, _, _ = _model(accounts, reps, params)
    plan = np.array([0] * 4 + [1] * 2 + [2] * 4)
    a = np.repeat(np.arange(10), 2)
    r = np.where(np.arange(20) % 2 == 0, np.repeat(plan, 2), 1)
    keep = np.r_[True, (a[1:] != a[:-1]) | (r[1:] != r[:-1])]
    a, r = a[keep], r[keep]
    cost = model.costs.cost(a, r)
    violation = Violation(model)
    stalled = improve_by_swaps(model, plan, a, r, cost)
    assert violation.total(loads_of(model, stalled)) > 0
    widened = swaps_widening(model, plan, a, r, cost)
    assert violation.total(loads_of(model, widened)) <= 1e-9
    assert 2 in widened[:4] and 0 in widened[6:]
