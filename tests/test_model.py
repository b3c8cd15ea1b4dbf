"""The optimiser against known optima: hand-made fixtures and brute force."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territory.align import align
from territory.params import AlignParams
from territory.runs import verify_claims
from tests.conftest import brute_force, make_inputs

REL = 1e-6


def test_tiny_fixture_reaches_the_hand_optimum(tiny_inputs):
    # Optimum by hand: west {a1, a2} (110), east {a3, a4, a5, a6} (100): both in [99.75, 110.25].
    # West {a1, a3} (100) also fits but puts a2 (50) 89 km from east: far costlier.
    params = AlignParams(tolerance=0.05, gap=0.0)
    plan = align(tiny_inputs, params)
    best, _ = brute_force(tiny_inputs, params)
    assert plan.status == "optimal"
    assert plan.objective == pytest.approx(best, rel=REL)
    assert plan.outcome.lower_bound <= plan.objective * (1 + REL)
    reps = tiny_inputs.reps["rep_id"].to_numpy()[plan.assignment]
    assert list(reps) == ["west", "west", "east", "east", "east", "east"]
    assert verify_claims(plan) == []


def test_nearest_rep_is_optimal_when_balance_is_loose(tiny_inputs):
    plan = align(tiny_inputs, AlignParams(tolerance=0.9))
    reps = tiny_inputs.reps["rep_id"].to_numpy()[plan.assignment]
    assert list(reps) == ["west", "west", "west", "east", "east", "east"]
    assert plan.status == "optimal"


def test_locked_account_stays_with_its_rep(tiny_inputs):
    accounts = tiny_inputs.accounts[["account_id", "lat", "lon", "potential"]].copy()
    accounts["locked_rep"] = ["east", "", "", "", "", ""]
    reps = tiny_inputs.reps[["rep_id", "lat", "lon"]]
    inputs = make_inputs(accounts.to_dict("records"), reps.to_dict("records"))
    params = AlignParams(tolerance=0.05, gap=0.0)
    plan = align(inputs, params)
    best, _ = brute_force(inputs, params)
    assert plan.assignment[0] == 1
    assert plan.objective == pytest.approx(best, rel=REL)


def _instance(draw) -> tuple:
    n = draw(st.integers(3, 7))
    k = draw(st.integers(2, 3))
    coords = st.floats(-1.0, 1.0, allow_nan=False)
    with_work = draw(st.booleans())
    accounts = []
    for i in range(n):
        row = {
            "account_id": f"a{i}",
            "lat": draw(coords),
            "lon": draw(coords),
            "potential": draw(st.integers(1, 40)),
            "current_rep": draw(st.sampled_from(["", "r0", "r1", "gone"])),
        }
        if with_work:
            row["workload"] = draw(st.integers(0, 20))
        accounts.append(row)
    reps = [{"rep_id": f"r{j}", "lat": draw(coords), "lon": draw(coords)} for j in range(k)]
    if draw(st.booleans()):
        for rep in reps:
            rep["capacity"] = draw(st.integers(10, 80))
    params = AlignParams(
        tolerance=draw(st.sampled_from([0.1, 0.25, 0.5, 0.9])),
        workload_tolerance=draw(st.sampled_from([None, 0.5, 0.9])),
        max_moved=draw(st.sampled_from([None, 0.2, 0.5])),
        move_penalty=draw(st.sampled_from([0.0, 5.0])),
        distance=draw(st.sampled_from(["great_circle", "squared"])),
        mip="always",
        gap=0.0,
    )
    return accounts, reps, params


@st.composite
def instances(draw):
    return _instance(draw)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_exact_mode_matches_brute_force(instance):
    accounts, reps, params = instance
    inputs = make_inputs(accounts, reps)
    plan = align(inputs, params)
    best, _ = brute_force(inputs, params)
    if np.isfinite(best):
        assert plan.status == "optimal", plan.outcome.message
        assert plan.objective == pytest.approx(best, rel=REL, abs=1e-6)
        assert plan.outcome.lower_bound <= best * (1 + REL) + 1e-6
        assert verify_claims(plan) == []
    else:
        assert plan.status == "infeasible", plan.outcome.message
        assert plan.outcome.infeasibility["reason"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(instances())
def test_heuristic_mode_is_honest(instance):
    """Without the MILP: the bound never exceeds the optimum and a feasible status is true."""
    accounts, reps, params = instance
    params = AlignParams(**{**params.as_dict(), "mip": "never", "gap": 0.005})
    inputs = make_inputs(accounts, reps)
    plan = align(inputs, params)
    best, _ = brute_force(inputs, params)
    assert np.all(plan.assignment[plan.facts.coverable] >= 0) or plan.status != "optimal"
    if plan.outcome.lower_bound is not None and np.isfinite(best):
        assert plan.outcome.lower_bound <= best * (1 + REL) + 1e-6
    if plan.status in ("optimal", "feasible", "time_limit"):
        assert np.isfinite(best)
        assert plan.objective >= best * (1 - REL) - 1e-6
        assert verify_claims(plan) == []
    if not np.isfinite(best):
        assert plan.status in ("infeasible", "error")
