"""Leaflet layers for accounts, rep home bases and territories.

Every layer is one call of a small shared JavaScript helper (``territoryMaps``)
on data held in a ``<script type="application/json">`` block (``JSON.parse``
is much faster than the same data as a JavaScript literal), so the page stays
linear in the number of accounts: no folium object, style function case or
tooltip string per account.

* Accounts: compact parallel arrays (see :func:`maps.features.account_data`)
  turned straight into canvas circle markers (no GeoJSON objects per
  account); each marker keeps its position in the arrays (``tmIndex``) and
  its tooltip is built from the arrays only when hovered.
* Territories: ``L.geoJSON`` polygons on the same canvas, below the accounts.
* Previous territories: dashed outlines in their own pane above the canvas,
  drawn as SVG so that only the outline line reacts to the mouse.
* Home bases: DOM diamonds in Leaflet's marker pane, above everything drawn
  on the canvas, so accounts never hide them.

Tooltips are DOM nodes whose text is set with ``textContent``: user text is
never parsed as HTML. All JSON passes through :func:`maps.text.script_json`.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Template

from maps.elements import TemplateElement
from maps.text import script_json

ACCOUNT_STYLE: dict[str, Any] = {
    "color": "#333333",
    "weight": 0.6,
    "opacity": 0.9,
    "fillOpacity": 0.85,
}
MOVED_STYLE: dict[str, Any] = {"color": "#000000", "weight": 3}
TERRITORY_STYLE: dict[str, Any] = {
    "color": "#555555",
    "weight": 1,
    "opacity": 0.7,
    "fillOpacity": 0.22,
}
PREVIOUS_STYLE: dict[str, Any] = {
    "color": "#1a1a1a",
    "weight": 2.5,
    "opacity": 0.9,
    "dashArray": "7 5",
    "fill": False,
}
PREVIOUS_PANE = "tmPrevious"

_SHARED_JS = """
var territoryMaps = {
  map: null,
  front: [],
  movedStyle: __MOVED__,
  number: function (value, digits) {
    if (value === null || value === undefined || !isFinite(value)) { return "n/a"; }
    if (digits === undefined) {
      var size = Math.abs(value);
      digits = size >= 100 ? 0 : (size < 10 ? 2 : 1);
    }
    return Number(value).toLocaleString("en-US",
      {minimumFractionDigits: digits, maximumFractionDigits: digits});
  },
  tip: function (lines) {
    var box = document.createElement("div");
    lines.forEach(function (line) {
      var row = document.createElement("div");
      row.textContent = line;
      box.appendChild(row);
    });
    return box;
  },
  featureTip: function (layer) {
    return territoryMaps.tip(layer.feature.properties.t);
  },
  accountLines: function (d, i) {
    var name = d.n ? d.n[i] : "", id = d.id[i], rep = d.rep;
    var lines = [name ? name + " (" + id + ")" : id, rep ? "rep " + rep : "uncovered"];
    var segment = d.seg ? d.seg.v[d.seg.i[i]] : "";
    if (segment) { lines.push("segment " + segment); }
    lines.push("potential " + territoryMaps.number(d.p[i]));
    var code = d.c ? d.c[i] : 0, previous = d.pv && d.pv[i] ? d.pv[i] : "";
    if (code === 1) {
      lines.push("moved " + (previous || "none") + " \\u2192 " + (rep || "uncovered"));
    } else if (code === 2) {
      lines.push(previous ? "inherited from " + previous : "previously unassigned");
    }
    return lines;
  },
  load: function (id) {
    return JSON.parse(document.getElementById(id).textContent);
  },
  accounts: function (d, base, meta) {
    var layer = L.featureGroup([], meta);
    layer.tmData = d;
    var moved = Object.assign({}, base, territoryMaps.movedStyle);
    for (var i = 0, n = d.x.length; i < n; i++) {
      var marker = L.circleMarker([d.y[i], d.x[i]], d.c && d.c[i] === 1 ? moved : base);
      marker.options.radius = marker._radius = d.r[i];
      marker.tmIndex = i;
      layer.addLayer(marker);
    }
    layer.bindTooltip(function (marker) {
      return territoryMaps.tip(territoryMaps.accountLines(d, marker.tmIndex));
    }, {className: "tm-tip"});
    territoryMaps.front.push(layer);
    return layer;
  },
  areas: function (data, base, meta) {
    var options = {style: function (feature) {
      return Object.assign({}, base, feature.properties.s);
    }};
    if (meta.kind === "previous") {
      territoryMaps.previousRenderer = territoryMaps.previousRenderer ||
        L.svg({pane: "__PANE__", padding: 0.5});
      options.renderer = territoryMaps.previousRenderer;
      options.pane = "__PANE__";
    }
    return L.geoJSON(data, Object.assign(options, meta))
      .bindTooltip(territoryMaps.featureTip, {sticky: true, className: "tm-tip"});
  },
  homes: function (data, base, meta) {
    return L.geoJSON(data, Object.assign({
      pointToLayer: function (feature, latlng) {
        var diamond = document.createElement("div");
        diamond.style.background = feature.properties.c;
        var icon = L.divIcon({className: "tm-home", iconSize: [20, 20], html: diamond});
        return L.marker(latlng, {icon: icon, keyboard: false, riseOnHover: true});
      }
    }, meta)).bindTooltip(territoryMaps.featureTip, {className: "tm-tip", direction: "top"});
  },
  setup: function (map, bounds) {
    territoryMaps.map = map;
    map.createPane("__PANE__").style.zIndex = 450;
    if (bounds) {
      var fit = function () { map.fitBounds(bounds, {padding: [10, 10], animate: false}); };
      var box = map.getContainer();
      if ((box.clientWidth > 0 && box.clientHeight > 0) || !window.ResizeObserver) {
        fit();
      } else {  // not laid out yet (e.g. a frame still loading): fitting now gives NaN zoom
        var watcher = new ResizeObserver(function () {
          if (box.clientWidth > 0 && box.clientHeight > 0) {
            watcher.disconnect();
            map.invalidateSize();
            fit();
          }
        });
        watcher.observe(box);
      }
    }
    map.on("overlayadd", function () {
      territoryMaps.front.forEach(function (layer) {
        if (map.hasLayer(layer)) { layer.bringToFront(); }
      });
    });
  },
  control: function (map, id, position) {
    var control = L.control({position: position});
    control.onAdd = function () {
      var div = document.getElementById(id);
      div.style.display = "block";
      L.DomEvent.disableClickPropagation(div);
      L.DomEvent.disableScrollPropagation(div);
      return div;
    };
    return control.addTo(map);
  }
};
""".replace("__MOVED__", script_json(MOVED_STYLE)).replace("__PANE__", PREVIOUS_PANE)

_CSS = """
.leaflet-container { background: #f4f4f1; }
.tm-tip > div > div:first-child { font-weight: bold; }
.leaflet-__PANE__-pane > svg { pointer-events: none; }
.tm-home > div { box-sizing: border-box; width: 14px; height: 14px; margin: 3px;
  transform: rotate(45deg); border: 2px solid #fff;
  box-shadow: 0 0 0 2px #111, 0 1px 5px rgba(0,0,0,0.6); }
.tm-panel { background: rgba(255,255,255,0.93); padding: 6px 9px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font: 12px/1.45 sans-serif; max-width: 280px; }
.tm-panel h4 { margin: 0 0 4px; font-size: 13px; }
.tm-panel table { border-collapse: collapse; }
.tm-panel td { padding: 0 6px 0 0; vertical-align: top; }
.tm-legend { max-height: 40vh; overflow-y: auto; }
.tm-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 5px; vertical-align: middle; border: 1px solid #333; }
.tm-swatch.tm-moved { background: #fff; border: 3px solid #000; width: 6px; height: 6px; }
.tm-swatch.tm-home-key { border-radius: 0; transform: rotate(45deg); width: 8px; height: 8px;
  background: #4e79a7; border: 2px solid #fff; box-shadow: 0 0 0 2px #111; margin: 0 8px 0 3px; }
.tm-swatch.tm-previous { border-radius: 0; border: 0; border-top: 3px dashed #1a1a1a;
  height: 0; width: 16px; }
.tm-table { font: 13px/1.45 sans-serif; margin: 12px; overflow-x: auto; }
.tm-table table { border-collapse: collapse; }
.tm-table th, .tm-table td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.tm-table th { background: #f0f0f0; }
.tm-table .tm-text { text-align: left; }
""".replace("__PANE__", PREVIOUS_PANE)


class MapSetup(TemplateElement):
    """Shared CSS and JavaScript helpers; add it to the map before any layer.

    Creates the pane for previous territories and sets the initial view to
    ``bounds`` ([[south, west], [north, east]]) without animation, before any
    layer is drawn.
    """

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>{{ this.css }}</style>
<script>{{ this.js }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
territoryMaps.setup({{ this._parent.get_name() }}, {{ this.bounds }});
{% endmacro %}
"""
    )

    def __init__(self, bounds: list[list[float]] | None) -> None:
        super().__init__()
        self._name = "MapSetup"
        self.css = _CSS
        self.js = _SHARED_JS
        self.bounds = script_json(bounds)


class DataLayer(TemplateElement):
    """One layer drawn by ``territoryMaps.<helper>(data, base_style, meta)``.

    ``helper`` is ``accounts``, ``areas`` or ``homes``. The data goes into a
    JSON block in the page body (id ``<layer name>-data``); ``meta`` ends up in
    the Leaflet layer options (``kind``, ``rep``) so the page can be inspected.
    """

    _template = Template(
        """
{% macro html(this, kwargs) %}
<script type="application/json" id="{{ this.get_name() }}-data">{{ this.data }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = territoryMaps.{{ this.helper }}(
  territoryMaps.load("{{ this.get_name() }}-data"), {{ this.base }}, {{ this.meta }}
).addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    HELPERS = {"accounts": "AccountLayer", "areas": "AreaLayer", "homes": "HomeLayer"}

    def __init__(
        self, helper: str, data: dict[str, Any], base_style: dict[str, Any], meta: dict[str, Any]
    ) -> None:
        super().__init__()
        if helper not in self.HELPERS:
            raise ValueError(f"unknown layer helper {helper!r}")
        self._name = self.HELPERS[helper]
        self.helper = helper
        self.data = script_json(data)
        self.base = script_json(base_style)
        self.meta = script_json(meta)
