"""Territory areas: Voronoi cells of the accounts, dissolved per rep.

Each account gets the part of the study area that is closer to it than to any
other account; the union of a rep's cells is the rep's territory. Territories
therefore tile the study area and every account lies inside its own rep's
territory. Distances are computed on longitude scaled by cos(mean latitude)
so that cells are not stretched east-west away from the equator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
import shapely.errors
from shapely.geometry.base import BaseGeometry

GRID = 1e-5  # output precision in degrees (about a metre)
_MIN_MARGIN = 0.005  # degrees


@dataclass(frozen=True)
class Territories:
    """Territory geometry per rep (lon/lat) and which territories touch."""

    shapes: dict[str, BaseGeometry]
    neighbours: dict[str, list[str]]


def build_territories(assignments: pd.DataFrame, column: str = "rep_id") -> Territories:
    """Compute dissolved, clipped territories and their adjacency.

    Expects normalised assignments (``column`` text, ``lat``/``lon`` floats).
    ``column`` names the owner: ``rep_id`` for the plan, ``previous_rep`` (with
    reps not on the roster blanked) for the alignment before it. Accounts
    without an owner help define the study area but belong to no territory,
    so the owned territories share the space between them.
    """
    located = assignments[np.isfinite(assignments["lat"]) & np.isfinite(assignments["lon"])]
    if located.empty:
        return Territories(shapes={}, neighbours={})
    scale = float(np.cos(np.radians(located["lat"].mean())))
    scale = max(scale, 0.05)
    area = study_area(located["lon"].to_numpy() * scale, located["lat"].to_numpy())

    owners = located[column].to_numpy(dtype=object)
    covered = owners != ""
    if not covered.any():
        return Territories(shapes={}, neighbours={})
    sites, site_rep = _sites(
        located["lon"].to_numpy()[covered] * scale,
        located["lat"].to_numpy()[covered],
        owners[covered],
    )
    cells = _voronoi_cells(sites, area)

    shapes: dict[str, BaseGeometry] = {}
    for rep, members in sorted(pd.Series(site_rep).groupby(site_rep, sort=True).indices.items()):
        merged = shapely.coverage_union_all(cells[members])
        clipped = shapely.intersection(merged, area)
        unscaled = shapely.transform(clipped, lambda xy: xy / np.array([scale, 1.0]))
        polygonal = _polygonal(shapely.set_precision(unscaled, GRID))
        if polygonal is not None:
            shapes[rep] = polygonal
    return Territories(shapes=shapes, neighbours=_adjacency(shapes))


def unit_territories(path: Path) -> Territories | None:
    """The dissolved unit polygons of a unit-based run (``territories.geojson``), if any."""
    if not path.exists():
        return None
    import pyogrio

    frame = pyogrio.read_dataframe(path)
    shapes: dict[str, BaseGeometry] = {}
    for rep, geometry in zip(frame["rep_id"].astype(str), frame.geometry, strict=True):
        # a file edited or written elsewhere may hold invalid rings, which GEOS cannot snap
        fixed = valid_polygonal(geometry) if geometry else None
        polygonal = _polygonal(shapely.set_precision(fixed, GRID)) if fixed else None
        if polygonal is not None:
            shapes[rep] = polygonal
    return Territories(shapes=shapes, neighbours=_adjacency(shapes))


def study_area(x: np.ndarray, y: np.ndarray) -> BaseGeometry:
    """Convex hull of the points, buffered by 5% of its size (at least ~500 m)."""
    hull = shapely.convex_hull(shapely.multipoints(np.column_stack([x, y])))
    xmin, ymin, xmax, ymax = hull.bounds
    margin = max(0.05 * float(np.hypot(xmax - xmin, ymax - ymin)), _MIN_MARGIN)
    return shapely.buffer(hull, margin, quad_segs=4)


def _sites(x: np.ndarray, y: np.ndarray, owners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unique account locations and the rep owning each.

    Several accounts can share a location; the location goes to the rep with
    most accounts there (ties to the smallest rep id) so each site has one owner.
    """
    frame = pd.DataFrame({"x": np.round(x, 7), "y": np.round(y, 7), "rep": owners})
    counts = frame.groupby(["x", "y", "rep"], sort=True).size().rename("n").reset_index()
    counts = counts.sort_values(["x", "y", "n", "rep"], ascending=[True, True, False, True])
    kept = counts.drop_duplicates(["x", "y"], keep="first")
    sites = shapely.points(kept["x"].to_numpy(), kept["y"].to_numpy())
    return np.asarray(sites), kept["rep"].to_numpy(dtype=object)


def _voronoi_cells(sites: np.ndarray, area: BaseGeometry) -> np.ndarray:
    """One Voronoi cell per site, in site order, covering at least ``area``."""
    if len(sites) == 1:
        return np.array([area], dtype=object)
    multipoint = shapely.multipoints(sites)
    try:
        diagram = shapely.voronoi_polygons(multipoint, extend_to=area, ordered=True)
        ordered = True
    except (TypeError, shapely.errors.UnsupportedGEOSVersionError):  # shapely<2.1, GEOS<3.12
        diagram = shapely.voronoi_polygons(multipoint, extend_to=area)
        ordered = False
    cells = np.asarray(shapely.get_parts(diagram))
    if ordered and len(cells) == len(sites):
        return cells
    # Unordered output, or GEOS merged nearly coincident sites: locate each site's cell.
    result = np.array([shapely.Polygon() for _ in sites], dtype=object)
    taken: set[int] = set()
    site_index, cell_index = shapely.STRtree(cells).query(sites, predicate="intersects")
    for site, cell in zip(site_index.tolist(), cell_index.tolist(), strict=True):
        if cell not in taken and result[site].is_empty:
            result[site] = cells[cell]
            taken.add(cell)
    return result


def valid_polygonal(geometry: BaseGeometry) -> BaseGeometry:
    """``geometry`` made valid, its polygon parts only (an empty polygon if none).

    Unions, negative buffers and reprojection can leave a ring a hair outside its shell or a
    self-touching ring; GIS tools and GEOS's own precision snapping reject such shapes (seen
    on a dissolved territory of 1,000 tract-like units: "hole lies outside shell").
    """
    polygonal = _polygonal(shapely.make_valid(geometry))
    return shapely.Polygon() if polygonal is None else polygonal


def _polygonal(geometry: BaseGeometry) -> BaseGeometry | None:
    """Keep only the polygon parts of ``geometry`` (clipping can leave slivers)."""
    if geometry.is_empty:
        return None
    # twice: a collection (what clipping or make_valid returns) may hold multipolygons
    parts = shapely.get_parts(shapely.get_parts(geometry))
    parts = [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)


def _adjacency(shapes: dict[str, BaseGeometry]) -> dict[str, list[str]]:
    """Reps whose territories touch or overlap, sorted, for every rep."""
    reps = list(shapes)
    neighbours: dict[str, set[str]] = {rep: set() for rep in reps}
    if len(reps) > 1:
        geometries = [shapes[rep] for rep in reps]
        tree = shapely.STRtree(geometries)
        left, right = tree.query(geometries, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist(), strict=True):
            if i != j:
                neighbours[reps[i]].add(reps[j])
    return {rep: sorted(found) for rep, found in neighbours.items()}
