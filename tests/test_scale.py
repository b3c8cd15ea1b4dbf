"""The large-instance path: smoothed dual prices, KD-tree pricing, fixing before the LP."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

import solvers.pricing as pricing
import territory.costs as costs_module
from solvers.dual import BAND_MARGIN, ColumnBands, PairArrays, smoothed_dual
from solvers.pricing import Duals, all_pairs, price
from solvers.solve import Clock, _meets_all, column_generation, solve_balanced_assignment
from territory.align import align, build_model
from territory.costs import PairCosts
from territory.params import AlignParams
from tests.conftest import brute_force, make_inputs
from tests.test_pricing_and_infeasibility import _clustered


def _model(inputs, params):
    costs = PairCosts(inputs, params)
    model = build_model(inputs, params, costs)
    a, r = all_pairs(model, 10**6)
    return replace(model, cost_scale=float(costs.cost(a, r).mean())), a, r


def _full_lp(model, a, r):
    return column_generation(model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None)


def _newton_schedule(model, pairs):
    result = None
    for temperature in (0.3, 0.1, 0.03, 0.01, 0.003, 0.001):
        result = smoothed_dual(
            model, pairs, None if result is None else result.lam, temperature, 50.0, 40
        )
    return result


@pytest.mark.parametrize("max_moved", [None, 0.3])
def test_smoothed_dual_bound_is_valid_and_reaches_the_lp_value(tiny_inputs, max_moved):
    params = AlignParams(max_moved=max_moved)
    optimum, _ = brute_force(tiny_inputs, params)
    model, a, r = _model(tiny_inputs, params)
    pairs = PairArrays.of(model, a, r, model.costs.cost(a, r))
    result = _newton_schedule(model, pairs)
    lp = _full_lp(model, a, r)
    assert result.bound <= optimum * (1 + 1e-9)
    assert result.bound <= lp.objective * (1 + 1e-9)
    assert result.bound == pytest.approx(lp.objective, rel=2e-3)
    # over every pair, pricing gives the same bound: nothing is missing
    assert price(model, result.duals, "cost", a * model.n_reps + r).bound == pytest.approx(
        result.bound, rel=1e-9
    )


def test_newton_stops_when_the_time_is_up_and_its_bound_stays_valid(tiny_inputs):
    """A run out of time takes no Newton step; the bound at the prices it has is still valid."""
    params = AlignParams()
    optimum, _ = brute_force(tiny_inputs, params)
    model, a, r = _model(tiny_inputs, params)
    pairs = PairArrays.of(model, a, r, model.costs.cost(a, r))
    calls = []
    stopped = smoothed_dual(
        model, pairs, None, 0.3, 50.0, 40, out_of_time=lambda: calls.append(1) or True
    )
    assert stopped.newton_steps == 0 and calls
    assert stopped.bound <= optimum * (1 + 1e-9)
    running = smoothed_dual(model, pairs, None, 0.3, 50.0, 40, out_of_time=lambda: False)
    assert running.newton_steps > 0


def test_soft_assignment_is_a_fractional_plan_inside_the_shrunk_bands():
    """At a stationary point the soft assignment meets the (shrunk) bands: a fractional plan
    whose cost is at least the LP optimum and close to it."""
    accounts, reps = _clustered(seed=5)
    inputs = make_inputs(accounts, reps)
    model, a, r = _model(inputs, AlignParams())
    pairs = PairArrays.of(model, a, r, model.costs.cost(a, r))
    result = _newton_schedule(model, pairs)
    share = result.share
    np.testing.assert_allclose(np.add.reduceat(share, pairs.starts), 1.0, rtol=1e-9)
    bands = ColumnBands.of(model).shrunk(BAND_MARGIN)
    loads = (pairs.coef_t @ share)[bands.columns]
    size = np.abs(np.where(np.isfinite(bands.hi), bands.hi, bands.lo))
    assert np.all(loads >= bands.lo - 1e-6 * size)
    assert np.all(loads <= bands.hi + 1e-6 * size)
    lp = _full_lp(model, a, r)
    cost = float(pairs.cost @ share)
    assert cost >= lp.objective * (1 - 1e-9)
    assert cost == pytest.approx(lp.objective, rel=1e-2)
    assert result.bound <= lp.objective * (1 + 1e-9)


@pytest.mark.parametrize("cached", [24, 2])  # every rep cached, or most found by ball queries
@pytest.mark.parametrize("chunk", [25_000_000, 7])  # one chunk of accounts, or one each
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kd_tree_pricing_equals_the_dense_pass(seed, chunk, cached, monkeypatch):
    monkeypatch.setattr(pricing, "PRICING_CHUNK_PAIRS", chunk)
    monkeypatch.setattr(costs_module, "NEAREST_CACHED", cached)
    accounts, reps = _clustered(seed=seed)
    for account in accounts[::4]:
        account["current_rep"] = "r2"
    inputs = make_inputs(accounts, reps)
    params = AlignParams(candidates=2, max_distance=700.0, max_moved=0.4)
    model, _, _ = _model(inputs, params)
    a0, r0 = model.costs.initial_pairs()
    keys = a0 * model.n_reps + r0
    rng = np.random.default_rng(seed)
    k = model.n_reps
    scale = float(model.costs.cost(a0, r0).mean() / model.potential.mean())
    duals = Duals(
        rng.normal(0, scale, model.n_accounts) * model.potential,
        rng.normal(0, scale, k),
        rng.normal(0, scale, k) * 0.1,
        -abs(rng.normal(0, scale)),
        float(rng.normal(0, scale * 100)),
    )
    spatial = price(model, duals, "cost", keys)
    monkeypatch.setattr(model.costs, "cheap_pairs", None, raising=False)
    dense = price(model, duals, "cost", keys)
    assert spatial.bound == pytest.approx(dense.bound, rel=1e-9)
    np.testing.assert_array_equal(
        np.sort(spatial.new_a * k + spatial.new_r), np.sort(dense.new_a * k + dense.new_r)
    )


@pytest.mark.parametrize("spatial", [True, False])
def test_pricing_stopped_by_the_clock_claims_no_bound(spatial, monkeypatch):
    accounts, reps = _clustered(seed=5)
    model, _, _ = _model(make_inputs(accounts, reps), AlignParams(candidates=2))
    if not spatial:
        monkeypatch.setattr(model.costs, "cheap_pairs", None, raising=False)
    a0, r0 = model.costs.initial_pairs()
    keys = a0 * model.n_reps + r0
    k = model.n_reps
    duals = Duals(np.zeros(model.n_accounts), np.full(k, 1e3), np.zeros(k), 0.0, 0.0)
    full = price(model, duals, "cost", keys)
    assert full.complete and np.isfinite(full.bound) and len(full.new_a) > 0
    stopped = price(model, duals, "cost", keys, out_of_time=lambda: True)
    assert not stopped.complete
    assert stopped.bound == -np.inf  # never a bound from part of the pairs
    assert len(stopped.new_a) == 0  # stopped before the first block


def test_no_bound_is_claimed_when_the_clock_stops_every_pricing_pass(monkeypatch):
    import solvers.solve as solve_module

    stopped = {"yes": False}
    real_price, real_left = solve_module.price, solve_module.Clock.left

    def price_out_of_time(*args, **kwargs):
        stopped["yes"] = True  # the clock runs out during the first pass
        return real_price(*args, **{**kwargs, "out_of_time": lambda: True})

    monkeypatch.setattr(solve_module, "price", price_out_of_time)
    monkeypatch.setattr(
        solve_module.Clock, "left", lambda self: -1.0 if stopped["yes"] else real_left(self)
    )
    accounts, reps = _clustered(seed=6)
    model, _, _ = _model(make_inputs(accounts, reps), AlignParams())
    outcome = solve_balanced_assignment(model, time_limit=60, fix_by_prices=False, mip="never")
    assert stopped["yes"]
    assert outcome.lower_bound is None and outcome.gap is None
    assert outcome.status in ("time_limit", "error")
    if outcome.status == "time_limit":
        assert _meets_all(model, outcome.assignment)
        assert "no proven lower bound" in outcome.message


@pytest.mark.parametrize("cached", [24, 3, 1])
def test_cheap_pairs_holds_every_pair_within_budget(cached, monkeypatch):
    monkeypatch.setattr(costs_module, "NEAREST_CACHED", cached)
    accounts, reps = _clustered(seed=4)
    inputs = make_inputs(accounts, reps)
    costs = PairCosts(inputs, AlignParams(distance="squared"))
    n, k = inputs.n_accounts, inputs.n_reps
    aa, rr = np.repeat(np.arange(n), k), np.tile(np.arange(k), n)
    cost = costs.cost(aa, rr).reshape(n, k)
    budget = np.quantile(cost, 0.3, axis=1)
    reps_subset = np.array([0, 2, 5])
    found_a, found_r = costs.cheap_pairs(np.arange(n), budget, reps_subset)
    found = set(zip(found_a.tolist(), found_r.tolist(), strict=True))
    wanted = {(a, r) for a in range(n) for r in reps_subset.tolist() if cost[a, r] <= budget[a]}
    assert wanted <= found


# ±1 % and ±2 %: about 13 accounts per rep, so rounding needs the re-rounding tries, and at
# ±2 % the ones with every band narrowed fail: the tries without the narrowing find the plan
@pytest.mark.parametrize("tolerance", [0.1, 0.02, 0.01])
def test_fixing_by_prices_gives_the_full_lp_and_a_feasible_plan(tolerance):
    accounts, reps = _clustered(seed=5)
    inputs = make_inputs(accounts, reps)
    params = AlignParams(candidates=2, tolerance=tolerance)
    exact = align(inputs, AlignParams(tolerance=tolerance, mip="always", gap=0.0, time_limit=60))
    assert exact.status == "optimal"
    costs = PairCosts(inputs, params)
    model = build_model(inputs, params, costs)
    outcomes = {
        fix: solve_balanced_assignment(model, mip="never", fix_by_prices=fix)
        for fix in (False, True)
    }
    plain, fixed = outcomes[False], outcomes[True]
    assert fixed.timings.get("dual") is not None  # the path ran
    assert fixed.status in ("optimal", "feasible")
    assert_same_lp_and_a_valid_plan(model, exact, plain, fixed)


def assert_same_lp_and_a_valid_plan(model, exact, plain, fixed) -> None:
    """The price-first path (``fixed``) reaches the plain path's LP value and bound, its bound
    is below the exact optimum, and a plan it claims meets every row and is no better than it."""
    assert fixed.lp_objective == pytest.approx(plain.lp_objective, rel=1e-7)
    assert fixed.lower_bound <= exact.objective * (1 + 1e-9)
    assert fixed.lower_bound == pytest.approx(plain.lower_bound, rel=1e-7)
    if fixed.status in ("optimal", "feasible"):
        assert _meets_all(model, fixed.assignment)
        assert fixed.objective >= exact.objective * (1 - 1e-9)


def test_elastic_rows_solve_a_candidate_set_that_cannot_meet_the_bands():
    """One candidate per account leaves the far rep's band unreachable: the plain LP is
    infeasible, the elastic one solves with slack, and pricing then removes the slack."""
    accounts, reps = _clustered(seed=3)
    inputs = make_inputs(accounts, reps)
    params = AlignParams(candidates=1)
    model, _, _ = _model(inputs, params)
    a0, r0 = model.costs.initial_pairs()
    plain = column_generation(model, "HiGHS", a0, r0, "cost", Clock(60), lambda *_: None)
    assert plain.status == "infeasible"
    elastic = column_generation(
        model,
        "HiGHS",
        a0,
        r0,
        "cost",
        Clock(60),
        lambda *_: None,
        elastic=1e3 * plain.bound if np.isfinite(plain.bound) and plain.bound > 0 else 1e9,
    )
    assert elastic.status == "optimal" and elastic.converged
    assert sum(elastic.slack.values()) == pytest.approx(0.0, abs=1e-6)
    full = _full_lp(model, *all_pairs(model, 10**6))
    assert elastic.objective == pytest.approx(full.objective, rel=1e-7)


def test_moving_bands_inward_in_the_live_lp_tightens_it():
    """``HighsLP.shift_rows`` changes only the right-hand sides: a zero shift keeps the LP
    value, and moving one rep's bands up makes its LP load follow."""
    from solvers.formulation import Committed
    from solvers.lp_backends import HighsLP

    accounts, reps = _clustered(seed=6)
    inputs = make_inputs(accounts, reps)
    model, a, r = _model(inputs, AlignParams(tolerance=0.1))
    live = HighsLP(model)
    base = column_generation(model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None, backend=live)
    k = model.n_reps
    live.shift_rows(Committed(np.zeros(k), np.zeros(k), 0.0))
    same = column_generation(model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None, backend=live)
    assert same.objective == pytest.approx(base.objective, rel=1e-9)
    up = np.zeros(k)
    up[0] = -0.05 * model.pot_target[0]  # loads taken off: bands of rep 0 move up by 5 %
    live.shift_rows(Committed(up, np.zeros(k), 0.0))
    moved = column_generation(
        model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None, backend=live
    )
    load = float(
        np.sum(moved.x[moved.pair_r == 0] * model.potential[moved.pair_a[moved.pair_r == 0]])
    )
    assert load >= (1 - model.tolerance + 0.05) * model.pot_target[0] * (1 - 1e-9)


