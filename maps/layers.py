"""Leaflet layers for accounts, rep home bases and territories.

Each layer is a single ``L.geoJSON`` call whose per-feature style lives in
the feature properties and is applied by one shared JavaScript function
(``pointToLayer`` for circle markers, ``style`` for polygons). This keeps the
page linear in the number of accounts, unlike folium's ``style_function``
(one JavaScript case per feature) or one folium object per account.
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
HOME_STYLE: dict[str, Any] = {
    "radius": 9,
    "color": "#111111",
    "weight": 3,
    "opacity": 1,
    "fillOpacity": 1,
}
TERRITORY_STYLE: dict[str, Any] = {
    "color": "#555555",
    "weight": 1,
    "opacity": 0.7,
    "fillOpacity": 0.22,
}

_SHARED_JS = """
var territoryMaps = {
  front: [],
  point: function (base) {
    return function (feature, latlng) {
      return L.circleMarker(latlng, Object.assign({}, base, feature.properties.s));
    };
  },
  style: function (base) {
    return function (feature) {
      return Object.assign({}, base, feature.properties.s);
    };
  },
  tooltip: function (layer) {
    return layer.feature.properties.t;
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
"""

_CSS = """
.leaflet-container { background: #f4f4f1; }
.tm-tip { white-space: pre-line; }
.tm-tip::first-line { font-weight: bold; }
.tm-panel { background: rgba(255,255,255,0.93); padding: 6px 9px; border-radius: 4px;
  box-shadow: 0 1px 4px rgba(0,0,0,0.35); font: 12px/1.45 sans-serif; max-width: 280px; }
.tm-panel h4 { margin: 0 0 4px; font-size: 13px; }
.tm-panel table { border-collapse: collapse; }
.tm-panel td { padding: 0 6px 0 0; vertical-align: top; }
.tm-legend { max-height: 40vh; overflow-y: auto; }
.tm-swatch { display: inline-block; width: 10px; height: 10px; border-radius: 50%;
  margin-right: 5px; vertical-align: middle; border: 1px solid #333; }
.tm-swatch.tm-moved { background: #fff; border: 3px solid #000; width: 6px; height: 6px; }
.tm-swatch.tm-home { border: 3px solid #111; width: 8px; height: 8px; }
.tm-table { font: 13px/1.45 sans-serif; margin: 12px; overflow-x: auto; }
.tm-table table { border-collapse: collapse; }
.tm-table th, .tm-table td { border: 1px solid #ccc; padding: 2px 8px; text-align: right; }
.tm-table th { background: #f0f0f0; }
.tm-table .tm-text { text-align: left; }
"""


class MapSetup(TemplateElement):
    """Shared CSS and JavaScript helpers; add it to the map before any layer."""

    _template = Template(
        """
{% macro header(this, kwargs) %}
<style>{{ this.css }}</style>
<script>{{ this.js }}</script>
{% endmacro %}
{% macro script(this, kwargs) %}
{{ this._parent.get_name() }}.on("overlayadd", function () {
  territoryMaps.front.forEach(function (layer) {
    if ({{ this._parent.get_name() }}.hasLayer(layer)) { layer.bringToFront(); }
  });
});
{% endmacro %}
"""
    )

    def __init__(self) -> None:
        super().__init__()
        self._name = "MapSetup"
        self.css = _CSS
        self.js = _SHARED_JS


class PointLayer(TemplateElement):
    """One GeoJSON layer of circle markers (accounts of one rep, or home bases).

    ``meta`` is stored in the Leaflet layer options (e.g. kind and rep id) so
    the page can be inspected; it must contain no unescaped user text.
    """

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON({{ this.data }}, Object.assign(
  {pointToLayer: territoryMaps.point({{ this.base }})}, {{ this.meta }}
)).bindTooltip(territoryMaps.tooltip, {className: "tm-tip"}).addTo({{ this._parent.get_name() }});
territoryMaps.front.push({{ this.get_name() }});
{% endmacro %}
"""
    )

    def __init__(
        self,
        features: dict[str, Any],
        base_style: dict[str, Any],
        meta: dict[str, Any],
        name: str = "PointLayer",
    ) -> None:
        super().__init__()
        self._name = name
        self.data = script_json(features)
        self.base = script_json(base_style)
        self.meta = script_json(meta)


class AreaLayer(TemplateElement):
    """One GeoJSON layer of territory polygons with sticky tooltips."""

    _template = Template(
        """
{% macro script(this, kwargs) %}
var {{ this.get_name() }} = L.geoJSON({{ this.data }}, Object.assign(
  {style: territoryMaps.style({{ this.base }})}, {{ this.meta }}
)).bindTooltip(territoryMaps.tooltip, {sticky: true, className: "tm-tip"})
  .addTo({{ this._parent.get_name() }});
{% endmacro %}
"""
    )

    def __init__(
        self, features: dict[str, Any], base_style: dict[str, Any], meta: dict[str, Any]
    ) -> None:
        super().__init__()
        self._name = "TerritoryLayer"
        self.data = script_json(features)
        self.base = script_json(base_style)
        self.meta = script_json(meta)
