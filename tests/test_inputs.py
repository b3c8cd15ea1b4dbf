"""The Python input API: ``load_inputs`` and ``inputs_from_frames`` on every supported format.

Every format must give the same clean data: ids as text, numbers as floats, lat/lon in WGS84
degrees (taken from the geometry where there are no lat/lon columns).
"""

from __future__ import annotations

import math
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from territory.columns import ColumnMap
from territory.errors import InputError
from territory.inputs import AlignmentInputs, inputs_from_frames, load_inputs

# account_id, name, lat, lon, potential, workload, current_rep
ACCOUNTS = [
    ("00123", "Alpha", 32.701234, -97.301234, 12500.0, 5.0, "R1"),
    ("A2", "Beta", 32.812345, -97.112345, 200.0, 6.5, "R1"),
    ("A3", "Gamma", 32.923456, -96.923456, 150.0, 4.0, "R2"),
    ("A4", "Delta", 33.034567, -96.834567, 0.0, 0.0, "R2"),
]
# rep_id, name, lat, lon, capacity, fte
REPS = [
    ("R1", "Ann", 32.75, -97.20, 100.0, 1.0),
    ("R2", "Bob", 32.95, -96.85, 80.0, 0.5),
]
ACCOUNT_COLUMNS = ["account_id", "name", "lat", "lon", "potential", "workload", "current_rep"]
REP_COLUMNS = ["rep_id", "name", "lat", "lon", "capacity", "fte"]


def accounts_frame() -> pd.DataFrame:
    return pd.DataFrame(ACCOUNTS, columns=ACCOUNT_COLUMNS)


def reps_frame() -> pd.DataFrame:
    return pd.DataFrame(REPS, columns=REP_COLUMNS)


def csv_text(rows: list[list[str]], sep: str = ",") -> str:
    return "\n".join(sep.join(row) for row in rows) + "\n"


def accounts_rows(potential_text: dict[int, str] | None = None) -> list[list[str]]:
    rows = [list(ACCOUNT_COLUMNS)]
    for i, (aid, name, lat, lon, pot, wl, cur) in enumerate(ACCOUNTS):
        shown = (potential_text or {}).get(i, f"{pot:g}")
        rows.append([aid, name, f"{lat}", f"{lon}", shown, f"{wl:g}", cur])
    return rows


def reps_rows() -> list[list[str]]:
    rows = [list(REP_COLUMNS)]
    for rid, name, lat, lon, cap, fte in REPS:
        rows.append([rid, name, f"{lat}", f"{lon}", f"{cap:g}", f"{fte:g}"])
    return rows


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def write_reps_csv(tmp_path: Path) -> Path:
    return write(tmp_path / "reps.csv", csv_text(reps_rows()))


def to_geo(frame: pd.DataFrame, crs: str = "EPSG:4326") -> gpd.GeoDataFrame:
    geo = gpd.GeoDataFrame(
        frame.drop(columns=["lat", "lon"]),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs="EPSG:4326",
    )
    return geo.to_crs(crs)


def assert_clean(inputs: AlignmentInputs, *, atol: float = 1e-9) -> None:
    """The clean data equals ACCOUNTS / REPS whatever the file format was."""
    acc = inputs.accounts
    assert list(acc["account_id"]) == [a[0] for a in ACCOUNTS]
    assert list(acc["name"]) == [a[1] for a in ACCOUNTS]
    np.testing.assert_allclose(acc["lat"].to_numpy(float), [a[2] for a in ACCOUNTS], atol=atol)
    np.testing.assert_allclose(acc["lon"].to_numpy(float), [a[3] for a in ACCOUNTS], atol=atol)
    np.testing.assert_allclose(inputs.potential, [a[4] for a in ACCOUNTS])
    np.testing.assert_allclose(inputs.workload, [a[5] for a in ACCOUNTS])
    assert list(acc["current_rep"]) == [a[6] for a in ACCOUNTS]
    assert inputs.has_workload and inputs.has_current and inputs.has_capacity
    reps = inputs.reps
    assert list(reps["rep_id"]) == [r[0] for r in REPS]
    np.testing.assert_allclose(reps["lat"].to_numpy(float), [r[2] for r in REPS], atol=atol)
    np.testing.assert_allclose(reps["lon"].to_numpy(float), [r[3] for r in REPS], atol=atol)
    np.testing.assert_allclose(reps["capacity"].to_numpy(float), [r[4] for r in REPS])
    np.testing.assert_allclose(reps["fte"].to_numpy(float), [r[5] for r in REPS])
    assert list(inputs.current) == [0, 0, 1, 1]
    assert not inputs.departed.any()
    assert inputs.warnings == []


# ----------------------------------------------------------------------------- formats


