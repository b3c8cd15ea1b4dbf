"""Escaping and number formatting shared by every part of the map.

Every piece of user text (account and rep names, ids, districts) reaches the
page through :func:`esc`, because Leaflet tooltips and the layer control insert
strings as HTML and folium passes some strings through Jinja a second time.
"""

from __future__ import annotations

import html
import json
import math
from typing import Any

_BRACES = str.maketrans({"{": "&#123;", "}": "&#125;"})


def esc(value: object) -> str:
    """HTML-escape ``value`` (``None``/NaN become ``""``).

    Braces are escaped too so that text can never open a Jinja tag when folium
    re-renders a rendered macro as a template.
    """
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return html.escape(str(value), quote=True).translate(_BRACES)


def script_json(obj: Any) -> str:
    """Serialise ``obj`` compactly for embedding inside a ``<script>`` element.

    ``<`` and ``>`` are escaped so no string can close the script element;
    the line separators are escaped for old JavaScript parsers.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def as_float(value: object) -> float | None:
    """Return ``value`` as a finite float, or ``None`` when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_number(value: object, digits: int | None = None) -> str:
    """Format a number for people: thousands separators, sensible decimals."""
    number = as_float(value)
    if number is None:
        return "n/a"
    if digits is None:
        digits = 0 if abs(number) >= 100 else 2 if abs(number) < 10 else 1
    return f"{number:,.{digits}f}"


def fmt_percent(value: object, digits: int = 1) -> str:
    """Format a share (0.123) as a percentage ("12.3%")."""
    number = as_float(value)
    return "n/a" if number is None else f"{number * 100:.{digits}f}%"
