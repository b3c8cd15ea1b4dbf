"""HiGHS MILPs that stop on a work limit: read, reported in our words, never a crash.

PuLP 3.3's HiGHS wrapper has no entry for kSolutionLimit (what ``mip_max_nodes`` stops with)
and raised KeyError; these tests run on PuLP 3.3 and 4.x alike.
"""

from __future__ import annotations

import json

import highspy
import numpy as np
import pandas as pd
import pulp
import pytest

import sample_data
import solvers.solve
from solvers.backends import ERROR, FEASIBLE, OPTIMAL, SolveReport, make_solver, run_solver
from tests.test_runs import align_args, run_cli


def _assignment_problem(
    seed: int,
) -> tuple[pulp.LpProblem, dict, np.ndarray, np.ndarray, np.ndarray]:
    """A generalised assignment MILP (20 items, 4 bins) that HiGHS does not close at the root."""
    rng = np.random.default_rng(seed)
    n_items, n_bins = 20, 4
    cost = rng.integers(10, 50, size=(n_items, n_bins))
    weight = rng.integers(5, 25, size=(n_items, n_bins))
    capacity = (weight.sum(axis=0) * 0.8 / n_bins).astype(int)
    prob = pulp.LpProblem("assignment", pulp.LpMinimize)
    x = {
        (i, j): prob.add_variable(f"x_{i}_{j}", lowBound=0, upBound=1, cat=pulp.LpInteger)
        for i in range(n_items)
        for j in range(n_bins)
    }
    prob += pulp.lpSum(int(cost[i, j]) * x[i, j] for i, j in x)
    for i in range(n_items):
        prob += pulp.lpSum(x[i, j] for j in range(n_bins)) == 1
    for j in range(n_bins):
        prob += pulp.lpSum(int(weight[i, j]) * x[i, j] for i in range(n_items)) <= int(capacity[j])
    return prob, x, cost, weight, capacity


def _market_split(seed: int) -> pulp.LpProblem:
    """Cornuéjols–Dawande market split (3 × 30): heuristics rarely find a point at the root."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 100, size=(3, 30))
    prob = pulp.LpProblem("market_split", pulp.LpMinimize)
    x = [prob.add_variable(f"x{j}", lowBound=0, upBound=1, cat=pulp.LpInteger) for j in range(30)]
    prob += pulp.lpSum(x)
    for row in a:
        prob += pulp.lpSum(int(c) * v for c, v in zip(row, x, strict=True)) == int(row.sum() // 2)
    return prob


def _node_limited(prob: pulp.LpProblem) -> tuple[SolveReport, bool]:
    """Solve with a one-node limit; also whether HiGHS really stopped on that limit."""
    report = run_solver(prob, make_solver("highs", mip=True, time_limit=60, node_limit=1))
    stopped = prob.solverModel.getModelStatus() == highspy.HighsModelStatus.kSolutionLimit
    return report, stopped


def test_a_node_limited_milp_with_a_solution_is_read_and_reported_feasible():
    stopped_with_solution = 0
    for seed in range(8):
        prob, x, cost, weight, capacity = _assignment_problem(seed)
        report, stopped = _node_limited(prob)
        assert report.has_solution, seed
        assert report.status == (FEASIBLE if stopped else OPTIMAL), seed
        stopped_with_solution += stopped
        # the values PuLP's variables carry form the plan HiGHS reported
        values = np.array([[x[i, j].varValue for j in range(cost.shape[1])] for i in range(20)])
        assert np.allclose(values, np.round(values), atol=1e-6)
        chosen = np.round(values)
        assert np.array_equal(chosen.sum(axis=1), np.ones(20))
        assert np.all((weight * chosen).sum(axis=0) <= capacity)
        assert report.objective == pytest.approx(float((cost * chosen).sum()), rel=1e-9)
        assert report.bound is not None
        assert report.bound <= report.objective + 1e-6
        if stopped:
            assert report.nodes == 1
            assert report.bound < report.objective - 1e-6  # HiGHS had not closed the gap
    # fails loudly (rather than testing nothing) if a HiGHS release closes all at the root
    assert stopped_with_solution >= 1


def test_a_node_limited_milp_without_a_solution_is_no_crash():
    stopped_empty = 0
    for seed in range(3):
        report, stopped = _node_limited(_market_split(seed))
        if stopped and not report.has_solution:
            stopped_empty += 1
            assert report.status == ERROR
            assert report.objective is None
            assert report.bound is not None and np.isfinite(report.bound)
    assert stopped_empty >= 1


@pytest.fixture
def roster_without_r030(tmp_path):
    """The reported inputs: rep R030 left, and the lock on its account cleared."""
    accounts = pd.read_csv(sample_data.ACCOUNTS, dtype=str, keep_default_na=False)
    reps = pd.read_csv(sample_data.REPS, dtype=str, keep_default_na=False)
    accounts.loc[accounts["locked_rep"] == "R030", "locked_rep"] = ""
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    reps[reps["rep_id"] != "R030"].to_csv(tmp_path / "reps.csv", index=False)
    return tmp_path / "accounts.csv", tmp_path / "reps.csv"


def test_align_survives_the_neighbourhood_milp_stopping_on_its_node_limit(
    tmp_path, roster_without_r030, monkeypatch
):
    """The reported crash: the neighbourhood MILP stopped on ``mip_max_nodes`` (after 500
    nodes, ~25 s); one node reaches the same stop in seconds. --gap 0.0021 lets the
    neighbourhood run (the rounded plan is 0.68% off) and makes the full MILP unneeded after."""
    monkeypatch.setattr(solvers.solve, "NEIGHBOURHOOD_NODES", 1)
    accounts, reps = roster_without_r030
    out = tmp_path / "run"
    extra = ("--max-moved", "0.3", "--gap", "0.0021", "--time-limit", "60", "-q", "--no-map")
    code, output = run_cli(align_args(accounts, reps, out, *extra))
    assert code == 0, output
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == FEASIBLE
    neighbourhood = record["model"]["neighbourhood"]
    assert neighbourhood["nodes"] == 1
    assert neighbourhood["status"] == FEASIBLE  # stopped on the node limit with a plan
    assert neighbourhood["improved"]  # and that plan, read from HiGHS, was used


def test_a_highs_solve_the_user_interrupted_raises_keyboard_interrupt(tmp_path):
    # HiGHS catches Ctrl-C itself and stops with kInterrupt, which would otherwise pass for a
    # time limit and let the run write its files; an interrupt callback stands in for Ctrl-C
    from solvers.backends import run_highs

    path = str(tmp_path / "model.mps")
    _assignment_problem(seed=3)[0].writeMPS(path)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.readModel(path)

    def interrupt(callback_type, message, data_out, data_in, user_data):
        data_in.user_interrupt = True

    h.setCallback(interrupt, None)
    h.startCallback(highspy.cb.HighsCallbackType.kCallbackMipInterrupt)
    with pytest.raises(KeyboardInterrupt):
        run_highs(h)
    assert h.getModelStatus() == highspy.HighsModelStatus.kInterrupt
