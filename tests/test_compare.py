"""compare and explain: re-scored figures, consistent handovers, reasons from band prices."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from maps.offline import external_references
from territory.align import align
from territory.compare import compare_runs
from territory.explain import BALANCE, ROUNDING, TRAVEL, explain_run, moved_in_run
from territory.metrics import gini
from territory.params import AlignParams
from territory.run_view import read_run_view
from territory.runs import save_run
from tests.conftest import make_inputs
from tests.run_fixtures import HOSTILE_NAME
from tests.test_cli_errors import run_cli


def invoke(args: list) -> tuple[int, str]:
    """The command as the console script runs it: (exit code, stdout and stderr)."""
    return run_cli([str(a) for a in args])


def views(runs: dict, *names: str):
    return [read_run_view(runs[name], name) for name in names]


def test_gini_known_values():
    assert gini(np.array([3.0, 3.0, 3.0])) == pytest.approx(0.0)
    assert gini(np.array([0.0, 0.0, 0.0, 1.0])) == pytest.approx(0.75)
    # integer weights count a value that many times
    weighted = gini(np.array([1.0, 4.0]), np.array([2.0, 1.0]))
    assert weighted == pytest.approx(gini(np.array([1.0, 1.0, 4.0])))


def test_figures_are_recomputed_and_match_the_run_files(solved_runs):
    comparison = compare_runs(views(solved_runs, "base", "tight"))
    figures = comparison.figures.set_index("run")
    for name in ("base", "tight"):
        summary = pd.read_csv(solved_runs[name] / "rep_summary.csv")
        assert figures.loc[name, "potential_index_min"] == pytest.approx(
            summary["potential_index"].min()
        )
        assert figures.loc[name, "potential_index_max"] == pytest.approx(
            summary["potential_index"].max()
        )
        assignments = pd.read_csv(solved_runs[name] / "assignments.csv")
        assert figures.loc[name, "total_distance_km"] == pytest.approx(
            assignments["distance_km"].sum(), abs=0.1
        )
        assert figures.loc[name, "moved_accounts"] == assignments["moved"].sum()
    assert figures.loc["base", "changed_accounts"] == 0
    assert figures.loc["tight", "potential_index_spread"] <= 6.0 + 1e-6  # ±3 % band


def test_handovers_balance_the_rep_changes(solved_runs):
    comparison = compare_runs(views(solved_runs, "base", "tight", "leave"))
    for label in ("tight", "leave"):
        moved = comparison.moved[comparison.moved["run"] == label]
        hand = comparison.handovers[comparison.handovers["run"] == label]
        gains = hand[hand["direction"] == "gains_from"]
        loses = hand[hand["direction"] == "loses_to"]
        assert gains["accounts"].sum() == loses["accounts"].sum() == len(moved)
        reps = comparison.reps[comparison.reps["run"] == label].set_index("rep_id")
        for rep, row in reps.iterrows():
            gained = gains.loc[gains["rep_id"] == rep, "potential"].sum()
            lost = loses.loc[loses["rep_id"] == rep, "potential"].sum()
            before = 0.0 if pd.isna(row["potential_before"]) else row["potential_before"]
            after = 0.0 if pd.isna(row["potential_after"]) else row["potential_after"]
            assert after - before == pytest.approx(gained - lost)
    leave = comparison.reps[comparison.reps["run"] == "leave"].set_index("rep_id")
    assert leave.loc["R4", "presence"] == "removed"
    assert pd.isna(leave.loc["R4", "potential_after"])
    moved = comparison.moved
    reasons = moved.loc[(moved["run"] == "leave") & (moved["from_rep"] == "R4"), "reason"]
    assert len(reasons) and set(reasons) == {"old rep gone"}


def test_compare_on_common_accounts_says_how_many_differ(solved_runs, tmp_path):
    partial = tmp_path / "partial"
    shutil.copytree(solved_runs["tight"], partial)
    assignments = pd.read_csv(partial / "assignments.csv", dtype=str, keep_default_na=False)
    assignments.iloc[5:].to_csv(partial / "assignments.csv", index=False)
    comparison = compare_runs([read_run_view(solved_runs["base"], "base"), read_run_view(partial)])
    assert comparison.common_accounts == len(assignments) - 5
    assert any("5 accounts are not in every run" in note for note in comparison.notes)
    assert set(comparison.figures["accounts"]) == {len(assignments) - 5}


def test_compare_cli_writes_safe_self_contained_outputs(solved_runs, tmp_path):
    out = tmp_path / "cmp"
    runs = [solved_runs[n] for n in ("base", "tight", "leave")]
    code, output = invoke(["compare", *runs, "--out", out])
    assert code == 0, output
    assert "potential index CV" in output
    for name in ("figures.csv", "reps.csv", "handovers.csv", "moved_accounts.csv", "report.html"):
        assert (out / name).is_file()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert external_references(page) == []
    assert "<script>alert(1)" not in page  # the hostile rep name is escaped at every level
    assert page.count("<iframe") == 2  # one change map per compared run
    reps = pd.read_csv(out / "reps.csv", dtype=str, keep_default_na=False)
    assert set(reps.loc[reps["rep_id"] == "R2", "name"]) == {"'" + HOSTILE_NAME}
    figures = pd.read_csv(out / "figures.csv")
    assert list(figures["run"]) == ["base", "tight", "leave"]
    # a second comparison may replace the first, but not an unrelated directory
    assert invoke(["compare", *runs[:2], "--out", out, "--no-map"])[0] == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    code, output = invoke(["compare", *runs[:2], "--out", other])
    assert code == 2 and "refusing to overwrite" in output


def test_compare_usage_errors(solved_runs, tmp_path):
    code, output = invoke(["compare", solved_runs["base"]])
    assert code == 2 and "at least two" in output
    code, output = invoke(["compare", solved_runs["base"], tmp_path])
    assert code == 2 and "not a run directory" in output


def test_band_prices_read_as_lp_duals(solved_runs):
    """Nearly every account sits with the rep of lowest priced cost (distance minus band
    prices): the sign and unit of the recorded prices are right."""
    view = read_run_view(solved_runs["tight"])
    assert view.has_prices
    a, reps = view.accounts, view.reps
    lat, lon = np.radians(a["lat"].to_numpy()), np.radians(a["lon"].to_numpy())
    rlat, rlon = np.radians(reps["lat"].to_numpy()), np.radians(reps["lon"].to_numpy())
    h = (
        np.sin((rlat[None] - lat[:, None]) / 2) ** 2
        + np.cos(lat[:, None]) * np.cos(rlat[None]) * np.sin((rlon[None] - lon[:, None]) / 2) ** 2
    )
    km = 2 * 6371.0088 * np.arcsin(np.sqrt(h))
    p, w = a["potential"].to_numpy(), a["workload"].to_numpy()
    priced = (
        (p + 1e-3 * p.mean())[:, None] * km
        - p[:, None] * reps["potential_band_price"].to_numpy()[None]
        - w[:, None] * reps["workload_band_price"].to_numpy()[None]
    )
    chosen = a["rep_id"].map(view.rep_position()).to_numpy()
    gap = priced[np.arange(len(a)), chosen] - priced.min(axis=1)
    assert np.mean(gap <= 1e-6 * np.abs(priced).max()) >= 0.9


def test_explain_balance_moves_on_a_known_instance(tmp_path):
    """Two reps, everything today with the nearer one: the west rep holds 150 of 210, so
    balance must push accounts east: the band prices pull potential from west to east (with
    two reps the prices are degenerate: one binding band is enough to say it)."""
    accounts = [
        {"account_id": f"a{i}", "lat": 0.0, "lon": lon, "potential": p, "current_rep": rep}
        for i, (lon, p, rep) in enumerate(
            [
                (0.05, 60, "west"),
                (0.10, 50, "west"),
                (0.20, 40, "west"),
                (0.60, 30, "east"),
                (0.70, 20, "east"),
                (0.80, 10, "east"),
            ]
        )
    ]
    reps = [{"rep_id": "west", "lat": 0.0, "lon": 0.0}, {"rep_id": "east", "lat": 0.0, "lon": 0.9}]
    plan = align(make_inputs(accounts, reps), AlignParams(tolerance=0.05, mip="always"))
    run = save_run(plan, tmp_path / "run", draw_map=False)
    result = explain_run(read_run_view(run))
    prices = result.prices.set_index("rep_id")
    pull = prices.loc["east", "potential_band_price"] - prices.loc["west", "potential_band_price"]
    assert pull > 0
    assert prices.loc["west", "potential_band"] != "lower"
    assert prices.loc["east", "potential_band"] != "upper"
    assert len(result.moves) >= 1
    assert set(result.moves["from_rep"]) == {"west"}
    assert set(result.moves["reason"]) <= {BALANCE, ROUNDING}
    assert (result.moves["detour_km"] > 0).all()
    code, output = invoke(["explain", run, "--out", tmp_path / "explained"])
    assert code == 0 and "balance" in output
    written = pd.read_csv(tmp_path / "explained" / "move_reasons.csv")
    assert len(written) == len(moved_in_run(read_run_view(run)))


def test_explain_without_prices_says_so(solved_runs, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(solved_runs["tight"], old)
    summary = pd.read_csv(old / "rep_summary.csv", dtype=str, keep_default_na=False)
    summary.drop(columns=["potential_band_price", "workload_band_price"]).to_csv(
        old / "rep_summary.csv", index=False
    )
    result = explain_run(read_run_view(old))
    assert "not recorded" in result.notes[0]
    assert set(result.moves["reason"]) <= {TRAVEL, "no prices"}
    code, output = invoke(["explain", old])
    assert code == 0 and "not recorded" in output


def test_run_view_reports_broken_files(solved_runs, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(solved_runs["base"], broken)
    assignments = pd.read_csv(broken / "assignments.csv", dtype=str, keep_default_na=False)
    assignments.loc[3, "rep_id"] = "nobody"
    assignments.to_csv(broken / "assignments.csv", index=False)
    code, output = invoke(["explain", broken])
    assert code == 2 and "rep is not in rep_summary.csv" in output and "row 5" in output