def test_narrowing_the_bands_in_the_live_lp_keeps_every_load_inside_them():
    """``shift_rows(..., shrink)`` (what re-rounding does) moves both edges of every balance
    band inward by ``shrink`` of the target, and nothing else."""
    from solvers.formulation import Committed
    from solvers.lp_backends import HighsLP

    accounts, reps = _clustered(seed=6)
    inputs = make_inputs(accounts, reps)
    model, a, r = _model(inputs, AlignParams(tolerance=0.1))
    live = HighsLP(model)
    base = column_generation(model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None, backend=live)
    k, shrink = model.n_reps, 0.04
    live.shift_rows(Committed(np.zeros(k), np.zeros(k), 0.0), shrink)
    narrow = column_generation(
        model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None, backend=live
    )
    assert narrow.objective >= base.objective * (1 - 1e-9)
    load = np.bincount(
        narrow.pair_r, weights=narrow.x * model.potential[narrow.pair_a], minlength=k
    )
    slack = 1e-7 * model.pot_target
    assert np.all(load >= (1 - model.tolerance + shrink) * model.pot_target - slack)
    assert np.all(load <= (1 + model.tolerance - shrink) * model.pot_target + slack)


def test_cheap_alternatives_join_the_live_lp_without_changing_its_optimum():
    """At the LP's duals every missing pair prices at or above zero, so adding the cheapest of
    them (what re-rounding does before it moves bands) keeps the LP value."""
    from solvers.lp_backends import HighsLP
    from solvers.restricted import cheap_alternatives

    accounts, reps = _clustered(seed=6)
    inputs = make_inputs(accounts, reps)
    model, _, _ = _model(inputs, AlignParams(tolerance=0.1, candidates=2))
    a, r = model.costs.initial_pairs()
    live = HighsLP(model, elastic=1e3 * model.cost_scale * model.n_accounts)
    base = column_generation(model, "HiGHS", a, r, "cost", Clock(60), lambda *_: None, backend=live)
    assert base.converged and base.duals is not None
    assert sum(base.slack.values()) == pytest.approx(0.0, abs=1e-6)
    k = model.n_reps
    every_a, every_r = all_pairs(model, 10**6)
    keys = every_a * k + every_r
    before = len(live.pair_a)
    cheap = cheap_alternatives(model, base.duals, keys, model.costs.cost(every_a, every_r))
    live.set_pairs(every_a[cheap], every_r[cheap])
    assert len(live.pair_a) > before
    d = base.duals
    reduced = (
        model.costs.cost(every_a, every_r)
        - d.assign[every_a]
        - model.potential[every_a] * d.potential[every_r]
        - model.workload[every_a] * d.workload[every_r]
    )
    held = np.isin(keys, live.pair_a * k + live.pair_r)
    joined = held & ~np.isin(keys, base.pair_a * k + base.pair_r)
    assert reduced.min() >= -1e-9 * np.abs(reduced).max()  # converged: nothing prices out
    # the cheapest missing pairs joined, none dearer than one left out
    assert joined.any() and (~held).any()
    assert reduced[joined].max() <= reduced[~held].min()
    again = live.solve(60)
    assert again.objective == pytest.approx(base.objective, rel=1e-9)