def test_csv(tmp_path: Path) -> None:
    accounts = write(tmp_path / "accounts.csv", csv_text(accounts_rows()))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert_clean(inputs)
    assert inputs.files["accounts"].rows == len(ACCOUNTS)
    assert inputs.files["accounts"].sha256 and len(inputs.files["accounts"].sha256) == 64


def test_csv_semicolon_delimiter(tmp_path: Path) -> None:
    accounts = write(tmp_path / "accounts.csv", csv_text(accounts_rows(), sep=";"))
    reps = write(tmp_path / "reps.csv", csv_text(reps_rows(), sep=";"))
    assert_clean(load_inputs(accounts, reps))


def test_csv_with_utf8_bom(tmp_path: Path) -> None:
    accounts = write(tmp_path / "accounts.csv", "\ufeff" + csv_text(accounts_rows()))
    reps = write(tmp_path / "reps.csv", "\ufeff" + csv_text(reps_rows()))
    inputs = load_inputs(accounts, reps)
    assert_clean(inputs)
    assert "account_id" in inputs.accounts.columns
    assert not any(c.startswith("\ufeff") for c in inputs.accounts.columns)


def test_latin1_csv_with_accented_name(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[2][1] = "Café Müller Señor"
    text = csv_text(rows)
    raw = text.encode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")  # the file really is not UTF-8
    accounts = tmp_path / "accounts.csv"
    accounts.write_bytes(raw)
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert inputs.accounts["name"].iloc[1] == "Café Müller Señor"
    np.testing.assert_allclose(inputs.potential, [a[4] for a in ACCOUNTS])


def test_thousands_separators_in_potential(tmp_path: Path) -> None:
    rows = accounts_rows(potential_text={0: '"12,500"', 1: '"1,200.5"'})
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert inputs.potential[0] == 12500.0
    assert inputs.potential[1] == 1200.5
    np.testing.assert_allclose(inputs.potential[2:], [150.0, 0.0])


def test_parquet(tmp_path: Path) -> None:
    accounts, reps = tmp_path / "accounts.parquet", tmp_path / "reps.parquet"
    accounts_frame().to_parquet(accounts, index=False)
    reps_frame().to_parquet(reps, index=False)
    assert_clean(load_inputs(accounts, reps))


def test_geojson_point_geometry(tmp_path: Path) -> None:
    accounts, reps = tmp_path / "accounts.geojson", tmp_path / "reps.geojson"
    to_geo(accounts_frame()).to_file(accounts, driver="GeoJSON")
    to_geo(reps_frame()).to_file(reps, driver="GeoJSON")
    raw = gpd.read_file(accounts)
    assert "lat" not in raw.columns and "lon" not in raw.columns
    assert_clean(load_inputs(accounts, reps), atol=1e-7)


def test_geopackage(tmp_path: Path) -> None:
    accounts, reps = tmp_path / "accounts.gpkg", tmp_path / "reps.gpkg"
    to_geo(accounts_frame()).to_file(accounts, driver="GPKG")
    to_geo(reps_frame()).to_file(reps, driver="GPKG")
    assert_clean(load_inputs(accounts, reps), atol=1e-7)


def test_projected_geodataframe_is_converted_to_wgs84() -> None:
    accounts = to_geo(accounts_frame(), crs="EPSG:3857")
    reps = to_geo(reps_frame(), crs="EPSG:3857")
    assert abs(accounts.geometry.x.iloc[0]) > 1000  # metres, not degrees
    inputs = inputs_from_frames(accounts, reps)
    assert_clean(inputs, atol=1e-6)


def test_plain_dataframes() -> None:
    assert_clean(inputs_from_frames(accounts_frame(), reps_frame()))


def test_all_formats_give_the_same_clean_accounts(tmp_path: Path) -> None:
    reps = write_reps_csv(tmp_path)
    csv = write(tmp_path / "a.csv", csv_text(accounts_rows()))
    parquet = tmp_path / "a.parquet"
    accounts_frame().to_parquet(parquet, index=False)
    gpkg = tmp_path / "a.gpkg"
    to_geo(accounts_frame()).to_file(gpkg, driver="GPKG")
    frames = [load_inputs(p, reps).accounts for p in (csv, parquet, gpkg)]
    columns = ["account_id", "lat", "lon", "potential", "workload", "current_rep", "locked_rep"]
    for other in frames[1:]:
        pd.testing.assert_frame_equal(
            frames[0][columns].reset_index(drop=True),
            other[columns].reset_index(drop=True),
            check_exact=False,
            atol=1e-7,
            check_dtype=False,
        )


# ----------------------------------------------------------------------------- ids


def test_ids_kept_as_text_with_leading_zeros(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[2][0] = "007"
    rows[3][0] = "1.50"
    reps = reps_rows()
    reps[1][0] = "0001"
    reps[2][0] = "02"
    for row in rows[1:]:
        row[6] = {"R1": "0001", "R2": "02"}[row[6]]
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write(tmp_path / "reps.csv", csv_text(reps)))
    assert list(inputs.accounts["account_id"]) == ["00123", "007", "1.50", "A4"]
    assert list(inputs.reps["rep_id"]) == ["0001", "02"]
    assert list(inputs.current) == [0, 0, 1, 1]


def test_text_ids_in_parquet_keep_leading_zeros(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.parquet"
    frame = accounts_frame()
    frame["account_id"] = ["00123", "0", "000", "0042"]
    frame.to_parquet(accounts, index=False)
    reps = tmp_path / "reps.parquet"
    reps_frame().to_parquet(reps, index=False)
    inputs = load_inputs(accounts, reps)
    assert list(inputs.accounts["account_id"]) == ["00123", "0", "000", "0042"]


# ----------------------------------------------------------------------------- remapping


def test_column_remapping(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[0] = ["Id" if c == "account_id" else "Sales" if c == "potential" else c for c in rows[0]]
    reps = reps_rows()
    reps[0] = ["Territory" if c == "rep_id" else c for c in reps[0]]
    accounts_path = write(tmp_path / "accounts.csv", csv_text(rows))
    reps_path = write(tmp_path / "reps.csv", csv_text(reps))
    columns = ColumnMap(
        accounts={"potential": "Sales", "account_id": "Id"}, reps={"rep_id": "Territory"}
    )
    inputs = load_inputs(accounts_path, reps_path, columns=columns)
    assert_clean(inputs)
    assert "Sales" not in inputs.accounts.columns and "Id" not in inputs.accounts.columns
    assert "Territory" not in inputs.reps.columns
    assert inputs.columns == columns
    # without the map the same files are refused, naming the missing columns
    with pytest.raises(InputError) as info:
        load_inputs(accounts_path, reps_path)
    text = str(info.value)
    assert "'account_id'" in text and "'potential'" in text and "'rep_id'" in text


def test_column_remapping_in_frames() -> None:
    accounts = accounts_frame().rename(columns={"potential": "Sales", "account_id": "Id"})
    reps = reps_frame().rename(columns={"rep_id": "Territory"})
    columns = ColumnMap(
        accounts={"potential": "Sales", "account_id": "Id"}, reps={"rep_id": "Territory"}
    )
    assert_clean(inputs_from_frames(accounts, reps, columns=columns))


# ----------------------------------------------------------------------------- departed reps


def test_departed_rep_is_one_warning_not_an_error(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[1][6] = "R9"
    rows[3][6] = "R9"
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert len(inputs.warnings) == 1
    warning = inputs.warnings[0]
    assert "2 accounts" in warning and "R9" in warning
    assert list(inputs.current) == [-1, 0, -1, 1]
    assert list(inputs.departed) == [True, False, True, False]
    assert list(inputs.accounts["current_rep"]) == ["R9", "R1", "R9", "R2"]


def test_blank_current_rep_is_unassigned_not_departed(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[3][6] = ""  # the third account
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert inputs.warnings == []
    assert list(inputs.current) == [0, 0, -1, 1]
    assert not inputs.departed.any()


def test_departed_reps_in_frames() -> None:
    frame = accounts_frame()
    frame.loc[0, "current_rep"] = "Gone"
    inputs = inputs_from_frames(frame, reps_frame())
    assert len(inputs.warnings) == 1 and "1 accounts" in inputs.warnings[0]
    assert inputs.current[0] == -1 and inputs.departed[0]


# ----------------------------------------------------------------------------- optional columns


def test_without_workload_column(tmp_path: Path) -> None:
    rows = [[c for j, c in enumerate(row) if j != 5] for row in accounts_rows()]
    assert "workload" not in rows[0]
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert inputs.has_workload is False
    np.testing.assert_array_equal(inputs.workload, np.zeros(len(ACCOUNTS)))


def test_without_optional_columns_at_all() -> None:
    accounts = accounts_frame()[["account_id", "lat", "lon", "potential"]]
    reps = reps_frame()[["rep_id", "lat", "lon"]]
    inputs = inputs_from_frames(accounts, reps)
    assert not inputs.has_workload and not inputs.has_current and not inputs.has_capacity
    assert list(inputs.current) == [-1] * 4 and list(inputs.locked) == [-1] * 4
    assert np.all(np.isposinf(inputs.reps["capacity"].to_numpy(float)))
    np.testing.assert_array_equal(inputs.reps["fte"].to_numpy(float), [1.0, 1.0])


def test_blank_fte_is_one_and_blank_capacity_is_unlimited(tmp_path: Path) -> None:
    reps = reps_rows()
    reps[1][4] = ""  # R1 capacity blank
    reps[2][5] = ""  # R2 fte blank
    accounts = write(tmp_path / "accounts.csv", csv_text(accounts_rows()))
    inputs = load_inputs(accounts, write(tmp_path / "reps.csv", csv_text(reps)))
    capacity = inputs.reps["capacity"].to_numpy(float)
    fte = inputs.reps["fte"].to_numpy(float)
    assert math.isinf(capacity[0]) and capacity[0] > 0
    assert capacity[1] == 80.0
    assert fte[0] == 1.0  # R1 has fte 1 explicitly
    assert fte[1] == 1.0  # blank → default 1
    assert inputs.has_capacity


def test_blank_workload_cell_is_zero(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[2][5] = ""
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert inputs.has_workload
    np.testing.assert_allclose(inputs.workload, [5.0, 0.0, 4.0, 0.0])


def test_locked_rep_is_indexed_on_the_roster(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[0].append("locked_rep")
    for row, lock in zip(rows[1:], ["R2", "", "", "R1"], strict=True):
        row.append(lock)
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert list(inputs.locked) == [1, -1, -1, 0]


def test_carried_columns_are_kept(tmp_path: Path) -> None:
    rows = accounts_rows()
    rows[0].append("segment")
    for row, seg in zip(rows[1:], ["Pharmacy", "Practice", "", "007"], strict=True):
        row.append(seg)
    accounts = write(tmp_path / "accounts.csv", csv_text(rows))
    inputs = load_inputs(accounts, write_reps_csv(tmp_path))
    assert list(inputs.accounts["segment"]) == ["Pharmacy", "Practice", "", "007"]


def test_missing_capacity_and_fte_in_typed_frames() -> None:
    reps = reps_frame()
    reps.loc[0, "capacity"] = np.nan
    reps.loc[1, "fte"] = np.nan
    inputs = inputs_from_frames(accounts_frame(), reps)
    assert list(inputs.reps["capacity"]) == [np.inf, 80.0]
    assert list(inputs.reps["fte"]) == [1.0, 1.0]


def _geo_accounts(tmp_path, geometries, crs="EPSG:4326"):
    import geopandas as gpd

    frame = gpd.GeoDataFrame(
        {"account_id": [f"a{i}" for i in range(len(geometries))], "potential": 10.0},
        geometry=geometries,
        crs=crs,
    )
    path = tmp_path / "accounts.gpkg"
    frame.to_file(path, driver="GPKG")
    reps = tmp_path / "reps.csv"
    reps.write_text("rep_id,lat,lon\nr1,40,-74\n")
    return path, reps


def test_empty_geometry_is_named_as_such(tmp_path):
    import shapely

    accounts, reps = _geo_accounts(
        tmp_path, [shapely.Point(-74, 40.7), None, shapely.Point(-73.9, 40.8)]
    )
    with pytest.raises(InputError) as error:
        load_inputs(accounts, reps)
    messages = [str(p) for p in error.value.problems]
    assert messages == [
        "accounts.gpkg, feature 2, column 'geometry': geometry is empty or missing. "
        "Fix: give the feature a point or polygon, or remove it."
    ]


def test_invalid_polygon_still_gets_a_point_inside(tmp_path):
    import shapely

    bow_tie = shapely.Polygon([(-74, 40), (-73, 41), (-73, 40), (-74, 41), (-74, 40)])
    accounts, reps = _geo_accounts(tmp_path, [bow_tie, shapely.Point(-73.5, 40.5)])
    inputs = load_inputs(accounts, reps)
    assert np.all(np.isfinite(inputs.accounts[["lat", "lon"]].to_numpy()))


def test_projected_file_without_crs_is_refused_with_a_crs_hint(tmp_path):
    import shapely

    points = [shapely.Point(-8238310, 4970241), shapely.Point(-8230000, 4960000)]
    accounts, reps = _geo_accounts(tmp_path, points, crs=None)
    with pytest.raises(InputError) as error:
        load_inputs(accounts, reps)
    assert all("no CRS" in str(p) for p in error.value.problems)


def test_files_in_different_crs_meet_in_degrees(tmp_path):
    import shapely

    accounts, reps = _geo_accounts(
        tmp_path,
        [shapely.Point(-8238310, 4970241), shapely.Point(-8230000, 4960000)],
        crs="EPSG:3857",
    )
    inputs = load_inputs(accounts, reps)
    assert inputs.accounts["lat"].between(40, 41).all()
    assert inputs.accounts["lon"].between(-75, -73).all()
