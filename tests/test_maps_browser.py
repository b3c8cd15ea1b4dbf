"""The map pages in a real browser: headless Chromium driven by Playwright.

A small plan is made with the real CLI (40 accounts, 4 reps in 2 districts,
a current alignment so that some accounts move, one rep who left, and one
account whose name is an HTML injection attempt) and its pages are opened
offline. See tests/browser_support.py for how the browser is found; these
tests fail rather than skip when ``CI`` is set.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tests.browser_support import Browser, PageLog, launch, next_frame

pytestmark = pytest.mark.browser

EVIL = "<img src=x onerror=alert(1)>"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
REPS = [
    # rep_id, name, district, lat, lon
    ("R1", "Ann", "North", 52.60, 13.20),
    ("R2", "Bob", "North", 52.40, 13.70),
    ("R3", "Cem", "South", 48.20, 11.40),
    ("R4", "Dee", "South", 48.00, 11.80),
]

COUNTS_JS = """() => {
  const counts = {points: 0, territories: 0, previous: 0, homes: 0};
  territoryMaps.map.eachLayer(layer => {
    if (layer instanceof L.CircleMarker) { counts.points += 1; }
    else if (layer instanceof L.Polygon) {
      counts[layer.options.pane === "tmPrevious" ? "previous" : "territories"] += 1;
    } else if (layer instanceof L.Marker) { counts.homes += 1; }
  });
  return counts;
}"""

# A free pixel inside a territory: on the map canvas, inside the polygon, not
# near any account or home base (whose tooltips would win).
FREE_PIXEL_JS = """() => {
  const map = territoryMaps.map, taken = [];
  map.eachLayer(layer => {
    if (layer instanceof L.CircleMarker || layer instanceof L.Marker) {
      taken.push(map.latLngToContainerPoint(layer.getLatLng()));
    }
  });
  const box = map.getContainer().getBoundingClientRect();
  let found = null;
  map.eachLayer(layer => {
    if (found || !(layer instanceof L.Polygon) || layer.options.pane === "tmPrevious") { return; }
    const size = map.getSize();
    for (let y = 5; y < size.y && !found; y += 7) {
      for (let x = 5; x < size.x && !found; x += 7) {
        const point = L.point(x, y);
        if (!layer._containsPoint(map.containerPointToLayerPoint(point))) { continue; }
        if (taken.some(p => p.distanceTo(point) < 25)) { continue; }
        const hit = document.elementFromPoint(box.left + x, box.top + y);
        if (!hit || hit.tagName !== "CANVAS") { continue; }
        found = {x: box.left + x, y: box.top + y, tip: layer.feature.properties.t};
      }
    }
  });
  return found;
}"""

# The viewport pixel of the account named `name` and its tooltip lines.
ACCOUNT_PIXEL_JS = """(name) => {
  const map = territoryMaps.map, box = map.getContainer().getBoundingClientRect();
  let found = null;
  map.eachLayer(layer => {
    if (found || !(layer instanceof L.CircleMarker)) { return; }
    for (const id in layer._eventParents) {
      const data = layer._eventParents[id].tmData;
      if (data && data.n && data.n[layer.tmIndex] === name) {
        const p = map.latLngToContainerPoint(layer.getLatLng());
        found = {x: box.left + p.x, y: box.top + p.y};
      }
    }
  });
  return found;
}"""

TOOLTIP_JS = """() => Array.from(document.querySelectorAll(".leaflet-tooltip"))
  .filter(el => el.style.opacity !== "0").map(el => el.textContent)"""


def make_inputs(folder: Path) -> tuple[Path, Path]:
    """40 accounts in two clusters, today's owners skewed so the plan moves some."""
    rng = np.random.default_rng(11)
    rows = []
    for number in range(40):
        south = number >= 20
        lat = (48.1 if south else 52.5) + rng.uniform(-0.35, 0.35)
        lon = (11.6 if south else 13.45) + rng.uniform(-0.5, 0.5)
        team = ("R3", "R4") if south else ("R1", "R2")
        # skewed: 14 of each cluster's 20 accounts belong to the first rep today
        current = team[0] if number % 20 < 14 else team[1]
        rows.append(
            {
                "account_id": f"A{number:03d}",
                "name": f"Account {number}",
                "segment": "Clinic" if number % 3 else "Hospital",
                "lat": round(lat, 5),
                "lon": round(lon, 5),
                "potential": int(rng.integers(80, 120)),
                "current_rep": current,
            }
        )
    rows[5]["name"] = EVIL
    rows[5].update(lat=53.1, lon=13.45)  # on its own, so the mouse can find it
    rows[25]["current_rep"] = "R9"  # a rep who left: the account is inherited
    rows[26]["current_rep"] = ""  # no owner today
    accounts = folder / "accounts.csv"
    pd.DataFrame(rows).to_csv(accounts, index=False)
    reps = folder / "reps.csv"
    columns = ["rep_id", "name", "district", "lat", "lon"]
    pd.DataFrame(REPS, columns=columns).to_csv(reps, index=False)
    return accounts, reps


