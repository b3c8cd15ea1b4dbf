"""Tests for the ``maps`` package: self-contained, escaped, deterministic HTML maps."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import shapely

from maps import build_map, read_run, render_html, write_district_maps, write_map
from maps.offline import external_references, leaflet_js
from maps.styling import greedy_colours, marker_radii
from maps.territories import unit_territories, valid_polygonal

EVIL = "<img src=x onerror=alert(1)>"

ACCOUNTS = [
    # account_id, rep_id, previous_rep, moved, potential, lat, lon, name
    ("007", "R001", "R001", "False", 120.0, 52.00, 13.00, "Seven GmbH"),
    ("A002", "R001", "R001", "False", 80.0, 52.10, 13.20, EVIL),
    ("A003", "R001", "R002", "True", 300.0, 52.20, 13.35, "Mover AG"),
    ("A004", "R002", "R002", "False", 50.0, 52.30, 13.80, "Four"),
    ("A005", "R002", "", "False", 70.0, 52.45, 13.90, "Five"),
    ("A006", "R002", "R002", "False", 10.0, 52.50, 13.60, "Six"),
    ("A007", "R003", "R003", "False", 200.0, 51.50, 13.40, "Seven South"),
    ("A008", "R003", "R003", "False", 90.0, 51.60, 13.10, "Eight"),
    ("A009", "R003", "R003", "False", 40.0, 51.40, 13.70, "Nine"),
    ("A010", "", "R003", "True", 60.0, 51.80, 13.50, "Nobody"),
]
REPS = [
    # rep_id, name, district, potential_index, lat, lon
    ("R001", "Ann {{7*7}} & Co", "North", 0.95, 52.05, 13.10),
    ("R002", "Bob", "North", 1.02, 52.40, 13.75),
    ("R003", "Cem", "South", 1.03, 51.55, 13.40),
]


def make_run(run_dir: Path, *, districts: bool = True) -> Path:
    """A tiny run: 3 reps in 2 districts, one moved, one evil name, one uncovered."""
    run_dir.mkdir(parents=True, exist_ok=True)
    assignments = pd.DataFrame(
        [
            {
                "account_id": a,
                "rep_id": r,
                "previous_rep": p,
                "moved": m,
                "distance_km": 10.0,
                "potential": pot,
                "workload": pot / 10,
                "lat": lat,
                "lon": lon,
                "name": name,
                "segment": "B",
            }
            for a, r, p, m, pot, lat, lon, name in ACCOUNTS
        ]
    )
    assignments.to_csv(run_dir / "assignments.csv", index=False)
    reps = pd.DataFrame(
        [
            {
                "rep_id": r,
                "accounts": 3,
                "potential": 300.0,
                "potential_index": pi,
                "workload_index": 1.0,
                "mean_distance_km": 12.5,
                "max_distance_km": 30.0,
                "lat": lat,
                "lon": lon,
                "name": name,
                "district": d,
            }
            for r, name, d, pi, lat, lon in REPS
        ]
    )
    if not districts:
        reps = reps.drop(columns=["district"])
    reps.to_csv(run_dir / "rep_summary.csv", index=False)
    info = {
        "status": "Optimal",
        "objective": 12.0,
        "lower_bound": 11.94,
        "gap": 0.005,
        "parameters": {},
        "metrics": {
            "potential_index_min": 0.95,
            "potential_index_max": 1.03,
            "moved_potential_share": 0.3,
            "uncovered_accounts": 1,
        },
    }
    (run_dir / "run.json").write_text(json.dumps(info), encoding="utf-8")
    return run_dir


@pytest.fixture()
def run_dir(tmp_path: Path) -> Path:
    return make_run(tmp_path / "run")


@pytest.fixture()
def page(run_dir: Path, tmp_path: Path) -> str:
    return write_map(run_dir, tmp_path / "out" / "map.html").read_text(encoding="utf-8")


_CALL = re.compile(
    r'territoryMaps\.(accounts|areas|homes)\(\s*territoryMaps\.load\("([\w-]+)"\),\s*'
)


def data_layers(html: str) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(helper, data, meta) of every ``territoryMaps.<helper>(load(id), base, meta)`` call."""
    decoder = json.JSONDecoder()
    layers = []
    for match in _CALL.finditer(html):
        block = re.search(
            rf'<script type="application/json" id="{re.escape(match.group(2))}">(.*?)</script>',
            html,
            re.DOTALL,
        )
        assert block is not None, match.group(2)
        data = json.loads(block.group(1))
        _base, end = decoder.raw_decode(html, match.end())
        comma = re.compile(r",\s*").match(html, end)
        assert comma is not None
        meta, _ = decoder.raw_decode(html, comma.end())
        layers.append((match.group(1), data, meta))
    return layers


