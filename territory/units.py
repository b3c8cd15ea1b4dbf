"""Alignment units (ZIP codes, counties, bricks): read, validate, place, and join accounts.

A unit layer is a polygon file with a ``unit_id`` and optional ``potential`` and ``workload``
(the unit's own measures). Distances between units are taken between centroids computed in a
projected CRS: the user's ``--crs`` when given (distances are then planar km in it), otherwise
the layer's local UTM zone (distances are then great-circle km between the centroids).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.errors import InputError, Problem, UsageError
from territory.readers import GEO_SUFFIXES, PARQUET_SUFFIXES, RawTable
from territory.validation import (
    MAX_PROBLEMS_PER_CHECK,
    _carried,
    _Checker,
    _ids,
    _measure,
    _missing_column,
    _text,
)

UNIT_FIELDS = ("unit_id", "potential", "workload", "name")


@dataclass
class UnitLayer:
    """Validated units: ids, own measures, geometry and centroids.

    ``xy_km`` holds centroid coordinates in km in the projected CRS ``crs`` when the user gave
    one (planar distances), and is ``None`` otherwise (great-circle distances).
    """

    frame: pd.DataFrame  # unit_id, potential, workload, lat, lon, carried columns
    geometry: Any  # geopandas GeoSeries in EPSG:4326, aligned with frame
    source: str
    has_potential: bool
    has_workload: bool
    crs: str | None = None
    xy_km: np.ndarray | None = None
    projected: Any = None  # GeoSeries in the projected CRS (the user's or a local UTM)
    warnings: list[str] = field(default_factory=list)

    @property
    def n_units(self) -> int:
        return len(self.frame)

    @property
    def ids(self) -> np.ndarray:
        return self.frame["unit_id"].to_numpy(dtype=object)


def _read_polygons(path: Path):
    """The layer as a GeoDataFrame, or InputError naming the file."""
    import geopandas as gpd

    if not path.exists():
        raise InputError([Problem(str(path), "file not found.", hint="check the path.")])
    suffix = path.suffix.lower()
    if suffix not in GEO_SUFFIXES | PARQUET_SUFFIXES:
        raise InputError(
            [
                Problem(
                    path.name,
                    "a unit layer must be a polygon file (GeoPackage, GeoJSON, Shapefile, "
                    "GeoParquet).",
                    hint="export the units with their polygons, e.g. as GeoPackage.",
                )
            ]
        )
    try:
        if suffix in PARQUET_SUFFIXES:
            return gpd.read_parquet(path)
        import pyogrio

        return pyogrio.read_dataframe(path)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            [Problem(path.name, f"cannot be read as a polygon layer ({reason}).")]
        ) from None


def _check_geometry(check: _Checker, geo) -> None:
    """Every unit needs a valid, non-empty polygon; name the features that do not have one."""
    import shapely

    geoms = np.asarray(geo.geometry.values, dtype=object)
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    check.cells(
        missing, "geometry", "geometry is empty or missing.", "give every unit its polygon."
    )
    kinds = shapely.get_type_id(geoms)
    polygonal = (kinds == 3) | (kinds == 6)  # Polygon, MultiPolygon
    check.cells(
        ~missing & ~polygonal,
        "geometry",
        "is not a polygon.",
        "units are areas: give polygons (points belong in the accounts file).",
    )
    invalid = ~missing & polygonal & ~shapely.is_valid(geoms)
    positions = np.flatnonzero(invalid)
    for pos in positions[:MAX_PROBLEMS_PER_CHECK]:
        check.problems.append(
            Problem(
                check.table.source,
                f"polygon is invalid ({shapely.is_valid_reason(geoms[pos])}).",
                row=check.table.row_number(int(pos)),
                row_word=check.table.row_word,
                column="geometry",
                hint="repair it (QGIS 'Fix geometries', or shapely.make_valid) and save again.",
            )
        )
    if len(positions) > MAX_PROBLEMS_PER_CHECK:
        check.file(f"{len(positions) - MAX_PROBLEMS_PER_CHECK} more invalid polygons.")


def _with_crs(geo, source: str, warnings: list[str]):
    """The layer with a CRS: a CRS-less layer in degree range is taken as WGS84 (warned)."""
    if geo.crs is not None:
        return geo
    minx, miny, maxx, maxy = geo.total_bounds
    if -180 <= minx <= maxx <= 180 and -90 <= miny <= maxy <= 90:
        warnings.append(f"{source} has no CRS; its coordinates look like degrees: read as WGS84.")
        return geo.set_crs("EPSG:4326")
    raise InputError(
        [
            Problem(
                source,
                "has no CRS and its coordinates are not degrees.",
                hint="define the layer's CRS (e.g. ogr2ogr -a_srs EPSG:NNNN) and try again.",
            )
        ]
    )


def projected_crs(crs: str | None):
    """The user's ``--crs`` checked: it must exist and be projected (metres or feet)."""
    if crs is None:
        return None
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        parsed = CRS.from_user_input(crs)
    except CRSError:
        raise UsageError(f"--crs {crs}: not a known coordinate reference system.") from None
    if not parsed.is_projected:
        raise UsageError(
            f"--crs {crs} is geographic (degrees); give a projected CRS in metres, e.g. a UTM "
            "zone (EPSG:326NN) or a national grid."
        )
    return parsed