def territory(*args: str) -> None:
    """Run the real CLI in a separate process."""
    result = subprocess.run(
        [sys.executable, "-m", "territory", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    yield from launch()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("browser-run")
    accounts, reps = make_inputs(folder)
    run = folder / "run"
    territory("align", "-a", str(accounts), "-r", str(reps), "-o", str(run), "--tolerance", "0.1")
    return run  # align drew run/map.html


@pytest.fixture(scope="module")
def plan(run_dir: Path) -> list[dict[str, str]]:
    with (run_dir / "assignments.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture()
def opened(browser: Browser, run_dir: Path) -> Iterator[tuple[Any, PageLog]]:
    page, log = browser.open((run_dir / "map.html").as_uri())
    yield page, log
    page.context.close()


def test_the_plan_has_moves_and_the_evil_name(plan: list[dict[str, str]]) -> None:
    changes = Counter(row["change"] for row in plan)
    assert changes["moved"] > 0 and changes["inherited"] >= 2
    assert any(row["name"] == EVIL for row in plan)


def test_map_draws_every_account_offline(
    opened: tuple[Any, PageLog], plan: list[dict[str, str]]
) -> None:
    page, log = opened
    assert page.evaluate("() => territoryMaps.map instanceof L.Map")
    counts = page.evaluate(COUNTS_JS)
    assert counts["points"] == len(plan)
    assert counts["territories"] == 4 and counts["homes"] == 4
    assert counts["previous"] == 0  # previous territories are off by default
    # home bases sit in the marker pane, above the canvas with the accounts
    assert page.locator(".leaflet-marker-pane .tm-home").count() == 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map.png"))
    log.assert_clean()
    assert any(url.startswith("file:") for url in log.requests)  # the listener works


def test_layer_control_lists_and_toggles_every_layer(
    opened: tuple[Any, PageLog], plan: list[dict[str, str]]
) -> None:
    page, log = opened
    labels = [
        text.strip()
        for text in page.locator(".leaflet-control-layers-overlays label").all_inner_texts()
    ]
    assert labels == ["Territories", "Previous territories", "North", "South"]
    control = page.locator(".leaflet-control-layers-overlays")
    district = {"R1": "North", "R2": "North", "R3": "South", "R4": "South"}
    north = sum(district[row["rep_id"]] == "North" for row in plan)

    before = page.evaluate(COUNTS_JS)
    control.get_by_label("North").uncheck()
    next_frame(page)
    after = page.evaluate(COUNTS_JS)
    assert after["points"] == before["points"] - north
    assert after["homes"] == before["homes"] - 2
    control.get_by_label("North").check()

    control.get_by_label("Territories", exact=True).uncheck()
    next_frame(page)
    assert page.evaluate(COUNTS_JS)["territories"] == 0

    control.get_by_label("Previous territories").check()
    next_frame(page)
    previous = page.evaluate(COUNTS_JS)["previous"]
    assert previous == 4  # R9 left: no outline for it
    dashes = page.locator(".leaflet-tmPrevious-pane path").evaluate_all(
        "paths => paths.map(p => [p.getAttribute('stroke-dasharray'), p.getAttribute('fill')])"
    )
    assert dashes == [["7 5", "none"]] * 4
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "map-previous.png"))
    control.get_by_label("Previous territories").uncheck()
    next_frame(page)
    assert page.evaluate(COUNTS_JS)["previous"] == 0
    log.assert_clean()


def test_hovering_a_territory_shows_its_tooltip(opened: tuple[Any, PageLog]) -> None:
    page, log = opened
    spot = page.evaluate(FREE_PIXEL_JS)
    assert spot is not None
    page.mouse.move(spot["x"], spot["y"])
    page.wait_for_selector(".leaflet-tooltip")
    tips = page.evaluate(TOOLTIP_JS)
    assert len(tips) == 1
    rep = spot["tip"][0].split()[0]
    assert rep in tips[0] and "potential index" in tips[0]
    log.assert_clean()


def test_moved_account_tooltip_says_from_and_to(
    opened: tuple[Any, PageLog], plan: list[dict[str, str]]
) -> None:
    page, log = opened
    moved = next(row for row in plan if row["change"] == "moved")
    text = page.evaluate(
        """(id) => {
          let marker = null;
          territoryMaps.map.eachLayer(layer => {
            if (!(layer instanceof L.CircleMarker)) { return; }
            for (const key in layer._eventParents) {
              const data = layer._eventParents[key].tmData;
              if (data && data.id[layer.tmIndex] === id) { marker = layer; }
            }
          });
          marker.fire("mouseover", {latlng: marker.getLatLng()}, true);
          return document.querySelector(".leaflet-tooltip").textContent;
        }""",
        moved["account_id"],
    )
    assert f"moved {moved['previous_rep']} \u2192 {moved['rep_id']}" in text
    log.assert_clean()


def test_malicious_name_is_shown_as_text(opened: tuple[Any, PageLog]) -> None:
    page, log = opened
    spot = page.evaluate(ACCOUNT_PIXEL_JS, EVIL)
    assert spot is not None
    page.mouse.move(spot["x"], spot["y"])
    page.wait_for_selector(".leaflet-tooltip")
    tips = page.evaluate(TOOLTIP_JS)
    assert len(tips) == 1 and tips[0].startswith(EVIL)
    assert page.locator(".leaflet-tooltip img").count() == 0
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert log.dialogs == []
    log.assert_clean()


def test_district_pack_pages_load_cleanly(
    browser: Browser, run_dir: Path, tmp_path: Path, plan: list[dict[str, str]]
) -> None:
    out = tmp_path / "pack"
    territory("map", str(run_dir), "--by", "district", "-o", str(out))
    index, log = browser.open((out / "index.html").as_uri())
    links = index.locator("a")
    assert links.all_inner_texts() == ["North", "South"]
    expected = {"North": 0, "South": 0}
    for row in plan:
        expected["North" if row["rep_id"] in {"R1", "R2"} else "South"] += 1
    for number, label in enumerate(["North", "South"]):
        with index.expect_navigation():
            index.locator("a").nth(number).click()
        next_frame(index)
        assert index.url == (out / f"{label.lower()}.html").as_uri()
        assert index.evaluate("() => territoryMaps.map instanceof L.Map")
        assert index.evaluate(COUNTS_JS)["points"] == expected[label]
        assert index.locator(".tm-table tbody tr").count() == 2
        index.go_back()
    log.assert_clean()
    index.context.close()


def test_missing_browser_fails_under_ci_and_skips_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tests.browser_support import unavailable

    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception):
        unavailable("no browser")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        unavailable("no browser")
