"""Files of a unit-based run: the unit table and the territories as dissolved polygons."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from maps.territories import valid_polygonal
from territory.adjacency import CONTACT_TOLERANCE
from territory.run_files import write_csv

if TYPE_CHECKING:
    from territory.design import UnitPlan

# GeoPackage stamps files with the current time; a fixed stamp keeps runs byte-identical
FIXED_TIMESTAMP = "2000-01-01T00:00:00Z"
SLIVER = CONTACT_TOLERANCE  # slivers narrower than this between units are closed


def unit_table(plan: UnitPlan) -> pd.DataFrame:
    """One row per unit: its territory, measures (own plus accounts) and distance."""
    from territory.metrics import distances_km, rep_ids_of

    units = plan.inputs.accounts
    reps = plan.inputs.reps["rep_id"].to_numpy(dtype=object)
    a = plan.assignment
    return pd.DataFrame(
        {
            "unit_id": units["unit_id"].to_numpy(),
            "rep_id": rep_ids_of(a, reps),
            "previous_rep": units["current_rep"].to_numpy(),
            "accounts": units["accounts"].to_numpy(),
            "potential": units["potential"].to_numpy(),
            "workload": units["workload"].to_numpy(),
            "distance_km": np.round(distances_km(plan.facts, a), 3),
            "lat": units["lat"].to_numpy(),
            "lon": units["lon"].to_numpy(),
        }
    )


def write_unit_table(plan: UnitPlan, path: Path) -> None:
    write_csv(unit_table(plan), path)


def territory_polygons(plan: UnitPlan):
    """One (multi)polygon per territory, the union of its units, with its summary figures."""
    import geopandas as gpd
    import shapely

    ui = plan.unit_inputs
    assert ui is not None
    projected = ui.layer.projected
    # close the slivers between borders that do not match exactly (as adjacency does)
    geoms = shapely.buffer(
        np.asarray(projected.values, dtype=object), SLIVER / 2, join_style="mitre"
    )
    a = plan.assignment
    summary = plan.rep_summary()
    shapes = []
    for t in range(len(summary)):
        members = geoms[a == t]
        shapes.append(
            shapely.buffer(shapely.union_all(members), -SLIVER / 2, join_style="mitre")
            if len(members)
            else shapely.Polygon()
        )
    keep = [
        c
        for c in (
            "rep_id",
            "units",
            "accounts",
            "potential",
            "potential_target",
            "potential_index",
            "workload",
            "workload_index",
            "mean_distance_km",
        )
        if c in summary.columns
    ]
    frame = summary[keep].copy()
    for column in ("potential_index", "workload_index", "mean_distance_km"):
        if column in frame:
            frame[column] = frame[column].astype(float).round(3)
    polygons = gpd.GeoDataFrame(frame, geometry=shapes, crs=projected.crs).to_crs("EPSG:4326")
    # made valid last: the union and negative buffer, and reprojection too, can leave a ring
    # outside its shell
    polygons.geometry = [valid_polygonal(g) for g in polygons.geometry.values]
    return polygons


def write_territories(plan: UnitPlan, directory: Path) -> None:
    """``territories.geojson`` and ``territories.gpkg`` (WGS84), deterministic bytes."""
    import pyogrio

    polygons = territory_polygons(plan)
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": FIXED_TIMESTAMP})
    try:
        pyogrio.write_dataframe(polygons, directory / "territories.geojson", driver="GeoJSON")
        pyogrio.write_dataframe(
            polygons, directory / "territories.gpkg", driver="GPKG", layer="territories"
        )
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": None})
