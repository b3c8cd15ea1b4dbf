"""Pricing reaches the full model; infeasible instances are explained, not crashed on."""

from __future__ import annotations

import numpy as np
import pytest

from territory.align import align
from territory.params import AlignParams
from tests.conftest import make_inputs


def _clustered(seed: int = 3) -> tuple[list[dict], list[dict]]:
    """Five reps in a dense cluster and one alone far east, with few accounts near it."""
    rng = np.random.default_rng(seed)
    accounts = []
    for i in range(70):
        lat, lon = rng.normal(0, 0.4), rng.normal(0, 0.4)
        accounts.append(
            {"account_id": f"c{i}", "lat": lat, "lon": lon, "potential": float(rng.integers(5, 30))}
        )
    for i in range(4):
        accounts.append(
            {
                "account_id": f"e{i}",
                "lat": rng.normal(0, 0.2),
                "lon": 6 + rng.normal(0, 0.2),
                "potential": 5.0,
            }
        )
    reps = [
        {"rep_id": f"r{j}", "lat": float(np.cos(j)) * 0.3, "lon": float(np.sin(j)) * 0.3}
        for j in range(5)
    ]
    reps.append({"rep_id": "far", "lat": 0.0, "lon": 6.0})
    return accounts, reps


def test_pricing_reaches_the_full_lp_from_one_candidate_per_account():
    accounts, reps = _clustered()
    inputs = make_inputs(accounts, reps)
    sparse = align(inputs, AlignParams(candidates=1, mip="never"))
    full = align(inputs, AlignParams(candidates=len(reps), mip="never"))
    # the far rep's own accounts cannot fill its band: the sparse start is infeasible
    assert sparse.outcome.candidate_pairs["initial"] < full.outcome.candidate_pairs["initial"]
    assert sparse.outcome.pricing_rounds > 1
    assert sparse.outcome.lp_objective == pytest.approx(full.outcome.lp_objective, rel=1e-7)
    assert sparse.outcome.lower_bound == pytest.approx(full.outcome.lower_bound, rel=1e-7)
    assert sparse.metrics()["balanced"]


def test_lower_bound_is_below_the_exact_optimum():
    accounts, reps = _clustered(seed=5)
    inputs = make_inputs(accounts, reps)
    heuristic = align(inputs, AlignParams(candidates=2, mip="never"))
    exact = align(inputs, AlignParams(mip="always", gap=0.0, time_limit=60))
    assert exact.status == "optimal"
    assert heuristic.outcome.lower_bound <= exact.objective * (1 + 1e-9)
    assert heuristic.objective >= exact.objective * (1 - 1e-9)


def test_an_account_above_every_band_is_explained_with_the_tightest_tolerance():
    # Target 65 each; the best split is {100} / {10, 10, 10}: indices 153.8 and 46.2.
    accounts = [
        {"account_id": "big", "lat": 0, "lon": 0.1, "potential": 100},
        {"account_id": "s1", "lat": 0, "lon": 0.2, "potential": 10},
        {"account_id": "s2", "lat": 0, "lon": 0.3, "potential": 10},
        {"account_id": "s3", "lat": 0, "lon": 0.4, "potential": 10},
    ]
    reps = [{"rep_id": "a", "lat": 0, "lon": 0}, {"rep_id": "b", "lat": 0, "lon": 0.5}]
    plan = align(make_inputs(accounts, reps), AlignParams(tolerance=0.05))
    assert plan.status == "infeasible"
    assert any("big" in reason for reason in plan.prechecks)
    info = plan.outcome.infeasibility
    assert info["tolerance_exact"] is True
    assert info["tightest_tolerance"] == pytest.approx(35 / 65, rel=1e-6)
    assert "tightest achievable" in info["reason"]
    metrics = plan.metrics()
    assert metrics["potential_index_max"] == pytest.approx(100 * 100 / 65, rel=1e-6)
    assert np.all(plan.assignment >= 0)


def test_capacity_below_total_workload_is_infeasible_at_any_tolerance():
    accounts = [
        {"account_id": f"x{i}", "lat": 0, "lon": i / 10, "potential": 10, "workload": 10}
        for i in range(4)
    ]
    reps = [
        {"rep_id": "a", "lat": 0, "lon": 0, "capacity": 15},
        {"rep_id": "b", "lat": 0, "lon": 0.3, "capacity": 15},
    ]
    plan = align(make_inputs(accounts, reps), AlignParams())
    assert plan.status == "infeasible"
    assert any("capacity" in reason for reason in plan.prechecks)
    assert "any balance tolerance" in plan.outcome.message


