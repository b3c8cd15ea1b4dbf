"""Baselines (a) newcomer PuLP + CBC and (c) bare highspy floor measure the same model as ours."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.floor import LPCapture, run_floor
from benchmarks.generate import generate
from benchmarks.newcomer import cbc_solver, estimate, solve_newcomer
from territory.align import align, build_model, plan_objective
from territory.costs import PairCosts
from territory.inputs import inputs_from_frames
from territory.params import AlignParams
from tests.conftest import brute_force

SEED = 7


def _generated(n: int, k: int):
    accounts, reps = generate(n, k, SEED)
    return inputs_from_frames(accounts, reps)


def _model(inputs, params: AlignParams):
    costs = PairCosts(inputs, params)
    return costs, build_model(inputs, params, costs)


needs_cbc = pytest.mark.skipif(
    cbc_solver() is None, reason="no CBC in this PuLP (PuLP 4 bundles none)"
)


@needs_cbc
def test_newcomer_matches_brute_force_on_tiny(tiny_inputs) -> None:
    params = AlignParams()
    costs, model = _model(tiny_inputs, params)
    out = solve_newcomer(model, time_limit=30)
    best, _ = brute_force(tiny_inputs, params)
    assert out["has_solution"] and out["solution_status"] == "Optimal Solution Found"
    assert out["variables"] == tiny_inputs.n_accounts * tiny_inputs.n_reps
    assert plan_objective(costs, out["assignment"]) == pytest.approx(best, rel=1e-9)
    assert out["solver_objective"] == pytest.approx(best, rel=1e-9)


@pytest.mark.parametrize(
    "params",
    [
        AlignParams(gap=0.0, mip="always", time_limit=30),
        AlignParams(gap=0.0, mip="always", time_limit=30, max_moved=0.3, tolerance=0.08),
    ],
    ids=["default bands", "moved cap"],
)
@needs_cbc
def test_newcomer_and_ours_reach_the_same_optimum(params: AlignParams) -> None:
    inputs = _generated(40, 3)
    costs, model = _model(inputs, params)
    out = solve_newcomer(model, time_limit=30)
    plan = align(inputs, params)
    assert plan.outcome is not None and plan.status == "optimal"
    assert out["solution_status"] == "Optimal Solution Found"
    ours = plan_objective(costs, plan.assignment)
    assert plan_objective(costs, out["assignment"]) == pytest.approx(ours, rel=1e-6)


@pytest.mark.parametrize(
    ("params", "fix_by_prices"),
    [
        (AlignParams(), False),
        (AlignParams(max_moved=0.25, workload_tolerance=None), False),
        (AlignParams(), True),
    ],
    ids=["default bands", "moved cap, capacity only", "price-fixing path"],
)
def test_floor_lp_equals_our_lp_on_the_same_pairs(
    params: AlignParams, fix_by_prices: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fix_by_prices:  # the large-instance path (dual fixing, elastic live LP) on a small one
        monkeypatch.setattr("solvers.solve.FIX_MIN_PAIRS", 0)
    inputs = _generated(150, 5)
    capture = LPCapture()
    capture.install()
    try:
        plan = align(inputs, params)
    finally:
        capture.uninstall()
    lp = capture.last
    assert lp is not None and lp.objective is not None and lp.converged
    assert plan.outcome is not None and ("dual" in plan.outcome.timings) == fix_by_prices
    assert lp.objective == pytest.approx(plan.outcome.lp_objective, rel=1e-12)
    _, model = _model(inputs, params)
    floor = run_floor(model, lp.pair_a, lp.pair_r, lp.cost_scale, time_limit=30)
    assert floor["optimal"]
    assert floor["columns"] == len(lp.pair_a)
    assert floor["objective"] == pytest.approx(lp.objective, rel=1e-7)
    # the LP relaxation bounds the integral plan from below
    assert floor["objective"] <= plan_objective(PairCosts(inputs, params), plan.assignment) + 1e-6


def test_floor_lp_on_fewer_pairs_is_no_lower() -> None:
    """Dropping columns can only raise the LP value: nearest-6 pairs against all pairs."""
    inputs = _generated(200, 10)
    params = AlignParams(candidates=6)
    costs, model = _model(inputs, params)
    k = model.n_reps
    a_all = np.repeat(np.arange(model.n_accounts), k)
    r_all = np.tile(np.arange(k), model.n_accounts)
    full = run_floor(model, a_all, r_all, 1.0, time_limit=30)
    a0, r0 = costs.initial_pairs()
    part = run_floor(model, a0, r0, 1.0, time_limit=30)
    assert full["optimal"] and part["optimal"]
    assert part["columns"] < full["columns"] == model.n_accounts * k
    assert part["objective"] >= full["objective"] * (1 - 1e-9)


def test_estimate_scales_the_largest_run() -> None:
    measured = {"instance": "sample", "variables": 1_000, "build_seconds": 2.0, "rss_peak_mib": 10}
    est = estimate(50_000, measured)
    assert est == {
        "variables": 50_000,
        "from_instance": "sample",
        "build_seconds": pytest.approx(100.0),
        "rss_mib": pytest.approx(500.0),
    }
    assert estimate(10, None) == {"variables": 10}


def test_newcomer_skipped_above_the_pair_limit() -> None:
    from benchmarks.run import _newcomer

    done = [
        {
            "newcomer": {
                "ok": True,
                "data": {
                    "instance": "60x3",
                    "variables": 180,
                    "build_seconds": 0.1,
                    "rss_peak_mib": 90.0,
                },
            }
        }
    ]
    record = _newcomer("500x50", SEED, 20.0, 1_000, done)
    assert record["skipped"]["variables"] == 25_000
    assert record["skipped"]["from_instance"] == "60x3"
    assert record["skipped"]["build_seconds"] == pytest.approx(0.1 * 25_000 / 180)


def test_benchmark_run_reports_the_new_baselines(tmp_path) -> None:
    """One tiny instance through the real child-process harness, rendered and dumped."""
    from benchmarks.report import write_report
    from benchmarks.run import run_all

    out, raw = tmp_path / "bench.md", tmp_path / "bench.json"
    (record,) = run_all(
        ["60x3"],
        30.0,
        out,
        seed=SEED,
        baselines=False,
        json_path=raw,
        command="python -m benchmarks --sizes 60x3",
        newcomer_time_limit=20.0,
    )
    assert record["align"]["ok"] and record["floor"]["ok"]
    cmp = record["comparison"]
    assert abs(cmp["floor_vs_our_lp"]) < 1e-7
    assert cmp["align_over_floor"] > 0 and cmp["lp_phase_over_floor_solve"] > 0
    has_cbc = cbc_solver() is not None
    if has_cbc:
        assert record["newcomer"]["ok"]
        assert cmp["newcomer_gap_to_our_bound"] >= -1e-6
    else:  # PuLP 4: reported as unavailable, not as a failure
        assert "no CBC" in record["newcomer"]["unavailable"]
    assert record["floor"]["data"]["pairs_source"] == "final candidate pairs of our LP"
    text = out.read_text()
    for heading in ("## Newcomer PuLP + CBC", "## Bare highspy floor"):
        assert heading in text
    assert "ratio: LP phase / floor solve" in text
    assert "ratio: align total / floor total" in text
    # its plan in the baselines table, or the reason it is missing
    assert ("newcomer PuLP + CBC" in text) if has_cbc else ("has no CBC" in text)
    dumped = json.loads(raw.read_text())
    assert dumped["records"][0]["comparison"] == cmp
    # a larger instance past the pair limit renders as an estimate, not a run
    skipped = {
        **record,
        "instance": "500x50",
        "newcomer": {
            "skipped": {
                "variables": 25_000,
                "from_instance": "60x3",
                "build_seconds": 1.5,
                "rss_mib": 900.0,
            },
            "max_pairs": 1_000,
        },
    }
    write_report(out, dumped["meta"], [record, skipped])
    assert "| 500x50 | 25,000 | not run (above 1,000 pairs); scaled from 60x3" in out.read_text()
