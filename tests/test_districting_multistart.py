"""The large-instance heuristic (alternation by LP allocation from seeded starts) and the volume
ascent of the Lagrangian bound, on tiny grids against brute force and the LP.

Seeded starts must be K distinct candidates and repeat for a seed; the centres found must
allocate within the bands; the large path of :func:`locate_allocate` (forced on a tiny model)
must return a plan that meets the bands and costs no less than the optimum; the volume ascent
must stay a bound, reach the LP bound on small models, and average the opened centres into a
vector of K open shares.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import solvers.districting_search as search
from solvers.districting import locate_allocate
from solvers.districting_bound import Counts, _evaluate, _knapsacks, evaluate, lagrangian_bound
from solvers.districting_highs import HighsDistricting
from solvers.districting_multistart import allocate_lp, best_centres, medoids, seeded_starts
from solvers.districting_regions import region_bound
from tests.test_districting import (
    SETTINGS,
    brute_force,
    feasible,
    greenfield,
    grid,
    plan_value,
    plans,
    potentials,
)


@SETTINGS
@given(p=potentials, k=st.sampled_from([2, 3]), seed=st.integers(0, 10**6))
def test_seeded_starts_are_k_distinct_centres_and_repeat(p, k, seed):
    model = greenfield(p, k, 0.25)
    first = seeded_starts(model, 5, seed)
    again = seeded_starts(model, 5, seed)
    assert len(first) == 5
    for a, b in zip(first, again, strict=True):
        assert np.array_equal(a, b)
        assert len(np.unique(a)) == k
        assert np.all((a >= 0) & (a < model.n_centres))


@SETTINGS
@given(p=potentials, k=st.sampled_from([2, 3]), tol=st.sampled_from([0.25, 0.5]))
def test_lp_allocation_is_a_bound_for_its_centres(p, k, tol):
    """The LP allocation value never exceeds the best plan with the same centres, and the
    relocated centres are units of their territories."""
    model = greenfield(p, k, tol)
    optimum = brute_force(model, None)
    centres, value = best_centres(model, seeded_starts(model, 3), deadline=float("inf"))
    if optimum is None:
        return
    assert centres is not None
    assert value <= _value_of_best_plan(model, centres) * (1 + 1e-9) + 1e-9
    found = allocate_lp(model, centres, 10.0)
    assert found is not None
    plan = found[1]
    moved = medoids(model, plan)
    assert len(moved) <= len(np.unique(plan))
    for c in np.unique(plan).tolist():  # each territory's medoid is one of its own units
        members = np.flatnonzero(plan == c)
        own = np.isin(model.centre_unit[moved], members)
        has_candidate = np.isin(model.centre_unit, members).any()
        assert own.any() if has_candidate else c in moved


def _value_of_best_plan(model, centres) -> float:
    """The cheapest plan with exactly ``centres`` open, by enumeration."""
    every = plans(model)
    best = np.inf
    for plan in every:
        if np.array_equal(np.unique(plan), np.sort(centres)):
            best = min(best, plan_value(model, plan))
    return best


@SETTINGS
@given(p=potentials, k=st.sampled_from([2, 3]), tol=st.sampled_from([0.25, 0.5]))
def test_the_large_path_of_locate_allocate_meets_the_bands(p, k, tol, monkeypatch):
    """Forced onto a tiny model, the multistart path returns a balanced plan no cheaper than
    the optimum."""
    monkeypatch.setattr(search, "PRICED_PAIRS", 0)
    model = greenfield(p, k, tol)
    optimum = brute_force(model, None)
    plan = locate_allocate(model, time_limit=20.0)
    if optimum is None:
        assert plan is None
        return
    if plan is None:  # the time limit can end the allocations, never with a wrong plan
        return
    assert feasible(model, plan, None)
    assert plan_value(model, plan) >= optimum * (1 - 1e-9) - 1e-9


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_volume_ascent_reaches_the_lp_bound_and_averages_k_centres(seed):
    rng = np.random.default_rng(seed)
    xy, _ = grid(5, 5)
    p = rng.integers(1, 10, size=len(xy)).astype(float)
    d2 = ((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2)
    model = replace(greenfield(np.ones(9), 3, 0.1), cost=p[:, None] * d2, potential=p)
    model = replace(
        model,
        workload=np.zeros(len(p)),
        pot_target=np.full(len(p), p.sum() / 3),
        centre_unit=np.arange(len(p)),
    )
    problem = HighsDistricting(model)
    report = problem.solve(integer=False, time_limit=10)
    assert report.objective is not None
    found = lagrangian_bound(model, upper=2 * report.objective, seconds=30.0)
    assert found.bound <= report.objective * (1 + 1e-7) + 1e-7
    assert found.bound >= report.objective * (1 - 1e-3)
    assert evaluate(model, found.multipliers)[0] == pytest.approx(found.bound, rel=1e-9)
    assert found.opening.sum() == pytest.approx(3.0)
    assert np.all((found.opening >= -1e-12) & (found.opening <= 1 + 1e-12))


@SETTINGS
@given(
    values=st.lists(st.floats(-50, 50), min_size=6, max_size=6),
    region=st.lists(st.integers(0, 2), min_size=6, max_size=6),
    lo=st.lists(st.integers(0, 2), min_size=3, max_size=3),
    extra=st.lists(st.integers(0, 3), min_size=3, max_size=3),
    k=st.integers(1, 4),
)
def test_counts_select_the_cheapest_k_centres_within_the_region_bounds(
    values, region, lo, extra, k
):
    values, region = np.array(values), np.array(region)
    lo = np.array(lo)
    counts = Counts(region, lo, lo + np.array(extra))
    best = None
    for subset in itertools.combinations(range(6), k):
        n = np.bincount(region[list(subset)], minlength=3)
        if np.all(n >= counts.lo) and np.all(n <= counts.hi):
            total = values[list(subset)].sum()
            best = total if best is None else min(best, total)
    chosen = counts.select(values, k)
    if best is None:
        assert chosen is None
        return
    assert chosen is not None and len(np.unique(chosen)) == k
    n = np.bincount(region[chosen], minlength=3)
    assert np.all(n >= counts.lo) and np.all(n <= counts.hi)
    assert values[chosen].sum() == pytest.approx(best, abs=1e-9)


@SETTINGS
@given(
    p=potentials,
    k=st.sampled_from([2, 3]),
    tol=st.sampled_from([0.1, 0.25, 0.5]),
    seed=st.integers(0, 10**6),
)
def test_evaluation_within_counts_solves_only_what_it_needs(p, k, tol, seed):
    """The pruned evaluation within region counts equals solving every centre."""
    model = greenfield(p, k, tol)
    rng = np.random.default_rng(seed)
    lam = rng.uniform(0, 2 * model.cost.mean(), size=model.n_units)
    theta = rng.normal(0, 1, size=model.n_centres)
    region = rng.integers(0, 3, size=model.n_centres)
    lo = rng.integers(0, 2, size=3)
    counts = Counts(region, lo, lo + rng.integers(0, 3, size=3))
    value, _, _, _ = _evaluate(model, lam, theta, counts)
    every, _, _ = _knapsacks(model, model.cost - lam[:, None], np.arange(model.n_centres))
    chosen = counts.select(every, k)
    if chosen is None or not np.all(np.isfinite(every[chosen])):
        assert value == np.inf
    else:
        assert value == pytest.approx(lam.sum() + every[chosen].sum(), rel=1e-9, abs=1e-9)


@SETTINGS
@given(p=potentials, k=st.sampled_from([2, 3]), tol=st.sampled_from([0.1, 0.25, 0.5]))
def test_the_region_bound_never_exceeds_the_optimum(p, k, tol):
    """Branching on the regions of any plan (the optimum's or another's) bounds every plan."""
    model = greenfield(p, k, tol)
    every = plans(model)
    if len(every) == 0:
        return
    values = model.cost[np.arange(model.n_units)[None, :], every].sum(axis=1)
    optimum = values.min()
    for plan in (every[int(np.argmax(values))], every[int(np.argmin(values))]):
        found = region_bound(model, plan, float(values.max()), 3.0, gap=0.0)
        assert found.bound <= optimum * (1 + 1e-9) + 1e-9


def test_the_region_bound_rises_above_the_lp_bound():
    """An instance (found by search) whose LP opens centres fractionally: integral counts in
    the optimum's regions lift the bound well above the LP's, never above the optimum."""
    model = greenfield(np.array([5, 3, 9, 7, 6, 9, 8, 2, 1], dtype=float), 3, 0.1)
    every = plans(model)
    values = model.cost[np.arange(model.n_units)[None, :], every].sum(axis=1)
    optimum = float(values.min())
    lp = HighsDistricting(model).solve(integer=False, time_limit=10).objective
    assert lp is not None and lp < optimum * 0.97
    found = region_bound(model, every[int(np.argmin(values))], optimum, 20.0, gap=0.0)
    assert lp * 1.01 < found.bound <= optimum * (1 + 1e-9)
