"""The potential-band flow: the same value as the LP without workload rows, band prices that
give a valid bound for the full model, and the large-instance path that uses them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import solvers.coarsening as coarsening_module
import solvers.solve as solve_module
from solvers.flow import potential_flow, solve_flow
from solvers.pricing import all_pairs
from solvers.solve import Clock, _meets_all, column_generation, plan_cost
from territory.align import build_model
from territory.costs import PairCosts
from territory.params import AlignParams
from tests.conftest import brute_force, make_inputs


def _random_inputs(seed: int, n_accounts: int, n_reps: int):
    rng = np.random.default_rng(seed)
    accounts = [
        {
            "account_id": f"a{i}",
            "lat": float(40 + rng.normal(0, 1.0)),
            "lon": float(-90 + rng.normal(0, 1.5)),
            "potential": float(rng.lognormal(3, 0.8)),
            "workload": float(rng.lognormal(1, 0.3)),
        }
        for i in range(n_accounts)
    ]
    reps = [
        {
            "rep_id": f"r{j}",
            "lat": float(40 + rng.normal(0, 1)),
            "lon": float(-90 + rng.normal(0, 1)),
        }
        for j in range(n_reps)
    ]
    return make_inputs(accounts, reps)


def _model(inputs, params: AlignParams):
    costs = PairCosts(inputs, params)
    model = build_model(inputs, params, costs)
    a, r = all_pairs(model, 10**6)
    return replace(model, cost_scale=float(costs.cost(a, r).mean())), a, r


def _potential_only(model):
    k = model.n_reps
    return replace(
        model, work_target=None, work_tolerance=None, capacity=np.full(k, np.inf), max_moved=None
    )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), n_accounts=st.integers(8, 60), n_reps=st.integers(2, 7))
def test_flow_value_and_bound_match_the_lp_without_workload_rows(seed, n_accounts, n_reps):
    inputs = _random_inputs(seed, n_accounts, n_reps)
    model, a, r = _model(inputs, AlignParams(tolerance=0.2))
    model = _potential_only(model)
    lp = column_generation(model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None)
    relaxed = potential_flow(model, a, r, lambda: 60.0, lambda *_: None)
    if lp.status == "infeasible":
        assert relaxed is None
        return
    assert relaxed is not None and relaxed.level == "accounts"
    # integer flow units and costs: equal up to their rounding
    assert relaxed.objective == pytest.approx(lp.objective, rel=1e-4)
    assert relaxed.bound == pytest.approx(lp.objective, rel=1e-4)
    # the shares are the flow's: each account whole, the bands met up to the unit rounding
    per_account = np.bincount(relaxed.pair_a, relaxed.x, model.n_accounts)
    assert np.allclose(per_account[model.active], 1.0)
    load = np.bincount(relaxed.pair_r, relaxed.x * model.potential[relaxed.pair_a], n_reps)
    slack = 1e-6 * model.potential.sum()
    assert np.all(load >= (1 - model.tolerance) * model.pot_target - slack)
    assert np.all(load <= (1 + model.tolerance) * model.pot_target + slack)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_the_flow_bound_never_exceeds_the_optimum_with_workload_bands(seed):
    inputs = _random_inputs(seed, 7, 3)
    params = AlignParams(tolerance=0.3, workload_tolerance=0.2)
    optimum, _ = brute_force(inputs, params)
    model, a, r = _model(inputs, params)
    relaxed = potential_flow(model, a, r, lambda: 60.0, lambda *_: None)
    if relaxed is None:
        return
    assert relaxed.bound <= optimum * (1 + 1e-9) + 1e-9


def test_band_prices_are_signed_by_the_band_edge_and_give_the_optimum():
    # two reps, one account each at distance 1 and 3 from either; potentials 10 and 30 with
    # bands [18, 22]: the heavy account must split, 8 of it going to its dearer rep
    supply = np.array([10.0, 30.0])
    node, rep = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    per_unit = np.array([1.0, 3.0, 3.0, 1.0])
    cost = per_unit * supply[node]
    band = np.array([18.0, 22.0])
    solved = solve_flow(supply, node, rep, cost, np.full(2, band[0]), np.full(2, band[1]))
    assert solved is not None
    # optimum: account 0 wholly to rep 0 (10), account 1 gives 8 to rep 0 and 22 to rep 1
    assert solved.objective == pytest.approx(10 * 1 + 8 * 3 + 22 * 1, rel=1e-6)
    # rep 0 sits at its lower band (price >= 0), rep 1 at its upper one (price <= 0), and the
    # split account is indifferent: 3 - λ0 = 1 - λ1; the Lagrangian value at λ is the optimum
    lam = solved.prices
    assert lam[0] >= -1e-9 and lam[1] <= 1e-9
    assert lam[0] - lam[1] == pytest.approx(2.0, abs=1e-5)
    value = 10 * min(1 - lam[0], 3 - lam[1]) + 30 * min(3 - lam[0], 1 - lam[1])
    value += sum(x * (band[0] if x > 0 else band[1]) for x in lam)
    assert value == pytest.approx(solved.objective, rel=1e-6)


def test_no_flow_when_the_bands_cannot_be_met():
    supply = np.array([10.0, 10.0])
    node, rep = np.array([0, 1]), np.array([0, 0])  # both accounts can only go to rep 0
    assert solve_flow(supply, node, rep, supply.copy(), np.full(2, 9.0), np.full(2, 11.0)) is None


def test_large_instance_path_takes_flow_prices_and_says_so(monkeypatch):
    # the thresholds lowered so that a small instance takes the path meant for thousands of
    # reps: the plan meets the bands, its re-scored cost is at least the reported bound
    inputs = _random_inputs(11, 400, 12)
    params = AlignParams(tolerance=0.05, workload_tolerance=0.1)
    model = build_model(inputs, params, PairCosts(inputs, params))
    monkeypatch.setattr(solve_module, "MANY_REPS", 10)
    monkeypatch.setattr(solve_module, "FIX_MIN_PAIRS", 100)
    monkeypatch.setattr(coarsening_module, "CLUSTERS_PER_REP", 10)
    lines: list[str] = []
    outcome = solve_module.solve_balanced_assignment(
        model, time_limit=60, progress=lambda phase, detail: lines.append(detail)
    )
    assert outcome.relaxation == solve_module.FLOW_RELAXATION
    assert any(line.startswith("plan flow in bands narrowed") for line in lines)
    assert "flow" in outcome.timings and "flow (OR-Tools)" in outcome.message
    assert _meets_all(model, outcome.assignment)
    cost = plan_cost(model, outcome.assignment)
    assert cost == pytest.approx(outcome.objective)
    assert outcome.lower_bound is not None and outcome.lower_bound <= cost * (1 + 1e-9)
    reference = solve_module.solve_balanced_assignment(model, time_limit=60, fix_by_prices=False)
    assert outcome.lower_bound <= reference.objective * (1 + 1e-9)
