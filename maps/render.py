"""Assemble one alignment run into a folium map and write it as one HTML file."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import folium
import numpy as np
import pandas as pd

from maps.features import (
    account_count,
    account_data,
    change_codes,
    collection,
    has_previous,
    home_features,
    previous_features,
    territory_features,
    with_radii,
)
from maps.ids import assign_ids
from maps.layers import (
    ACCOUNT_STYLE,
    PREVIOUS_STYLE,
    TERRITORY_STYLE,
    DataLayer,
    MapSetup,
)
from maps.offline import external_references, make_offline
from maps.run_files import normalise_assignments, normalise_reps, read_run
from maps.styling import UNCOVERED_COLOUR, greedy_colours
from maps.territories import Territories, build_territories, unit_territories
from maps.text import esc
from maps.widgets import Legend, SummaryPanel, summary_rows

NO_DISTRICT = "(no district)"
NOT_IN_SUMMARY = "(not in rep summary)"
OSM_NAMES = {"osm", "openstreetmap"}


@dataclass(frozen=True)
class RepGroup:
    """Reps shown and toggled together: a district, or a single rep."""

    label: str
    reps: list[str]


def build_map(
    assignments: pd.DataFrame,
    reps: pd.DataFrame,
    run_info: dict[str, Any],
    *,
    title: str = "Territory plan",
    tiles: str | None = None,
) -> folium.Map:
    """Draw a run: territories, accounts by rep, home bases, legend and summary.

    Offline by default (no tiles, Leaflet inlined); ``tiles="osm"`` adds an
    OpenStreetMap layer, any other value is passed to ``folium.TileLayer``.
    Element ids are deterministic so equal inputs give equal HTML.
    """
    m = assemble_map(
        normalise_assignments(assignments), normalise_reps(reps), run_info, title, tiles
    )
    finish(m)
    return m


def finish(m: folium.Map) -> None:
    """Inline assets and fix element ids; call after the last element is added."""
    make_offline(m)
    assign_ids(m)


def render_html(m: folium.Map) -> str:
    """Render the map's page, refusing to return a page that loads external files."""
    html = m.get_root().render()
    found = external_references(html)
    if found:
        raise RuntimeError(f"map page references external resources: {found[:3]}")
    return str(html)


def write_html(html: str, out_file: Path) -> Path:
    """Write ``html`` as UTF-8 bytes (no newline translation, so output is byte-stable)."""
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(html.encode("utf-8"))
    return out_file


def write_map(run_dir: Path, out_file: Path, *, tiles: str | None = None) -> Path:
    """Read the run in ``run_dir`` and write its map to ``out_file`` (one self-contained page)."""
    run = read_run(run_dir)  # already normalised
    areas = unit_territories(Path(run_dir) / "territories.geojson")
    m = assemble_map(run.assignments, run.reps, run.info, "Territory plan", tiles, areas=areas)
    finish(m)
    return write_html(render_html(m), out_file)


def rep_groups(rep_ids: list[str], reps: pd.DataFrame) -> list[RepGroup]:
    """Group reps by district (sorted), or one group per rep when there are no districts."""
    if has_districts(reps):
        district = dict(zip(reps["rep_id"], reps["district"], strict=True))
        members: dict[str, list[str]] = defaultdict(list)
        for rep in rep_ids:
            label = (district[rep] or NO_DISTRICT) if rep in district else NOT_IN_SUMMARY
            members[label].append(rep)
        return [RepGroup(label, sorted(group)) for label, group in sorted(members.items())]
    names = dict(zip(reps["rep_id"], reps["name"], strict=True))
    return [RepGroup(f"{rep} {names.get(rep, '')}".strip(), [rep]) for rep in sorted(rep_ids)]


def has_districts(reps: pd.DataFrame) -> bool:
    """Whether the rep summary carries a (non-empty) district column."""
    return "district" in reps.columns and bool((reps["district"] != "").any())