def read_units(
    path: str | Path, columns: dict[str, str] | None = None, crs: str | None = None
) -> UnitLayer:
    """Read and validate a unit layer; raises :class:`InputError` listing every problem."""
    path = Path(path)
    columns = columns or {}
    target = projected_crs(crs)
    geo = _read_polygons(path)
    table = RawTable(pd.DataFrame(geo), path.name, first_row=1, row_word="feature")
    check = _Checker(table)

    def col(name: str) -> str:
        return columns.get(name, name)

    if len(geo) == 0:
        raise InputError([Problem(path.name, "has no units.", hint="add at least one polygon.")])
    if col("unit_id") not in geo.columns:
        _missing_column(check, col("unit_id"), "units", "--unit-col", "unit_id")
        raise InputError(check.problems)
    ids = _ids(check, col("unit_id"), "unit")
    has_potential = col("potential") in geo.columns
    has_workload = col("workload") in geo.columns
    potential = (
        _measure(check, col("potential"), required=False, default=0.0)
        if has_potential
        else np.zeros(len(geo))
    )
    workload = (
        _measure(check, col("workload"), required=False, default=0.0)
        if has_workload
        else np.zeros(len(geo))
    )
    _check_geometry(check, geo)
    if check.problems:
        raise InputError(check.problems)
    warnings: list[str] = []
    geo = _with_crs(geo, path.name, warnings)
    projection = target if target is not None else geo.to_crs("EPSG:4326").estimate_utm_crs()
    projected = geo.geometry.to_crs(projection)
    centroids = projected.centroid
    lonlat = centroids.to_crs("EPSG:4326")
    used = {col(f) for f in ("unit_id", "potential", "workload")} | {geo.geometry.name}
    carried = _carried(pd.DataFrame(geo), used).reset_index(drop=True)
    frame = pd.DataFrame(
        {
            "unit_id": ids.to_numpy(),
            "potential": potential,
            "workload": workload,
            "lat": lonlat.y.to_numpy(),
            "lon": lonlat.x.to_numpy(),
        }
    )
    carried = carried.drop(columns=[c for c in carried.columns if c in frame.columns])
    frame = pd.concat([frame, carried], axis=1)
    xy_km = None
    if target is not None:
        xy_km = np.column_stack([centroids.x.to_numpy(), centroids.y.to_numpy()]) / 1000.0
        unit = target.axis_info[0].unit_conversion_factor if target.axis_info else 1.0
        xy_km = xy_km * unit
    return UnitLayer(
        frame=frame,
        geometry=geo.geometry.to_crs("EPSG:4326").reset_index(drop=True),
        source=path.name,
        has_potential=has_potential,
        has_workload=has_workload,
        crs=None if target is None else target.to_string(),
        xy_km=xy_km,
        projected=projected.reset_index(drop=True),
        warnings=warnings,
    )


@dataclass(frozen=True)
class AccountUnits:
    """Which unit each account lies in, and how that was decided."""

    unit: np.ndarray  # unit position per account
    method: str  # "unit_id column" or "spatial join"


def join_accounts(
    layer: UnitLayer, accounts: pd.DataFrame, source: str, row_of, unit_column: str = "unit_id"
) -> AccountUnits:
    """Put each account in a unit: by its ``unit_id`` column when present, else by location.

    ``row_of(position)`` gives the row number the user sees in the accounts file.
    """
    problems: list[Problem] = []
    if unit_column in accounts.columns:
        position = {u: i for i, u in enumerate(layer.ids)}
        values = _text(accounts[unit_column]).to_numpy(dtype=object)
        unit = np.array([position.get(v, -1) for v in values], dtype=np.int64)
        for pos in np.flatnonzero(unit < 0)[:MAX_PROBLEMS_PER_CHECK]:
            problems.append(
                Problem(
                    source,
                    f"unit '{str(values[pos])[:60]}' is not in {layer.source}.",
                    row=row_of(int(pos)),
                    column=unit_column,
                    hint="use a unit_id from the unit layer (ids are text: keep leading zeros).",
                )
            )
        method = f"{unit_column} column"
    else:
        unit = _spatial_join(layer, accounts["lat"].to_numpy(), accounts["lon"].to_numpy())
        for pos in np.flatnonzero(unit < 0)[:MAX_PROBLEMS_PER_CHECK]:
            problems.append(
                Problem(
                    source,
                    f"account at ({accounts['lat'].iloc[pos]:.5f}, "
                    f"{accounts['lon'].iloc[pos]:.5f}) lies in no unit of {layer.source}.",
                    row=row_of(int(pos)),
                    column="lat",
                    hint="add a unit_id column to the accounts, or check the coordinates.",
                )
            )
        method = "spatial join"
    outside = int((unit < 0).sum())
    if outside > MAX_PROBLEMS_PER_CHECK:
        problems.append(Problem(source, f"{outside - MAX_PROBLEMS_PER_CHECK} more such accounts."))
    if problems:
        raise InputError(problems)
    return AccountUnits(unit, method)


def _spatial_join(layer: UnitLayer, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Unit position of each point (-1 outside all units); on a shared border the first unit."""
    import shapely

    points = shapely.points(lon, lat)
    geoms = np.asarray(layer.geometry.values, dtype=object)
    tree = shapely.STRtree(geoms)
    point_idx, unit_idx = tree.query(points, predicate="intersects")
    out = np.full(len(lat), -1, dtype=np.int64)
    order = np.lexsort((unit_idx, point_idx))
    point_idx, unit_idx = point_idx[order], unit_idx[order]
    first = np.flatnonzero(np.diff(point_idx, prepend=-1) != 0)
    out[point_idx[first]] = unit_idx[first]
    return out
