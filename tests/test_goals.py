"""goals: exact totals, blend math, deterministic formula-safe XLSX."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territory.goals import goal_table, largest_remainder
from territory.goals_files import write_goal_files
from territory.run_view import RunView, read_run_view
from tests.run_fixtures import HOSTILE_NAME, write_run
from tests.test_cli_errors import run_cli


def decimals(values) -> list[Decimal]:
    return [Decimal(str(v)) for v in values]


def test_goals_total_the_national_goal_and_the_input_potential(solved_runs, tmp_path):
    code, output = run_cli(
        [
            "goals",
            str(solved_runs["base"]),
            "--national-goal",
            "1234567.89",
            "--blend",
            "0.7",
            "--out",
            str(tmp_path / "g"),
        ]
    )
    assert code == 0, output
    goals = pd.read_csv(tmp_path / "g" / "goals.csv", dtype=str, keep_default_na=False)
    assert sum(decimals(goals["goal"])) == Decimal("1234567.89")
    assignments = pd.read_csv(solved_runs["base"] / "assignments.csv", dtype=str)
    assert sum(decimals(goals["potential"])) == sum(decimals(assignments["potential"]))
    history = assignments.groupby("rep_id")["history"].apply(lambda s: sum(decimals(s)))
    assert dict(zip(goals["rep_id"], decimals(goals["history"]), strict=True)) == history.to_dict()
    assert all(Decimal(g) == Decimal(g).quantize(Decimal("0.01")) for g in goals["goal"])


def test_xlsx_sheets_header_totals_and_formula_neutralisation(solved_runs, tmp_path):
    view = read_run_view(solved_runs["base"])
    table = goal_table(view, Decimal("1000000"), Decimal("0.5"))
    _, xlsx = write_goal_files(table, tmp_path / "plan.xlsx")
    book = openpyxl.load_workbook(xlsx)
    assert book.sheetnames == ["Goals", "Fairness", "About"]
    sheet = book["Goals"]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{sheet.cell(1, sheet.max_column).column_letter}5"
    header = [c.value for c in sheet[1]]
    totals = {h: c.value for h, c in zip(header, sheet[sheet.max_row], strict=True)}
    assert totals["rep_id"] == "Total"
    assert Decimal(str(totals["goal"])) == Decimal("1000000")
    names = [row[header.index("name")].value for row in sheet.iter_rows(min_row=2)]
    hostile = next(n for n in names if n and HOSTILE_NAME in n)
    assert hostile == "'" + HOSTILE_NAME
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert book.properties.created.year == 1970


def test_two_writes_are_byte_identical(solved_runs, tmp_path):
    view = read_run_view(solved_runs["base"])
    table = goal_table(view, Decimal("500"), unit=Decimal("1"))
    _, first = write_goal_files(table, tmp_path / "a")
    _, second = write_goal_files(
        goal_table(view, Decimal("500"), unit=Decimal("1")), tmp_path / "b"
    )
    assert first.read_bytes() == second.read_bytes()
    assert (tmp_path / "a" / "goals.csv").read_bytes() == (
        tmp_path / "b" / "goals.csv"
    ).read_bytes()


def test_blend_on_a_hand_example(tmp_path):
    """Potential 30/70, history 50/50, W = 0.6: goals 1000 × (0.6·0.3 + 0.4·0.5) = 380
    and 1000 × (0.6·0.7 + 0.4·0.5) = 620."""
    run = write_run(
        tmp_path / "run",
        [
            {"account_id": "a", "rep_id": "r1", "potential": 10, "history": 20},
            {"account_id": "b", "rep_id": "r1", "potential": 20, "history": 30},
            {"account_id": "c", "rep_id": "r2", "potential": 70, "history": 50},
        ],
        [{"rep_id": "r1"}, {"rep_id": "r2", "fte": 0.5}],
    )
    table = goal_table(read_run_view(run), Decimal(1000), Decimal("0.6"))
    goals = dict(zip(table.reps["rep_id"], table.reps["goal"], strict=True))
    assert goals == {"r1": Decimal("380.00"), "r2": Decimal("620.00")}
    index = dict(zip(table.reps["rep_id"], table.reps["goal_index"], strict=True))
    assert index["r2"] == pytest.approx(100 * 0.62 / (1 / 3))  # goal share / FTE share
    only_potential = goal_table(read_run_view(run), Decimal(1000))
    assert list(only_potential.reps["goal"]) == [Decimal("300.00"), Decimal("700.00")]


def test_rep_level_history_and_rounding(tmp_path):
    run = write_run(
        tmp_path / "run",
        [{"account_id": str(i), "rep_id": f"r{i % 3}", "potential": 1} for i in range(3)],
        [{"rep_id": f"r{i}", "hist": h} for i, h in enumerate([1, 1, 1])],
    )
    table = goal_table(read_run_view(run), Decimal(100), Decimal(0), "hist", Decimal(1))
    assert list(table.reps["goal"]) == [Decimal(34), Decimal(33), Decimal(33)]
    assert "rep column 'hist'" in dict(table.about)["history"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--blend", "0.5"], "no 'history' column"),
        (["--history-col", "nope"], "no such column"),
        (["--blend", "1.5"], "between 0 and 1"),
        (["--round", "0.03"], "whole number of --round units"),
        (["--national-goal", "ten"], "must be a number"),
    ],
)
def test_goals_usage_errors(tmp_path, extra, message):
    run = write_run(
        tmp_path / "run",
        [{"account_id": "a", "rep_id": "r1", "potential": 5}],
        [{"rep_id": "r1"}],
    )
    args = ["goals", str(run), "--national-goal", "100", *extra]
    code, output = run_cli(args)
    assert code == 2 and message in output


def test_largest_remainder_ties_go_to_the_earlier():
    assert largest_remainder([Fraction(1)] * 3, 100) == [34, 33, 33]
    assert largest_remainder([Fraction(0), Fraction(0)], 5) == [0, 0]


def memory_run(potential: list[int], history: list[int], fte: list[float]) -> RunView:
    k = len(fte)
    accounts = pd.DataFrame(
        {
            "account_id": [str(i) for i in range(len(potential))],
            "rep_id": [f"r{i % k}" for i in range(len(potential))],
            "potential": [float(p) for p in potential],
            "workload": 1.0,
            "history": [str(h) for h in history],
        }
    )
    reps = pd.DataFrame({"rep_id": [f"r{i}" for i in range(k)], "fte": fte, "name": ""})
    return RunView(Path("memory"), "memory", accounts, reps, {})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    k=st.integers(1, 6),
    cents=st.integers(0, 10**12),
    blend=st.integers(0, 100),
)
def test_goals_always_sum_to_the_national_goal(data, k, cents, blend):
    n = data.draw(st.integers(k, 3 * k))
    potential = data.draw(st.lists(st.integers(1, 10**7), min_size=n, max_size=n))
    history = data.draw(st.lists(st.integers(0, 10**6), min_size=n, max_size=n))
    if sum(history) == 0:
        history[0] = 1
    fte = data.draw(st.lists(st.sampled_from([0.5, 1.0, 0.8]), min_size=k, max_size=k))
    goal = Decimal(cents) / 100
    w = Decimal(blend) / 100
    table = goal_table(memory_run(potential, history, fte), goal, w)
    goals = list(table.reps["goal"])
    assert sum(goals) == goal
    shares_p = table.reps["potential_share"].to_numpy()
    shares_h = table.reps["history_share"].to_numpy()
    for g, sp, sh in zip(goals, shares_p, shares_h, strict=True):
        exact = float(goal) * (float(w) * sp + (1 - float(w)) * sh)
        assert abs(float(g) - exact) <= 0.01 + 1e-6 * float(goal)
