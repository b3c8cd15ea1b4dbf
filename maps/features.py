"""GeoJSON feature collections for the map layers.

Properties hold only what the browser needs: ``s``, the per-feature style
that Leaflet merges over the layer's base style, and ``t``, the tooltip as
already-escaped HTML. Tooltip lines are separated by newlines, not ``<br>``,
and the first line is bold by CSS: at 50,000 accounts every byte per feature
counts. Coordinates are rounded to 5 decimals (about a metre).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from maps.styling import marker_radii
from maps.text import esc, fmt_number

DECIMALS = 5
MOVED_STYLE = {"color": "#000000", "weight": 3}

Feature = dict[str, Any]


def collection(features: list[Feature]) -> dict[str, Any]:
    """Wrap features in a GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}


def account_features(accounts: pd.DataFrame) -> list[Feature]:
    """Point features for accounts (normalised rows), moved accounts last so they draw on top.

    Uses the ``radius_px`` column when present (see :func:`with_radii`) so that
    markers are sized on one scale across layers and pages.
    """
    located = accounts[np.isfinite(accounts["lat"]) & np.isfinite(accounts["lon"])]
    if "radius_px" not in located.columns:
        located = with_radii(located)
    located = located.sort_values(["moved", "account_id"], kind="stable")
    columns = ["account_id", "name", "rep_id", "previous_rep", "segment", "potential", "moved"]
    features = []
    for lon, lat, radius, values in zip(
        located["lon"],
        located["lat"],
        located["radius_px"],
        located[columns].to_dict("records"),
        strict=True,
    ):
        style: dict[str, Any] = {"radius": float(radius)}
        if values["moved"]:
            style.update(MOVED_STYLE)
        features.append(_point(lon, lat, {"s": style, "t": account_tooltip(values)}))
    return features


def with_radii(accounts: pd.DataFrame) -> pd.DataFrame:
    """Add the marker radius of each account (``radius_px``), scaled over these accounts."""
    return accounts.assign(radius_px=marker_radii(accounts["potential"].to_numpy(float)))


def account_tooltip(row: dict[str, Any]) -> str:
    """Tooltip HTML for one account: name, id, rep, potential, and any move."""
    name = esc(row.get("name", ""))
    account = esc(row.get("account_id", ""))
    title = f"{name} ({account})" if name else account
    rep = esc(row.get("rep_id", ""))
    lines = [title, f"rep {rep}" if rep else "uncovered"]
    segment = esc(row.get("segment", ""))
    if segment:
        lines.append(f"segment {segment}")
    lines.append(f"potential {fmt_number(row.get('potential'))}")
    if row.get("moved"):
        previous = esc(row.get("previous_rep", "")) or "none"
        lines.append(f"moved {previous} \u2192 {rep or 'uncovered'}")
    return "\n".join(lines)


def home_features(reps: pd.DataFrame, colours: dict[str, str]) -> list[Feature]:
    """Point features for rep home bases that have coordinates."""
    located = reps[np.isfinite(reps["lat"]) & np.isfinite(reps["lon"])]
    features = []
    for row in located.sort_values("rep_id", kind="stable").to_dict("records"):
        rep = str(row["rep_id"])
        name = esc(row.get("name", ""))
        tooltip = (
            f"{esc(rep)}{' ' + name if name else ''}\nhome base"
            f"\npotential index {fmt_number(row.get('potential_index'), 2)}"
        )
        style = {"fillColor": colours.get(rep, "#ffffff")}
        features.append(_point(row["lon"], row["lat"], {"s": style, "t": tooltip}))
    return features


def territory_features(
    shapes: dict[str, BaseGeometry],
    reps: pd.DataFrame,
    colours: dict[str, str],
    account_counts: dict[str, int],
) -> list[Feature]:
    """Polygon features, one per rep territory, with the rep's balance figures."""
    by_rep = {str(row["rep_id"]): row for row in reps.to_dict("records")}
    features = []
    for rep in sorted(shapes):
        row = by_rep.get(rep, {})
        name = esc(row.get("name", ""))
        accounts = row.get("accounts")
        if accounts is None or not np.isfinite(accounts):
            accounts = account_counts.get(rep, 0)
        tooltip = "\n".join(
            [
                f"{esc(rep)}{' ' + name if name else ''}",
                f"potential index {fmt_number(row.get('potential_index'), 2)}",
                f"workload index {fmt_number(row.get('workload_index'), 2)}",
                f"accounts {fmt_number(accounts, 0)}",
                f"mean distance {fmt_number(row.get('mean_distance_km'), 1)} km",
            ]
        )
        features.append(
            {
                "type": "Feature",
                "geometry": polygon_geometry(shapes[rep]),
                "properties": {"s": {"fillColor": colours.get(rep, "#ffffff")}, "t": tooltip},
            }
        )
    return features


def polygon_geometry(geometry: BaseGeometry) -> dict[str, Any]:
    """GeoJSON geometry of a (Multi)Polygon with rounded coordinates."""
    polygons = [_rings(part) for part in shapely.get_parts(geometry) if not part.is_empty]
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _rings(polygon: BaseGeometry) -> list[list[list[float]]]:
    rings = [polygon.exterior, *polygon.interiors]  # type: ignore[attr-defined]
    return [np.round(np.asarray(ring.coords)[:, :2], DECIMALS).tolist() for ring in rings]


def _point(lon: float, lat: float, properties: dict[str, Any]) -> Feature:
    return {
        "type": "Feature",
        "geometry": {
            "type": "Point",
            "coordinates": [round(float(lon), DECIMALS), round(float(lat), DECIMALS)],
        },
        "properties": properties,
    }
