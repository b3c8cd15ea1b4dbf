"""Data for the map layers: compact account columns and small GeoJSON collections.

All text here is raw user text. It reaches the page only as JSON inside a
``<script>`` element (see :func:`maps.text.script_json`) and the browser puts
it into tooltips with ``textContent``, never as HTML, so no escaping is done
here and none is needed.

Accounts are the bulk of a page (200,000 of them in a big plan), so they are
not GeoJSON features with a tooltip string each: every account layer is a set
of parallel arrays (coordinates, radius, id, name, potential, change code) and
the page builds features and tooltips from them in JavaScript. Territories and
home bases are few and stay GeoJSON, with their tooltip as a list of lines
(``t``) and their style (``s``) in the properties. Coordinates are rounded to
5 decimals (about a metre).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from maps.styling import marker_radii
from maps.text import as_float, fmt_number

DECIMALS = 5
KEPT, MOVED, INHERITED = 0, 1, 2

Feature = dict[str, Any]


def collection(features: list[Feature]) -> dict[str, Any]:
    """Wrap features in a GeoJSON FeatureCollection."""
    return {"type": "FeatureCollection", "features": features}


def has_previous(accounts: pd.DataFrame) -> bool:
    """Whether the run started from a current alignment (some ``previous_rep`` is set)."""
    return bool((accounts["previous_rep"] != "").any())


def change_codes(accounts: pd.DataFrame) -> np.ndarray:
    """Per account: MOVED, INHERITED (new owner, previous one gone or none) or KEPT.

    ``moved`` decides MOVED. INHERITED comes from the run's ``change`` column,
    or, without one, from a covered account whose previous rep differs, as
    long as the run had a current alignment at all.
    """
    codes = np.full(len(accounts), KEPT, dtype=np.int8)
    if "change" in accounts.columns and (accounts["change"] != "").any():
        inherited = (accounts["change"] == "inherited").to_numpy()
    elif has_previous(accounts):
        rep, previous = accounts["rep_id"], accounts["previous_rep"]
        inherited = ((rep != "") & (previous != rep)).to_numpy()
    else:
        inherited = np.zeros(len(accounts), dtype=bool)
    codes[inherited] = INHERITED
    codes[accounts["moved"].to_numpy(bool)] = MOVED
    return codes


def with_radii(accounts: pd.DataFrame) -> pd.DataFrame:
    """Add the marker radius of each account (``radius_px``), scaled over these accounts."""
    return accounts.assign(radius_px=marker_radii(accounts["potential"].to_numpy(float)))


def account_data(accounts: pd.DataFrame, rep: str) -> dict[str, Any]:
    """Parallel arrays for the located accounts of one rep ("" for uncovered ones).

    Keys: ``rep``; ``x``/``y`` (lon/lat); ``r`` (marker radius, px); ``id``;
    ``p`` (potential, null when unknown); optional ``n`` (names), ``seg``
    (segments as ``{"v": values, "i": codes}``), ``c`` (change codes, see
    :func:`change_codes`) and ``pv`` (previous rep by position, where it
    differs from ``rep``). Moved accounts come last so they draw on top.
    Uses ``radius_px`` and ``change_code`` when present.
    """
    located = accounts[np.isfinite(accounts["lat"]) & np.isfinite(accounts["lon"])]
    if "radius_px" not in located.columns:
        located = with_radii(located)
    codes = (
        located["change_code"].to_numpy()
        if "change_code" in located.columns
        else change_codes(located)
    )
    order = np.lexsort((located["account_id"].to_numpy(str), codes == MOVED))
    located = located.iloc[order]
    codes = codes[order]
    data: dict[str, Any] = {
        "rep": rep,
        "x": np.round(located["lon"].to_numpy(float), DECIMALS).tolist(),
        "y": np.round(located["lat"].to_numpy(float), DECIMALS).tolist(),
        "r": [_compact(v) for v in located["radius_px"].to_numpy(float).tolist()],
        "id": located["account_id"].tolist(),
        "p": [_compact(as_float(v)) for v in located["potential"].tolist()],
    }
    names = located["name"]
    if (names != "").any():
        data["n"] = names.tolist()
    segments = located["segment"]
    if (segments != "").any():
        values, index = np.unique(segments.to_numpy(str), return_inverse=True)
        data["seg"] = {"v": values.tolist(), "i": index.tolist()}
    if codes.any():
        data["c"] = codes.tolist()
    previous = located["previous_rep"].to_numpy(str)
    differs = np.flatnonzero((previous != "") & (previous != rep))
    if differs.size:
        data["pv"] = {str(i): previous[i] for i in differs.tolist()}
    return data


def account_count(data: dict[str, Any]) -> int:
    """Number of accounts in a layer made by :func:`account_data`."""
    return len(data["x"])


def home_features(reps: pd.DataFrame, colours: dict[str, str]) -> list[Feature]:
    """Point features for rep home bases that have coordinates.

    Properties: ``c`` the rep's colour, ``t`` the tooltip lines.
    """
    located = reps[np.isfinite(reps["lat"]) & np.isfinite(reps["lon"])]
    features = []
    for row in located.sort_values("rep_id", kind="stable").to_dict("records"):
        rep = str(row["rep_id"])
        lines = [
            _rep_title(rep, row),
            "home base",
            f"potential index {fmt_number(row.get('potential_index'), 2)}",
        ]
        properties = {"c": colours.get(rep, "#ffffff"), "t": lines}
        features.append(_point(row["lon"], row["lat"], properties))
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
        accounts = as_float(row.get("accounts"))
        if accounts is None:
            accounts = account_counts.get(rep, 0)
        lines = [
            _rep_title(rep, row),
            f"potential index {fmt_number(row.get('potential_index'), 2)}",
            f"workload index {fmt_number(row.get('workload_index'), 2)}",
            f"accounts {fmt_number(accounts, 0)}",
            f"mean distance {fmt_number(row.get('mean_distance_km'), 1)} km",
        ]
        style = {"fillColor": colours.get(rep, "#ffffff")}
        features.append(_polygon(shapes[rep], {"s": style, "t": lines}))
    return features


def previous_features(
    shapes: dict[str, BaseGeometry], reps: pd.DataFrame, account_counts: dict[str, int]
) -> list[Feature]:
    """Outline features of the previous (current-alignment) territories, one per rep."""
    by_rep = {str(row["rep_id"]): row for row in reps.to_dict("records")}
    features = []
    for rep in sorted(shapes):
        lines = [
            _rep_title(rep, by_rep.get(rep, {})),
            "previous territory",
            f"accounts before {fmt_number(account_counts.get(rep, 0), 0)}",
        ]
        features.append(_polygon(shapes[rep], {"s": {}, "t": lines}))
    return features


def polygon_geometry(geometry: BaseGeometry) -> dict[str, Any]:
    """GeoJSON geometry of a (Multi)Polygon with rounded coordinates."""
    polygons = [_rings(part) for part in shapely.get_parts(geometry) if not part.is_empty]
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def _rep_title(rep: str, row: dict[str, Any]) -> str:
    name = row.get("name")
    name = "" if name is None or (isinstance(name, float) and np.isnan(name)) else str(name)
    return f"{rep} {name}".strip()


def _compact(value: float | None) -> float | int | None:
    """A number for JSON: whole numbers without ".0", NaN/inf as null."""
    if value is None or not np.isfinite(value):
        return None
    return int(value) if float(value).is_integer() and abs(value) < 2**53 else value


def _rings(polygon: BaseGeometry) -> list[list[list[float]]]:
    rings = [polygon.exterior, *polygon.interiors]  # type: ignore[attr-defined]
    return [np.round(np.asarray(ring.coords)[:, :2], DECIMALS).tolist() for ring in rings]


def _polygon(geometry: BaseGeometry, properties: dict[str, Any]) -> Feature:
    return {"type": "Feature", "geometry": polygon_geometry(geometry), "properties": properties}


def _point(lon: float, lat: float, properties: dict[str, Any]) -> Feature:
    return {
        "type": "Feature",
        "geometry": {
            "type": "Point",
            "coordinates": [round(float(lon), DECIMALS), round(float(lat), DECIMALS)],
        },
        "properties": properties,
    }