def account_layers(html: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(data, meta) of the account layers (per rep, and uncovered)."""
    return [(d, m) for h, d, m in data_layers(html) if h == "accounts"]


def area_features(html: str, kind: str) -> list[dict[str, Any]]:
    """GeoJSON features of the area layers of ``kind`` (territories or previous)."""
    return [f for _, d, m in data_layers(html) if m.get("kind") == kind for f in d["features"]]


def test_write_map_creates_one_file(run_dir: Path, tmp_path: Path) -> None:
    out = write_map(run_dir, tmp_path / "nested" / "plan.html")
    assert out == tmp_path / "nested" / "plan.html"
    assert out.is_file()
    assert out.read_bytes().startswith(b"<!DOCTYPE html>")


def test_page_loads_nothing_from_the_network(page: str) -> None:
    assert external_references(page) == []
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link\b", page, re.IGNORECASE)
    # Outside the vendored Leaflet source (whose attribution link is a plain
    # <a> in a JS string), there is no http(s) src/href at all.
    assert leaflet_js() in page
    ours = page.replace(leaflet_js(), "")
    assert not re.search(r"(?:src|href)\s*=\s*\\?[\"']?\s*(?:https?:)?//", ours, re.IGNORECASE)
    assert "tile.openstreetmap.org" not in page
    assert "sourceMappingURL" not in page


def test_offline_check_can_fail() -> None:
    assert external_references('<script src="https://cdn.example/x.js"></script>')
    assert external_references('<link rel="stylesheet" href="//cdn.example/x.css">')
    assert external_references("<style>a { background: url(https://x.example/i.png) }</style>")
    import folium

    assert external_references(folium.Map(tiles=None).get_root().render())


def json_blocks(html: str) -> list[str]:
    return re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.DOTALL)


def test_user_text_is_escaped(page: str) -> None:
    # Outside scripts user text is HTML-escaped and never evaluated as a Jinja template.
    assert "<img src=x" not in page
    assert "Ann &#123;&#123;7*7&#125;&#125; &amp; Co" in page
    assert "Ann 49" not in page
    # In data blocks it is JSON with < and > escaped: it cannot close the script element,
    # and the browser shows it with textContent (checked in test_maps_browser.py).
    assert any("\\u003cimg src=x onerror=alert(1)\\u003e" in block for block in json_blocks(page))
    names = [n for data, _ in account_layers(page) for n in data.get("n", [])]
    assert EVIL in names
    tips = [f["properties"]["t"][0] for f in area_features(page, "territories")]
    assert "R001 Ann {{7*7}} & Co" in tips
    assert "textContent" in page and "innerHTML" not in page.replace(leaflet_js(), "")


def test_one_account_layer_per_rep(page: str) -> None:
    layers = account_layers(page)
    per_rep = {m["rep"]: len(d["x"]) for d, m in layers if m.get("kind") == "accounts"}
    assert per_rep == {"R001": 3, "R002": 3, "R003": 3}
    assert all(d["rep"] == m["rep"] for d, m in layers if m.get("kind") == "accounts")
    uncovered = [d for d, m in layers if m.get("kind") == "uncovered"]
    assert len(uncovered) == 1 and uncovered[0]["id"] == ["A010"] and uncovered[0]["rep"] == ""
    # One shared marker function, no per-account JavaScript.
    assert page.count("L.circleMarker(") == 1
    assert "prefer_canvas" not in page and '"preferCanvas": true' in page


def test_account_data_is_compact(page: str) -> None:
    for data, _ in account_layers(page):
        n = len(data["x"])
        assert set(data) <= {"rep", "x", "y", "r", "id", "p", "n", "seg", "c", "pv"}
        for key in ("y", "r", "id", "p", "n", "c"):
            assert len(data.get(key, data["x"])) == n
        assert len(data["seg"]["i"]) == n and data["seg"]["v"] == ["B"]
        for value in data["x"] + data["y"]:
            assert round(value, 5) == value
    for helper, data, _ in data_layers(page):
        if helper != "accounts":
            for feature in data["features"]:
                assert set(feature["properties"]) in ({"s", "t"}, {"c", "t"})
                assert all(isinstance(line, str) for line in feature["properties"]["t"])


def test_moved_and_inherited_accounts(page: str) -> None:
    layers = {m.get("rep", "uncovered"): d for d, m in account_layers(page)}
    r001 = layers["R001"]
    # Moved accounts are drawn last (on top) and carry their previous rep.
    assert r001["id"] == ["007", "A002", "A003"]  # leading zeros survive the CSV
    assert r001["c"] == [0, 0, 1] and r001["pv"] == {"2": "R002"}
    nobody = layers["uncovered"]
    assert nobody["c"] == [1] and nobody["pv"] == {"0": "R003"}
    # A005 had no rep: inherited by R002, not moved.
    r002 = layers["R002"]
    assert r002["c"][r002["id"].index("A005")] == 2 and "pv" not in r002
    assert "c" not in layers["R003"]
    assert 'movedStyle: {"color":"#000000","weight":3}' in page


def test_territories_tile_and_contain_their_accounts(page: str) -> None:
    features = area_features(page, "territories")
    assert len(features) == 3
    shapes = {
        f["properties"]["t"][0].split()[0]: shapely.geometry.shape(f["geometry"]) for f in features
    }
    assert sorted(shapes) == ["R001", "R002", "R003"]
    reps = list(shapes)
    for i, a in enumerate(reps):
        for b in reps[i + 1 :]:
            assert shapes[a].intersection(shapes[b]).area < 1e-6
    for account, rep, *_rest, lat, lon, _name in ACCOUNTS:
        if rep:
            assert shapes[rep].buffer(1e-5).contains(shapely.Point(lon, lat)), account
    fills = {
        f["properties"]["t"][0].split()[0]: f["properties"]["s"]["fillColor"] for f in features
    }
    for a in reps:
        for b in reps:
            if a < b and shapes[a].buffer(1e-4).intersects(shapes[b]):
                assert fills[a] != fills[b]
    tip = "\n".join(features[0]["properties"]["t"])
    for word in ("potential index", "workload index", "accounts", "mean distance"):
        assert word in tip


def test_previous_territories_outline_the_old_alignment(page: str) -> None:
    features = area_features(page, "previous")
    shapes = {
        f["properties"]["t"][0].split()[0]: shapely.geometry.shape(f["geometry"]) for f in features
    }
    # R002 owned A003 before; its old territory therefore reaches it.
    assert sorted(shapes) == ["R001", "R002", "R003"]
    assert shapes["R002"].buffer(1e-5).contains(shapely.Point(13.35, 52.20))
    assert not shapes["R001"].buffer(-1e-5).contains(shapely.Point(13.35, 52.20))
    assert all(f["properties"]["t"][1] == "previous territory" for f in features)
    # Outlines only, dashed, in its own overlay that is off by default.
    assert re.search(r'"dashArray":\s*"7 5"', page) and re.search(r'"fill":\s*false', page)
    group = re.search(r'"Previous territories" : (feature_group_\d+)', page)
    assert group is not None
    assert f"{group.group(1)}.addTo(map_" not in page
    territories = re.search(r'"Territories" : (feature_group_\d+)', page)
    assert territories is not None
    assert f"{territories.group(1)}.addTo(map_" in page
    assert "previous territory" in page  # legend entry


def test_no_previous_territories_without_current_alignment(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    frame = pd.read_csv(run_dir / "assignments.csv", dtype=str, keep_default_na=False)
    frame["previous_rep"] = ""
    frame["moved"] = "False"
    frame.to_csv(run_dir / "assignments.csv", index=False)
    html = write_map(run_dir, tmp_path / "m.html").read_text(encoding="utf-8")
    assert area_features(html, "previous") == []
    assert "Previous territories" not in html
    assert all("c" not in d for d, _ in account_layers(html))


def test_previous_territories_only_for_reps_on_the_roster(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    frame = pd.read_csv(run_dir / "assignments.csv", dtype=str, keep_default_na=False)
    frame.loc[frame["previous_rep"] == "R003", "previous_rep"] = "R999"  # R003's old team left
    frame.to_csv(run_dir / "assignments.csv", index=False)
    html = write_map(run_dir, tmp_path / "m.html").read_text(encoding="utf-8")
    owners = sorted(f["properties"]["t"][0].split()[0] for f in area_features(html, "previous"))
    assert owners == ["R001", "R002"]


def test_home_bases_are_drawn_above_accounts(page: str) -> None:
    homes = [d for h, d, m in data_layers(page) if h == "homes"]
    features = [f for d in homes for f in d["features"]]
    assert len(features) == 3
    assert all(f["properties"]["c"].startswith("#") for f in features)
    assert "L.divIcon(" in page  # DOM markers sit in the marker pane, above the canvas


def test_greedy_colours_separate_neighbours() -> None:
    ring = {str(i): [str((i - 1) % 6), str((i + 1) % 6)] for i in range(6)}
    colours = greedy_colours(ring.keys(), ring, palette=("a", "b", "c"))
    assert all(colours[n] != colours[m] for n in ring for m in ring[n])
    assert colours == greedy_colours(reversed(list(ring)), ring, palette=("a", "b", "c"))


def test_marker_radius_uses_sqrt_and_clamps() -> None:
    radii = marker_radii([0.0, 25.0, 1e9, float("nan"), -5.0] + [100.0] * 30)
    assert radii[0] == radii[3] == radii[4] == 3.0  # nothing, unknown, negative: smallest
    assert radii[2] == 12.0  # an outlier is clamped
    assert radii[5] == 12.0  # the 95th percentile gets the largest radius
    assert radii[1] == 7.5  # a quarter of the potential gets half the extra radius


def test_layer_control_legend_and_summary(page: str) -> None:
    assert re.search(r'"North" : feature_group_\d+', page)
    assert re.search(r'"South" : feature_group_\d+', page)
    assert '"Uncovered accounts" : feature_group_' in page
    assert "tm-legend" in page and "R003 Cem</div>" in page
    assert "<td>Status</td><td>Optimal</td>" in page
    assert "<td>Gap</td><td>0.50%</td>" in page
    assert "0.95 &ndash; 1.03" in page
    assert "<td>Uncovered accounts</td><td>1</td>" in page


def test_rendering_is_byte_identical(run_dir: Path, tmp_path: Path) -> None:
    first = write_map(run_dir, tmp_path / "a.html").read_bytes()
    second = write_map(run_dir, tmp_path / "b.html").read_bytes()
    assert first == second
    assert not re.search(rb"_[0-9a-f]{32}\b", first)


def test_osm_tiles_on_request(run_dir: Path, tmp_path: Path) -> None:
    html = write_map(run_dir, tmp_path / "osm.html", tiles="osm").read_text(encoding="utf-8")
    assert "https://tile.openstreetmap.org/{z}/{x}/{y}.png" in html
    assert "L.tileLayer(" in html
    assert external_references(html) == []


def test_district_pack(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "pack"
    paths = write_district_maps(run_dir, out)
    assert [p.name for p in paths] == ["north.html", "south.html", "index.html"]
    assert all(p.parent == out and p.is_file() for p in paths)
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="north.html">North</a>' in index
    assert '<a href="south.html">South</a>' in index
    assert "Uncovered accounts: 1." in index

    north = (out / "north.html").read_text(encoding="utf-8")
    reps = sorted(m["rep"] for _, m in account_layers(north) if m.get("kind") == "accounts")
    assert reps == ["R001", "R002"]
    assert "tm-table" in north and '<td class="tm-text">R002</td>' in north
    assert '<td class="tm-text">R003</td>' not in north
    assert "<img src=x" not in north
    assert EVIL in [n for d, _ in account_layers(north) for n in d.get("n", [])]
    assert external_references(north) == []

    south = (out / "south.html").read_text(encoding="utf-8")
    assert [m["rep"] for _, m in account_layers(south) if m.get("kind") == "accounts"] == ["R003"]
    again = write_district_maps(run_dir, tmp_path / "again")
    assert [p.read_bytes() for p in again] == [p.read_bytes() for p in paths]


def test_without_districts_one_page_all(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run", districts=False)
    paths = write_district_maps(run_dir, tmp_path / "pack")
    assert [p.name for p in paths] == ["all.html", "index.html"]
    page = paths[0].read_text(encoding="utf-8")
    layers = account_layers(page)
    assert sum(m.get("kind") == "accounts" for _, m in layers) == 3
    assert sum(m.get("kind") == "uncovered" for _, m in layers) == 1
    # Without districts the layer control has one group per rep.
    assert re.search(
        r'"R002 Bob" : feature_group_\d+', write_map(run_dir, tmp_path / "m.html").read_text()
    )


def test_missing_optional_inputs(run_dir: Path) -> None:
    (run_dir / "run.json").write_text("{}", encoding="utf-8")
    (run_dir / "rep_summary.csv").unlink()
    run = read_run(run_dir)
    html = render_html(build_map(run.assignments, run.reps, run.info, title="T <1>"))
    assert "<title>T &lt;1&gt;</title>" in html
    assert "<td>Status</td><td>n/a</td>" in html
    assert "<td>Uncovered accounts</td><td>1</td>" in html
    kinds = [m.get("kind") for _, _, m in data_layers(html)]
    assert kinds.count("accounts") == 3 and "homes" not in kinds


def test_legend_shows_uncovered_only_when_there_are_some(tmp_path: Path) -> None:
    run_dir = make_run(tmp_path / "run")
    with_uncovered = write_map(run_dir, tmp_path / "a.html").read_text(encoding="utf-8")
    assert "uncovered account</div>" in with_uncovered
    frame = pd.read_csv(run_dir / "assignments.csv", dtype=str, keep_default_na=False)
    frame = frame[frame["rep_id"] != ""]
    frame.to_csv(run_dir / "assignments.csv", index=False)
    without = write_map(run_dir, tmp_path / "b.html").read_text(encoding="utf-8")
    assert "uncovered account</div>" not in without


# a square with its "hole" outside the shell: invalid, and GEOS's precision snapping throws on
# shapes like it (a dissolved territory of 1,000 tract-like units after reprojection was one)
HOLE_OUTSIDE = shapely.Polygon(
    [(0, 0), (1, 0), (1, 1), (0, 1)], holes=[[(2, 2), (3, 2), (3, 3), (2, 3)]]
)


def test_invalid_territory_rings_are_made_valid_polygons():
    assert not HOLE_OUTSIDE.is_valid
    fixed = valid_polygonal(HOLE_OUTSIDE)
    assert fixed.is_valid and fixed.geom_type in ("Polygon", "MultiPolygon")
    assert fixed.covers(shapely.box(0.1, 0.1, 0.9, 0.9))
    assert valid_polygonal(shapely.LineString([(0, 0), (1, 1)])).is_empty


def test_a_territories_file_with_invalid_rings_still_maps(tmp_path):
    import geopandas as gpd

    path = tmp_path / "territories.geojson"
    frame = gpd.GeoDataFrame(
        {"rep_id": ["T01", "T02"]},
        geometry=[HOLE_OUTSIDE, shapely.box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )
    frame.to_file(path, driver="GeoJSON")
    areas = unit_territories(path)
    assert areas is not None
    assert set(areas.shapes) == {"T01", "T02"}
    assert all(shape.is_valid for shape in areas.shapes.values())
    assert areas.neighbours["T01"] == ["T02"]
