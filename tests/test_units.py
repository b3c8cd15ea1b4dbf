"""Unit-based alignment and greenfield design through the command line (``align --units``).

Tiny square grids whose optimum is found by brute force; the plan in the run directory is
re-scored from its files, never taken from the model.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from click.testing import CliRunner

from territory.cli import cli

UTM = "EPSG:32614"  # metres, valid around lon -100
CELL = 0.1  # degrees


def grid_units(rows: int, cols: int, potential: list[float], gap_after_col: int | None = None):
    """A rows × cols grid of square cells (row-major ids u00, u01, ...), optionally split in two
    parts by an empty column after ``gap_after_col``."""
    cells, ids = [], []
    for r, c in itertools.product(range(rows), range(cols)):
        shift = CELL if gap_after_col is not None and c > gap_after_col else 0.0
        x0, y0 = -100.0 + c * CELL + shift, 35.0 + r * CELL
        cells.append(shapely.box(x0, y0, x0 + CELL, y0 + CELL))
        ids.append(f"u{r}{c}")
    return gpd.GeoDataFrame({"unit_id": ids, "potential": potential}, geometry=cells, crs=4326)


def grid_neighbours(rows: int, cols: int, gap_after_col: int | None = None) -> set[tuple[int, int]]:
    """Rook neighbours of the grid, written down by hand (not computed from geometry)."""
    pairs = set()
    for r, c in itertools.product(range(rows), range(cols)):
        i = r * cols + c
        if c + 1 < cols and c != gap_after_col:
            pairs.add((i, i + 1))
        if r + 1 < rows:
            pairs.add((i, i + cols))
    return pairs


def connected(members: list[int], pairs: set[tuple[int, int]]) -> bool:
    seen, todo = {members[0]}, [members[0]]
    inside = set(members)
    while todo:
        u = todo.pop()
        for a, b in pairs:
            for x, y in ((a, b), (b, a)):
                if x == u and y in inside and y not in seen:
                    seen.add(y)
                    todo.append(y)
    return seen == inside


def brute_force_greenfield(units, k: int, tolerance: float, contiguity: bool, pairs) -> float:
    """Least Σ p·d² over every choice of k centres and every assignment within the bands."""
    xy = np.column_stack(
        [units.to_crs(UTM).centroid.x.to_numpy(), units.to_crs(UTM).centroid.y.to_numpy()]
    )
    xy = xy / 1000.0
    p = units["potential"].to_numpy(float)
    n = len(p)
    target = p.sum() / k
    lo, hi = (1 - tolerance) * target, (1 + tolerance) * target
    best = np.inf
    for centres in itertools.combinations(range(n), k):
        d2 = ((xy[:, None, :] - xy[None, list(centres), :]) ** 2).sum(axis=2)
        others = [u for u in range(n) if u not in centres]
        for choice in itertools.product(range(k), repeat=len(others)):
            a = np.empty(n, dtype=int)
            a[list(centres)] = np.arange(k)
            a[others] = choice
            loads = np.bincount(a, weights=p, minlength=k)
            if np.any(loads < lo - 1e-9) or np.any(loads > hi + 1e-9):
                continue
            if contiguity and not all(
                connected(np.flatnonzero(a == t).tolist(), pairs) for t in range(k)
            ):
                continue
            best = min(best, float((p * d2[np.arange(n), a]).sum()))
    return best


def run_cli(args: list[str]) -> tuple[int, str]:
    from territory.cli import main  # noqa: F401  (the same entry the console script uses)

    result = CliRunner().invoke(cli, args, standalone_mode=False, catch_exceptions=True)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        from territory.errors import TerritoryError

        if isinstance(result.exception, TerritoryError):
            return result.exception.exit_code, str(result.exception)
        raise result.exception
    code = result.exit_code
    if isinstance(result.exception, SystemExit):
        code = int(result.exception.code or 0)
    return code, result.output


def write_layer(frame, path: Path) -> Path:
    frame.to_file(path, driver="GPKG")
    return path


POTENTIAL_3X3 = [5.0, 3.0, 8.0, 2.0, 7.0, 4.0, 6.0, 1.0, 9.0]


@pytest.mark.parametrize("contiguity", [False, True])
def test_greenfield_design_is_the_brute_force_optimum(tmp_path: Path, contiguity: bool) -> None:
    units = grid_units(3, 3, POTENTIAL_3X3)
    layer = write_layer(units, tmp_path / "grid.gpkg")
    out = tmp_path / "run"
    args = ["align", "--units", str(layer), "--territories", "2", "--tolerance", "0.1"]
    args += ["--distance", "squared", "--crs", UTM, "--gap", "0", "--out", str(out), "-q"]
    args += ["--no-map"] + (["--contiguity"] if contiguity else [])
    code, output = run_cli(args)
    assert code == 0, output
    expected = brute_force_greenfield(units, 2, 0.1, contiguity, grid_neighbours(3, 3))
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "optimal"
    assert record["objective"] == pytest.approx(expected, rel=1e-6)
    assert record["lower_bound"] <= record["objective"] * (1 + 1e-9)
    rows = pd.read_csv(out / "assignments.csv", dtype={"account_id": str, "unit_id": str})
    assert len(rows) == 9 and (rows["account_id"] == rows["unit_id"]).all()
    rescored = float((rows["potential"] * rows["distance_km"] ** 2).sum())
    assert rescored == pytest.approx(expected, rel=1e-4)  # distances are rounded to metres
    index = pd.read_csv(out / "rep_summary.csv")["potential_index"]
    assert index.between(90 - 1e-6, 110 + 1e-6).all()
    if contiguity:
        assert record["units"]["contiguous_territories"] is True
        territories = gpd.read_file(out / "territories.geojson")
        assert all(g.geom_type == "Polygon" for g in territories.geometry)


def test_contiguity_changes_the_plan_when_it_must(tmp_path: Path) -> None:
    """Heavy corners pull a compact plan apart; contiguity costs more and is honoured."""
    potential = [9.0, 1.0, 9.0, 1.0, 1.0, 1.0, 9.0, 1.0, 9.0]
    units = grid_units(3, 3, potential)
    expected_free = brute_force_greenfield(units, 2, 0.05, False, grid_neighbours(3, 3))
    expected_contig = brute_force_greenfield(units, 2, 0.05, True, grid_neighbours(3, 3))
    layer = write_layer(units, tmp_path / "grid.gpkg")
    values = {}
    for flag in (False, True):
        out = tmp_path / f"run{flag}"
        args = ["align", "--units", str(layer), "--territories", "2", "--tolerance", "0.05"]
        args += ["--distance", "squared", "--crs", UTM, "--gap", "0", "-o", str(out), "-q"]
        args += ["--no-map"] + (["--contiguity"] if flag else [])
        code, output = run_cli(args)
        assert code == 0, output
        values[flag] = json.loads((out / "run.json").read_text())["objective"]
    assert values[False] == pytest.approx(expected_free, rel=1e-6)
    assert values[True] == pytest.approx(expected_contig, rel=1e-6)
    assert values[True] >= values[False] - 1e-9


def _accounts_in(units, per_unit: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for uid, geom in zip(units["unit_id"], units.geometry, strict=True):
        x0, y0, x1, y1 = geom.bounds
        for j in range(per_unit):
            rows.append(
                {
                    "account_id": f"{uid}-{j}",
                    "lat": rng.uniform(y0 + 0.01, y1 - 0.01),
                    "lon": rng.uniform(x0 + 0.01, x1 - 0.01),
                    "potential": float(rng.integers(1, 20)),
                }
            )
    return pd.DataFrame(rows)


def test_fixed_reps_move_whole_units_with_their_accounts(tmp_path: Path) -> None:
    units = grid_units(4, 4, [0.0] * 16)
    units.loc[0, "potential"] = 5.0  # a unit's own measure adds to its accounts'
    layer = write_layer(units, tmp_path / "grid.gpkg")
    accounts = _accounts_in(units, 3)
    accounts["current_rep"] = np.where(accounts["lon"] < -99.8, "west", "east")
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    reps = pd.DataFrame({"rep_id": ["west", "east"], "lat": [35.2, 35.2], "lon": [-99.95, -99.65]})
    reps.to_csv(tmp_path / "reps.csv", index=False)
    out = tmp_path / "run"
    code, output = run_cli(
        [
            "align",
            "--units",
            str(layer),
            "--accounts",
            str(tmp_path / "accounts.csv"),
            "--reps",
            str(tmp_path / "reps.csv"),
            "--tolerance",
            "0.1",
            "--contiguity",
            "--out",
            str(out),
            "-q",
            "--no-map",
        ]
    )
    assert code == 0, output
    rows = pd.read_csv(out / "assignments.csv", dtype=str)
    assert len(rows) == len(accounts)
    assert set(rows.columns) >= {"account_id", "rep_id", "previous_rep", "moved", "unit_id"}
    assert (rows.groupby("unit_id")["rep_id"].nunique() == 1).all()
    assert (rows["unit_id"] == rows["account_id"].str.split("-").str[0]).all()
    summary = pd.read_csv(out / "rep_summary.csv")
    assert summary["potential"].sum() == pytest.approx(accounts["potential"].sum() + 5.0)
    assert summary["accounts"].sum() == len(accounts)
    assert summary["units"].sum() == 16
    assert summary["potential_index"].between(90 - 1e-6, 110 + 1e-6).all()
    moved = rows["moved"] == "True"
    assert (moved == (rows["rep_id"] != rows["previous_rep"])).all()
    units_file = pd.read_csv(out / "units.csv", dtype={"unit_id": str})
    assert len(units_file) == 16
    record = json.loads((out / "run.json").read_text())
    assert record["units"]["accounts_joined_by"] == "spatial join"
    assert record["units"]["contiguous_territories"] is True


def test_accounts_join_by_unit_id_keeping_leading_zeros(tmp_path: Path) -> None:
    units = grid_units(2, 2, [1.0, 1.0, 1.0, 1.0])
    units["unit_id"] = ["00101", "00102", "00201", "00202"]
    layer = write_layer(units, tmp_path / "zips.gpkg")
    accounts = pd.DataFrame(
        {
            "account_id": ["a", "b", "c", "d"],
            "lat": [0.0, 0.0, 0.0, 0.0],  # far away: the unit_id column decides
            "lon": [0.0, 0.0, 0.0, 0.0],
            "potential": [3, 3, 3, 3],
            "unit_id": ["00101", "00102", "00201", "00202"],
        }
    )
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    out = tmp_path / "run"
    code, output = run_cli(
        ["align", "--units", str(layer), "--accounts", str(tmp_path / "accounts.csv")]
        + ["--territories", "2", "--tolerance", "0.2", "-o", str(out), "-q", "--no-map"]
    )
    assert code == 0, output
    rows = pd.read_csv(out / "assignments.csv", dtype=str)
    assert sorted(rows["unit_id"]) == ["00101", "00102", "00201", "00202"]
    assert json.loads((out / "run.json").read_text())["units"]["accounts_joined_by"] == (
        "unit_id column"
    )


def test_a_unit_heavier_than_the_band_is_explained(tmp_path: Path) -> None:
    units = grid_units(2, 2, [30.0, 1.0, 1.0, 1.0])
    layer = write_layer(units, tmp_path / "grid.gpkg")
    out = tmp_path / "run"
    code, output = run_cli(
        ["align", "--units", str(layer), "--territories", "2", "-o", str(out), "-q", "--no-map"]
    )
    assert code == 3, output
    record = json.loads((out / "run.json").read_text())
    assert record["status"] == "infeasible"
    reason = record["infeasibility"]["reason"]
    assert "unit 'u00' alone" in reason and "tightest balance" in reason
    assert record["infeasibility"]["tightest_tolerance"] == pytest.approx(30 / 16.5 - 1, rel=1e-4)


def test_contiguity_across_disconnected_parts_is_explained_and_can_be_linked(
    tmp_path: Path,
) -> None:
    # two 2x2 blocks separated by an empty column: each holds half the potential, 3 territories
    units = grid_units(2, 4, [2.0] * 8, gap_after_col=1)
    layer = write_layer(units, tmp_path / "islands.gpkg")
    out = tmp_path / "run"
    base = ["align", "--units", str(layer), "--territories", "3", "--tolerance", "0.4"]
    base += ["--contiguity", "-q", "--no-map"]
    code, output = run_cli(base + ["-o", str(out)])
    assert code == 3, output
    record = json.loads((out / "run.json").read_text())
    assert "disconnected parts" in record["infeasibility"]["reason"]
    assert record["units"]["parts"] == 2
    code, output = run_cli(base + ["--connect-islands", "-o", str(tmp_path / "linked")])
    assert code == 0, output
    linked = json.loads((tmp_path / "linked" / "run.json").read_text())
    assert linked["units"]["parts"] == 1 and len(linked["units"]["links_added"]) == 1


def _bowtie():
    return shapely.Polygon([(-100, 35), (-99.9, 35.1), (-99.9, 35), (-100, 35.1)])


@pytest.mark.parametrize(
    "case, expect",
    [
        ("no_unit_id", "required units column 'unit_id' is missing"),
        ("invalid_polygon", "feature 2, column 'geometry': polygon is invalid"),
        ("duplicate_id", "duplicate unit id 'u00'"),
        ("points", "is not a polygon"),
        ("geographic_crs", "--crs EPSG:4326 is geographic"),
        ("no_territories", "--units needs --territories K"),
        ("territories_without_units", "--territories needs --units"),
        ("outside", "lies in no unit"),
        ("mismatch", "disagrees with the 1 reps"),
    ],
)
def test_bad_unit_inputs_exit_2_with_a_message(tmp_path: Path, case: str, expect: str) -> None:
    units = grid_units(2, 2, [1.0] * 4)
    extra: list[str] = ["--territories", "2"]
    if case == "no_unit_id":
        units = units.rename(columns={"unit_id": "zip"})
    elif case == "invalid_polygon":
        units = units.set_geometry([units.geometry[0], _bowtie(), *units.geometry[2:]])
    elif case == "duplicate_id":
        units.loc[1, "unit_id"] = "u00"
    elif case == "points":
        units = units.set_geometry(units.geometry.representative_point())
    elif case == "geographic_crs":
        extra += ["--crs", "EPSG:4326"]
    elif case == "no_territories":
        extra = []
    elif case == "outside":
        pd.DataFrame({"account_id": ["x"], "lat": [10.0], "lon": [10.0], "potential": [1]}).to_csv(
            tmp_path / "a.csv", index=False
        )
        extra += ["--accounts", str(tmp_path / "a.csv")]
    elif case == "mismatch":
        pd.DataFrame({"rep_id": ["r"], "lat": [35.0], "lon": [-100.0]}).to_csv(
            tmp_path / "r.csv", index=False
        )
        extra += ["--reps", str(tmp_path / "r.csv")]
    layer = write_layer(units, tmp_path / "units.gpkg")
    args = ["align", "--out", str(tmp_path / "run"), "-q", "--no-map"] + extra
    if case == "territories_without_units":
        pd.DataFrame({"account_id": ["x"], "lat": [1.0], "lon": [1.0], "potential": [1]}).to_csv(
            tmp_path / "a.csv", index=False
        )
        args += ["--accounts", str(tmp_path / "a.csv"), "--reps", str(tmp_path / "a.csv")]
    else:
        args += ["--units", str(layer)]
    code, output = run_cli(args)
    assert code == 2, output
    assert expect in output
    assert not (tmp_path / "run").exists()


def test_unit_runs_repeat_byte_for_byte(tmp_path: Path) -> None:
    units = grid_units(3, 3, POTENTIAL_3X3)
    layer = write_layer(units, tmp_path / "grid.gpkg")
    runs = []
    for name in ("one", "two"):
        out = tmp_path / name
        args = ["align", "--units", str(layer), "--territories", "3", "--tolerance", "0.2"]
        args += ["--contiguity", "--crs", UTM, "-o", str(out), "-q"]
        code, output = run_cli(args)
        assert code == 0, output
        runs.append(out)
    names = sorted(p.name for p in runs[0].iterdir())
    assert names == sorted(p.name for p in runs[1].iterdir())
    assert {"territories.geojson", "territories.gpkg", "map.html"} <= set(names)
    for name in names:
        first, second = (r / name for r in runs)
        if name == "run.json":
            a, b = (json.loads(f.read_text()) for f in (first, second))
            a.pop("timings_s"), b.pop("timings_s")
            assert a == b
        else:
            assert first.read_bytes() == second.read_bytes(), name


def test_validate_units_reports_the_layer_its_accounts_and_its_parts(tmp_path: Path) -> None:
    units = grid_units(2, 4, [2.0] * 8, gap_after_col=1)  # two 2x2 blocks: two parts
    layer = write_layer(units, tmp_path / "parts.gpkg")
    code, output = run_cli(["validate", "--units", str(layer)])
    assert code == 0, output
    assert "8 units are valid" in output and "2 part(s)" in output and "no islands" in output
    code, output = run_cli(["validate", "--units", str(layer), "--connect-islands"])
    assert code == 0 and "1 part(s), 1 link(s) added" in output, output
    accounts = tmp_path / "accounts.csv"
    _accounts_in(units, per_unit=2).to_csv(accounts, index=False)
    code, output = run_cli(["validate", "--units", str(layer), "--accounts", str(accounts)])
    assert code == 0 and "16 accounts joined to them" in output, output
    # a lone cell far from the rest is an island
    lone = pd.concat(
        [
            units,
            grid_units(1, 1, [1.0])
            .assign(unit_id="far")
            .set_geometry([shapely.box(-90.0, 45.0, -89.9, 45.1)], crs=4326),
        ],
        ignore_index=True,
    )
    code, output = run_cli(["validate", "--units", str(write_layer(lone, tmp_path / "lone.gpkg"))])
    assert code == 0 and "islands: far" in output, output


def test_validate_without_units_still_needs_accounts_and_reps() -> None:
    code, output = run_cli(["validate", "--accounts", "sample_data/accounts.csv"])
    assert code == 2 and "--accounts and --reps" in output