def assemble_map(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    run_info: dict[str, Any],
    title: str,
    tiles: str | None,
    height: str = "100%",
    roster: pd.DataFrame | None = None,
    previous_label: str | None = None,
    areas: Territories | None = None,
) -> folium.Map:
    """Build the map from normalised tables, without fixing ids (see :func:`finish`).

    ``roster`` is the whole run's rep table when ``reps`` is only a part of it
    (a district page); previous territories are drawn for previous reps on it.
    ``previous_label`` renames the (then shown) previous-territory overlay, e.g. to
    "Baseline territories" on a change map whose ``previous_rep`` is the baseline's rep.
    ``areas``: territory polygons to draw instead of those derived from the accounts (the
    dissolved units of a unit-based run).
    """
    run_info = run_info if isinstance(run_info, dict) else {}
    if "radius_px" not in accounts.columns:
        accounts = with_radii(accounts)
    if "change_code" not in accounts.columns:
        accounts = accounts.assign(change_code=change_codes(accounts))
    rep_ids = sorted((set(reps["rep_id"]) | set(accounts["rep_id"])) - {""})
    territories = areas if areas is not None else build_territories(accounts)
    colours = greedy_colours(rep_ids, territories.neighbours)
    by_rep = {str(rep): rows for rep, rows in accounts.groupby("rep_id", sort=True)}

    m = folium.Map(
        location=_centre(accounts, reps),
        zoom_start=8,
        tiles=None,
        prefer_canvas=True,
        control_scale=True,
        height=height,
    )
    figure = m.get_root()
    figure.title = esc(title)  # type: ignore[attr-defined]
    MapSetup(_bounds(accounts, reps)).add_to(m)
    if tiles:
        _tile_layer(tiles).add_to(m)

    if territories.shapes:
        counts = {rep: len(by_rep[rep]) if rep in by_rep else 0 for rep in territories.shapes}
        features = territory_features(territories.shapes, reps, colours, counts)
        group = folium.FeatureGroup(name="Territories")
        group.add_to(m)
        meta = {"kind": "territories"}
        DataLayer("areas", collection(features), TERRITORY_STYLE, meta).add_to(group)
    previous = _previous_layer(accounts, reps if roster is None else roster)
    if previous is not None:
        group = folium.FeatureGroup(
            name=esc(previous_label or "Previous territories"), show=previous_label is not None
        )
        group.add_to(m)
        previous.add_to(group)

    groups = rep_groups(rep_ids, reps)
    for rep_group in groups:
        layer_group = folium.FeatureGroup(name=esc(rep_group.label))
        layer_group.add_to(m)
        _add_group_layers(layer_group, rep_group, by_rep, reps, colours)
    has_uncovered = False
    if "" in by_rep:
        uncovered = account_data(by_rep[""], "")
        has_uncovered = account_count(uncovered) > 0
        if has_uncovered:
            uncovered_group = folium.FeatureGroup(name="Uncovered accounts")
            uncovered_group.add_to(m)
            style = {**ACCOUNT_STYLE, "fillColor": UNCOVERED_COLOUR}
            DataLayer("accounts", uncovered, style, {"kind": "uncovered"}).add_to(uncovered_group)

    names = dict(zip(reps["rep_id"], reps["name"], strict=True))
    legend = [(colours[rep], esc(f"{rep} {names.get(rep, '')}".strip())) for rep in rep_ids]
    Legend(
        legend,
        previous=previous is not None,
        uncovered=has_uncovered,
        previous_text=esc((previous_label or "previous territory").lower()),
    ).add_to(m)
    SummaryPanel(esc(title), summary_rows(run_info, accounts, reps)).add_to(m)
    folium.LayerControl(collapsed=len(groups) > 12).add_to(m)
    return m


def _previous_layer(accounts: pd.DataFrame, roster: pd.DataFrame) -> DataLayer | None:
    """Dashed outlines of the territories before the plan, or None without a current alignment.

    Voronoi cells of the accounts dissolved by ``previous_rep``; accounts whose
    previous rep is not on the roster (departed) or who had none belong to no
    previous territory.
    """
    if not has_previous(accounts):
        return None
    on_roster = (set(roster["rep_id"]) | set(accounts["rep_id"])) - {""}
    previous = accounts["previous_rep"].where(accounts["previous_rep"].isin(on_roster), "")
    territories = build_territories(accounts.assign(previous_rep=previous), "previous_rep")
    if not territories.shapes:
        return None
    counts = previous[previous != ""].value_counts().to_dict()
    features = previous_features(territories.shapes, roster, counts)
    return DataLayer("areas", collection(features), PREVIOUS_STYLE, {"kind": "previous"})


def _add_group_layers(
    layer_group: folium.FeatureGroup,
    group: RepGroup,
    by_rep: dict[str, pd.DataFrame],
    reps: pd.DataFrame,
    colours: dict[str, str],
) -> None:
    """One account layer per rep, then the group's home bases."""
    for rep in group.reps:
        if rep not in by_rep:
            continue
        data = account_data(by_rep[rep], rep)
        if account_count(data):
            style = {**ACCOUNT_STYLE, "fillColor": colours[rep]}
            meta = {"kind": "accounts", "rep": rep}
            DataLayer("accounts", data, style, meta).add_to(layer_group)
    homes = home_features(reps[reps["rep_id"].isin(group.reps)], colours)
    if homes:
        DataLayer("homes", collection(homes), {}, {"kind": "homes"}).add_to(layer_group)


def _tile_layer(tiles: str) -> folium.TileLayer:
    if tiles.strip().lower() in OSM_NAMES:
        return folium.TileLayer("OpenStreetMap", control=False)
    return folium.TileLayer(tiles, control=False)


def _coordinates(accounts: pd.DataFrame, reps: pd.DataFrame) -> np.ndarray:
    lat = np.concatenate([accounts["lat"].to_numpy(float), reps["lat"].to_numpy(float)])
    lon = np.concatenate([accounts["lon"].to_numpy(float), reps["lon"].to_numpy(float)])
    keep = np.isfinite(lat) & np.isfinite(lon)
    return np.column_stack([lat[keep], lon[keep]])


def _bounds(accounts: pd.DataFrame, reps: pd.DataFrame) -> list[list[float]] | None:
    points = _coordinates(accounts, reps)
    if len(points) == 0:
        return None
    low, high = points.min(axis=0), points.max(axis=0)
    return [
        [round(float(low[0]), 5), round(float(low[1]), 5)],
        [round(float(high[0]), 5), round(float(high[1]), 5)],
    ]


def _centre(accounts: pd.DataFrame, reps: pd.DataFrame) -> list[float]:
    bounds = _bounds(accounts, reps)
    if bounds is None:
        return [0.0, 0.0]
    return [
        round((bounds[0][0] + bounds[1][0]) / 2, 5),
        round((bounds[0][1] + bounds[1][1]) / 2, 5),
    ]
