"""Shared helpers: tiny instances built in memory, and brute force over every assignment."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from territory.inputs import AlignmentInputs, inputs_from_frames
from territory.params import AlignParams


def make_inputs(accounts: list[dict], reps: list[dict]) -> AlignmentInputs:
    """Inputs from lists of row dicts (ids as text)."""
    return inputs_from_frames(pd.DataFrame(accounts), pd.DataFrame(reps))


def brute_force(inputs: AlignmentInputs, params: AlignParams) -> tuple[float, np.ndarray | None]:
    """The optimum over all K^N assignments meeting every constraint (inf if none)."""
    from territory.align import build_model
    from territory.costs import PairCosts

    costs = PairCosts(inputs, params)
    model = build_model(inputs, params, costs)
    n, k = inputs.n_accounts, inputs.n_reps
    active = np.flatnonzero(model.active)
    cost = np.full((n, k), np.inf)
    for a in active:
        cost[a] = costs.cost(np.full(k, a), np.arange(k))
    best, best_plan = np.inf, None
    t = model.tolerance
    for combo in itertools.product(range(k), repeat=len(active)):
        plan = np.full(n, -1)
        plan[active] = combo
        value = cost[active, list(combo)].sum()
        if not np.isfinite(value) or value >= best:
            continue
        pot = np.bincount(plan[active], weights=model.potential[active], minlength=k)
        if np.any(pot < (1 - t) * model.pot_target - 1e-9) or np.any(
            pot > (1 + t) * model.pot_target + 1e-9
        ):
            continue
        work = np.bincount(plan[active], weights=model.workload[active], minlength=k)
        if model.work_target is not None:
            tw = model.work_tolerance
            if np.any(work < (1 - tw) * model.work_target - 1e-9) or np.any(
                work > (1 + tw) * model.work_target + 1e-9
            ):
                continue
        if np.any(work > model.capacity + 1e-9):
            continue
        if model.max_moved is not None:
            moved = model.is_move(active, plan[active])
            if model.potential[active][moved].sum() > model.max_moved + 1e-9:
                continue
        best, best_plan = value, plan
    return best, best_plan


@pytest.fixture
def tiny_inputs() -> AlignmentInputs:
    """Two reps 100 km apart on the equator, six accounts between them.

    Potential 60/50/40/30/20/10 (total 210, target 105 each). Nearest-rep would give the west
    rep 60+50+40 = 150; at ±5 % the bands are [99.75, 110.25], so the split must be
    {60, 40} / {50, 30, 20, 10} or {60, 30, 20} / {50, 40, 10} or similar (105 / 105 exactly
    where possible).
    """
    accounts = [
        {"account_id": "a1", "lat": 0.0, "lon": 0.05, "potential": 60},
        {"account_id": "a2", "lat": 0.0, "lon": 0.10, "potential": 50},
        {"account_id": "a3", "lat": 0.0, "lon": 0.20, "potential": 40},
        {"account_id": "a4", "lat": 0.0, "lon": 0.60, "potential": 30},
        {"account_id": "a5", "lat": 0.0, "lon": 0.70, "potential": 20},
        {"account_id": "a6", "lat": 0.0, "lon": 0.80, "potential": 10},
    ]
    reps = [
        {"rep_id": "west", "lat": 0.0, "lon": 0.0},
        {"rep_id": "east", "lat": 0.0, "lon": 0.9},
    ]
    return make_inputs(accounts, reps)


@pytest.fixture(scope="session")
def solved_runs(tmp_path_factory) -> dict:
    """Three small solved runs (baseline, tight, a rep leaves), solved once per session."""
    from tests.run_fixtures import make_runs

    return make_runs(tmp_path_factory.mktemp("solved"))
