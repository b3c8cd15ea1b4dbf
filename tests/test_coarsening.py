"""Clusters of look-alike accounts for the first dual stages (``solvers/coarsening.py``)."""

from __future__ import annotations

import numpy as np
import pytest

import solvers.coarsening as coarsening
from solvers.coarsening import Coarsening
from solvers.dual import PairArrays
from solvers.solve import solve_balanced_assignment
from territory.align import align, build_model
from territory.costs import PairCosts
from territory.params import AlignParams
from tests.conftest import make_inputs
from tests.test_pricing_and_infeasibility import _clustered
from tests.test_scale import assert_same_lp_and_a_valid_plan


def _with_incumbents(seed: int) -> tuple[list[dict], list[dict]]:
    accounts, reps = _clustered(seed=seed)
    rng = np.random.default_rng(seed)
    for account in accounts:
        account["current_rep"] = reps[int(rng.integers(len(reps)))]["rep_id"]
    return accounts, reps


@pytest.mark.parametrize("size", [1, 3, 7])
def test_clusters_partition_the_accounts_and_keep_every_sum(size):
    inputs = make_inputs(*_with_incumbents(seed=11))
    params = AlignParams(candidates=3, max_moved=0.4)
    model = build_model(inputs, params, PairCosts(inputs, params))
    a, r = model.costs.initial_pairs()
    pairs = PairArrays.of(model, a, r, model.costs.cost(a, r))
    coarse = Coarsening.of(model, pairs, size)
    label = coarse.label[pairs.accounts]
    assert label.min() == 0 and set(label) == set(range(coarse.n_clusters))
    assert np.bincount(label).max() <= size
    # a cluster holds accounts of one incumbent, so "moved" means the same for all of them
    for c in range(coarse.n_clusters):
        assert len(set(model.incumbent[pairs.accounts[label == c]])) == 1
    assert coarse.model.potential.sum() == pytest.approx(model.potential[pairs.accounts].sum())
    assert coarse.model.workload.sum() == pytest.approx(model.workload[pairs.accounts].sum())
    lifted = coarse.lift(pairs)
    for c, rep, cost, move in zip(lifted.a, lifted.r, lifted.cost, lifted.move, strict=True):
        members = pairs.accounts[label == c]
        assert rep in set(pairs.r[np.isin(pairs.a, members)])  # some member's candidate
        assert cost == pytest.approx(model.costs.cost(members, np.full(len(members), rep)).sum())
        moved = model.is_move(members, np.full(len(members), rep))
        assert move == pytest.approx(model.potential[members][moved].sum())


def test_dual_on_clusters_gives_the_full_lp_and_a_feasible_plan(monkeypatch):
    accounts, reps = _with_incumbents(seed=5)
    inputs = make_inputs(accounts, reps)
    params = AlignParams(candidates=2, tolerance=0.1)
    exact = align(inputs, AlignParams(tolerance=0.1, mip="always", gap=0.0, time_limit=60))
    assert exact.status == "optimal"
    model = build_model(inputs, params, PairCosts(inputs, params))
    plain = solve_balanced_assignment(model, mip="never", fix_by_prices=False)
    monkeypatch.setattr(coarsening, "CLUSTERS_PER_REP", 4)  # 74 accounts, 6 reps: clusters of 3
    said: list[str] = []
    fixed = solve_balanced_assignment(
        model, mip="never", fix_by_prices=True, progress=lambda _, text: said.append(text)
    )
    assert any("clusters of up to 3 accounts" in text for text in said)  # the path ran
    assert_same_lp_and_a_valid_plan(model, exact, plain, fixed)