def test_max_distance_leaves_unreachable_accounts_uncovered():
    accounts = [
        {"account_id": "near1", "lat": 0, "lon": 0.1, "potential": 10},
        {"account_id": "near2", "lat": 0, "lon": 0.2, "potential": 10},
        {"account_id": "remote", "lat": 10, "lon": 10, "potential": 50},
    ]
    reps = [{"rep_id": "a", "lat": 0, "lon": 0}, {"rep_id": "b", "lat": 0, "lon": 0.3}]
    plan = align(make_inputs(accounts, reps), AlignParams(max_distance=100, gap=0.0))
    assert plan.status == "optimal"
    assert plan.assignment[2] == -1
    m = plan.metrics()
    assert m["uncovered_accounts"] == 1 and m["uncovered_potential"] == 50
    assert m["balanced"]


def test_move_cap_limits_moved_potential():
    rng = np.random.default_rng(11)
    accounts = [
        {
            "account_id": f"a{i}",
            "lat": rng.normal(),
            "lon": rng.normal(),
            "potential": float(rng.integers(1, 20)),
            "current_rep": "r0" if i % 3 else "r1",
        }
        for i in range(40)
    ]
    reps = [{"rep_id": f"r{j}", "lat": rng.normal(), "lon": rng.normal()} for j in range(3)]
    inputs = make_inputs(accounts, reps)
    free = align(inputs, AlignParams(tolerance=0.2, mip="never"))
    capped = align(inputs, AlignParams(tolerance=0.2, max_moved=0.45, mip="auto"))
    assert capped.metrics()["moved_potential_share"] <= 0.45 + 1e-9
    assert free.metrics()["moved_potential_share"] >= capped.metrics()["moved_potential_share"]
    assert capped.status in ("optimal", "feasible")


def test_direct_highs_lp_and_pulp_lp_are_the_same_model():
    """The matrix path behind PuLP must give the LP that PuLP builds, round for round."""
    from dataclasses import replace

    from solvers.solve import Clock, column_generation
    from territory.align import build_model
    from territory.costs import PairCosts

    accounts, reps = _clustered(seed=7)
    for account in accounts[::3]:
        account["current_rep"] = "r1"
        account["workload"] = 3.0
    inputs = make_inputs(accounts, reps)
    params = AlignParams(candidates=2, max_moved=0.5, tolerance=0.1)
    costs = PairCosts(inputs, params)
    model = build_model(inputs, params, costs)
    a0, r0 = costs.initial_pairs()
    ra, rr = costs.rep_candidates(1.5 * model.pot_target, model.potential)
    keys = np.unique(np.r_[a0 * len(reps) + r0, ra * len(reps) + rr])
    a0, r0 = keys // len(reps), keys % len(reps)
    model = replace(model, cost_scale=float(costs.cost(a0, r0).mean()))
    results = [
        column_generation(model, "HiGHS", a0, r0, "cost", Clock(60), lambda *_: None, direct)
        for direct in (True, False)
    ]
    direct, pulp_lp = results
    assert direct.status == pulp_lp.status == "optimal"
    assert direct.rounds == pulp_lp.rounds > 1  # pricing added pairs
    assert direct.objective == pytest.approx(pulp_lp.objective, rel=1e-8)
    assert direct.bound == pytest.approx(pulp_lp.bound, rel=1e-8)
    np.testing.assert_array_equal(direct.pair_a, pulp_lp.pair_a)
    np.testing.assert_array_equal(direct.pair_r, pulp_lp.pair_r)


def test_when_the_lp_cannot_finish_lagrangian_prices_still_give_a_plan_and_a_bound(
    monkeypatch,
):
    from solvers import lp_backends

    def stopped(self, time_limit):
        return lp_backends.LPSolve("time_limit", None, np.zeros(len(self.pair_a)), None, {}, None)

    accounts, reps = _clustered(seed=9)
    inputs = make_inputs(accounts, reps)
    exact = align(inputs, AlignParams(tolerance=0.1, mip="always", gap=0.0, time_limit=60))
    assert exact.status == "optimal"
    monkeypatch.setattr(lp_backends.HighsLP, "solve", stopped)
    plan = align(inputs, AlignParams(tolerance=0.1, mip="never"))
    assert plan.status in ("time_limit", "error")
    assert "LP stopped" in plan.outcome.message
    assert plan.outcome.lower_bound <= exact.objective * (1 + 1e-9)
    if plan.status == "time_limit":
        assert np.all(plan.assignment >= 0) and plan.metrics()["balanced"]
        assert plan.objective >= exact.objective * (1 - 1e-9)
