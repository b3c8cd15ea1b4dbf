"""The bisection plan: every rep's load near its target, whatever the geography, and its
pairs among the LP's first candidates."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from solvers.bisection import bisection_plan
from solvers.solve import _bisection_pairs
from territory.align import build_model
from territory.costs import PairCosts
from territory.geo import unit_vectors
from territory.params import AlignParams

from .conftest import make_inputs


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_accounts=st.integers(1, 300),
    n_reps=st.integers(1, 40),
    fte_mix=st.booleans(),
)
def test_every_load_is_within_half_an_account_per_cut_of_its_share(
    seed: int, n_accounts: int, n_reps: int, fte_mix: bool
) -> None:
    # each cut leaves either side off by at most half an account, and the errors of the cuts
    # above a region add up: at most ceil(log2 K) half accounts in all
    rng = np.random.default_rng(seed)
    accounts = rng.normal(size=(n_accounts, 2)) * rng.uniform(0.1, 3.0, size=2)
    reps = rng.normal(size=(n_reps, 2))
    weight = rng.lognormal(0.0, 1.0, n_accounts)
    target = rng.choice([1.0, 0.5], n_reps) if fte_mix else np.ones(n_reps)
    plan = bisection_plan(accounts, reps, weight, target)
    assert plan.shape == (n_accounts,) and plan.min() >= 0 and plan.max() < n_reps
    load = np.bincount(plan, weight, n_reps)
    share = target / target.sum() * weight.sum()
    cuts = int(np.ceil(np.log2(n_reps))) if n_reps > 1 else 0
    assert np.all(np.abs(load - share) <= 0.5 * cuts * weight.max() * (1 + 1e-9) + 1e-9)
    assert np.array_equal(plan, bisection_plan(accounts, reps, weight, target))


def test_a_metro_short_of_reps_hands_its_outer_accounts_east() -> None:
    # 600 equal accounts around a western metro with 1 rep, 200 around an eastern town with
    # 3 reps; every rep's target is 200. Nearest rep gives the western rep 600 (index 300);
    # the bisection gives every rep exactly 200, so 400 western accounts go east.
    rng = np.random.default_rng(7)
    west = rng.normal([0.0, 0.0], 0.5, size=(600, 2))
    east = rng.normal([10.0, 0.0], 0.5, size=(200, 2))
    accounts = np.vstack([west, east])
    reps = np.array([[0.0, 0.0], [9.0, 1.0], [10.0, -1.0], [11.0, 0.5]])
    plan = bisection_plan(accounts, reps, np.ones(800), np.ones(4))
    assert np.array_equal(np.bincount(plan, minlength=4), [200, 200, 200, 200])
    nearest = np.argmin(((accounts[:, None, :] - reps[None]) ** 2).sum(axis=2), axis=1)
    assert np.bincount(nearest, minlength=4)[0] == 600


def test_bisection_pairs_cover_the_active_accounts_and_skip_forbidden_pairs() -> None:
    accounts = [
        {"account_id": f"a{i}", "lat": 40.0 + 0.01 * i, "lon": -100.0 + 0.02 * i, "potential": 10}
        for i in range(30)
    ]
    # a0 is locked to the rep far east: its bisection rep (the western one) is forbidden
    accounts[0]["locked_rep"] = "east"
    reps = [
        {"rep_id": "west", "lat": 40.0, "lon": -100.0},
        {"rep_id": "east", "lat": 40.3, "lon": -99.4},
    ]
    inputs = make_inputs(accounts, reps)
    params = AlignParams()
    costs = PairCosts(inputs, params)
    model = build_model(inputs, params, costs)
    a, r = _bisection_pairs(model)
    assert set(a.tolist()) == set(range(1, 30))
    assert np.all(np.isfinite(costs.cost(a, r)))
    points, homes = costs.points()
    assert np.allclose(points, unit_vectors(costs.acc_lat, costs.acc_lon))
    assert np.allclose(np.linalg.norm(homes, axis=1), 1.0)


def test_a_plan_rounded_far_from_balance_is_replaced_by_the_repaired_bisection_plan() -> None:
    # 300 accounts around a western metro with 2 reps, 100 around an eastern one with 6: the
    # nearest-rep plan gives the western reps index 300; greedy moves cannot undo that, the
    # bisection plan repaired by swaps meets every band
    from solvers.pricing import all_pairs
    from solvers.solve import Clock, _balanced_from_bisection, _meets_all

    rng = np.random.default_rng(11)
    accounts = [
        {
            "account_id": f"a{i}",
            "lat": float(40 + rng.normal(0, 0.3)),
            "lon": float((-120 if i < 300 else -80) + rng.normal(0, 0.3)),
            "potential": float(rng.integers(50, 150)),
            "workload": float(rng.integers(5, 15)),
        }
        for i in range(400)
    ]
    homes = [(40.1, -120.2), (39.9, -119.8)] + [(40 + 0.2 * j, -80.5 + 0.2 * j) for j in range(6)]
    reps = [{"rep_id": f"r{j}", "lat": lat, "lon": lon} for j, (lat, lon) in enumerate(homes)]
    inputs = make_inputs(accounts, reps)
    params = AlignParams(tolerance=0.05, workload_tolerance=0.1)
    costs = PairCosts(inputs, params)
    model = build_model(inputs, params, costs)
    a, r = all_pairs(model, 10**6)
    nearest = np.argmin(
        costs.cost(np.repeat(np.arange(400), 8), np.tile(np.arange(8), 400)).reshape(400, 8), axis=1
    )
    assert not _meets_all(model, nearest)
    plan, taken = _balanced_from_bisection(model, nearest, a, r, costs.cost(a, r), Clock(60.0))
    assert taken and _meets_all(model, plan)


def test_bisection_pairs_join_the_first_candidates_from_many_reps_on(monkeypatch) -> None:
    # one candidate per account (its nearest rep) cannot carry the western surplus east; with
    # the threshold lowered to these 8 reps the bisection's pairs join the first candidates
    import solvers.solve as solve_module
    from solvers.solve import solve_balanced_assignment

    rng = np.random.default_rng(5)
    accounts = [
        {
            "account_id": f"a{i}",
            "lat": float(40 + rng.normal(0, 0.3)),
            "lon": float((-120 if i < 60 else -80) + rng.normal(0, 0.3)),
            "potential": 100.0,
        }
        for i in range(80)
    ]
    homes = [(40.0, -120.0), (40.0, -119.0)] + [(40 + 0.2 * j, -80.5 + 0.2 * j) for j in range(6)]
    reps = [{"rep_id": f"r{j}", "lat": lat, "lon": lon} for j, (lat, lon) in enumerate(homes)]
    inputs = make_inputs(accounts, reps)
    params = AlignParams(candidates=1)
    model = build_model(inputs, params, PairCosts(inputs, params))
    few = solve_balanced_assignment(model, time_limit=30).candidate_pairs["initial"]
    monkeypatch.setattr(solve_module, "MANY_REPS", 8)
    outcome = solve_balanced_assignment(model, time_limit=30)
    far_a, far_r = _bisection_pairs(model)
    near_a, near_r = PairCosts(inputs, params).initial_pairs()
    extra = np.setdiff1d(far_a * 8 + far_r, near_a * 8 + near_r)
    assert len(extra) > 0 and outcome.candidate_pairs["initial"] > few
    assert outcome.status in ("optimal", "feasible")
