"""Legend, summary panel and per-rep table as small branca template elements.

Legend and summary are Leaflet controls, so they stay inside the map whatever
the page layout. All text handed to these elements must already be escaped
with :func:`maps.text.esc`; the templates output it as is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd
from jinja2 import Template

from maps.elements import TemplateElement
from maps.styling import UNCOVERED_COLOUR
from maps.text import as_float, esc, fmt_number, fmt_percent

LegendEntry = tuple[str, str]  # (colour, escaped label)


class Legend(TemplateElement):
    """Rep colours plus the symbols for home bases, moved accounts, previous territories."""

    _template = Template(
        """
{% macro html(this, kwargs) %}
<div id="{{ this.get_name() }}" class="tm-panel tm-legend" style="display:none">
<h4>Reps</h4>
{%- for colour, label in this.entries %}
<div><span class="tm-swatch" style="background:{{ colour }}"></span>{{ label }}</div>
{%- endfor %}
<hr>
<div><span class="tm-swatch tm-home-key"></span>home base</div>
<div><span class="tm-swatch tm-moved"></span>moved account</div>
{%- if this.previous %}
<div><span class="tm-swatch tm-previous"></span>{{ this.previous_text }} (dashed)</div>
{%- endif %}
{%- if this.uncovered %}
<div><span class="tm-swatch" style="background:{{ this.uncovered }}"></span>uncovered account</div>
{%- endif %}
</div>
{% endmacro %}
{% macro script(this, kwargs) %}
territoryMaps.control({{ this._parent.get_name() }}, "{{ this.get_name() }}", "bottomright");
{% endmacro %}
"""
    )

    def __init__(
        self,
        entries: Sequence[LegendEntry],
        *,
        previous: bool = False,
        uncovered: bool = False,
        previous_text: str = "previous territory",
    ) -> None:
        super().__init__()
        self._name = "Legend"
        self.entries = list(entries)
        self.previous = previous
        self.previous_text = previous_text
        self.uncovered = UNCOVERED_COLOUR if uncovered else ""


class SummaryPanel(TemplateElement):
    """Headline figures of the run: solver status, gap, balance, disruption, coverage."""

    _template = Template(
        """
{% macro html(this, kwargs) %}
<div id="{{ this.get_name() }}" class="tm-panel tm-summary" style="display:none">
<h4>{{ this.title }}</h4>
<table>
{%- for label, value in this.rows %}
<tr><td>{{ label }}</td><td>{{ value }}</td></tr>
{%- endfor %}
</table>
</div>
{% endmacro %}
{% macro script(this, kwargs) %}
territoryMaps.control({{ this._parent.get_name() }}, "{{ this.get_name() }}", "bottomleft");
{% endmacro %}
"""
    )

    def __init__(self, title: str, rows: Sequence[tuple[str, str]]) -> None:
        super().__init__()
        self._name = "Summary"
        self.title = title
        self.rows = list(rows)


class RepTable(TemplateElement):
    """Per-rep figures as an HTML table placed below the map (district pages)."""

    _template = Template(
        """
{% macro html(this, kwargs) %}
<div class="tm-table" id="{{ this.get_name() }}">
<h3>{{ this.title }}</h3>
<table>
<thead><tr>
{%- for label, cls in this.columns %}<th{{ cls }}>{{ label }}</th>{% endfor -%}
</tr></thead>
<tbody>
{%- for row in this.rows %}
<tr>{% for value, cls in row %}<td{{ cls }}>{{ value }}</td>{% endfor %}</tr>
{%- endfor %}
</tbody>
</table>
</div>
{% endmacro %}
"""
    )

    COLUMNS: tuple[tuple[str, str, int | None], ...] = (
        ("rep_id", "Rep", None),
        ("name", "Name", None),
        ("region", "Region", None),
        ("accounts", "Accounts", 0),
        ("potential", "Potential", 0),
        ("potential_index", "Potential index", 2),
        ("workload_index", "Workload index", 2),
        ("capacity_utilisation", "Capacity use", 2),
        ("mean_distance_km", "Mean km", 1),
        ("max_distance_km", "Max km", 1),
        ("accounts_gained", "Gained", 0),
        ("accounts_lost", "Lost", 0),
    )

    def __init__(self, title: str, reps: pd.DataFrame) -> None:
        super().__init__()
        self._name = "RepTable"
        self.title = title
        present = [c for c in self.COLUMNS if c[0] in reps.columns and _has_values(reps[c[0]])]
        text_cell = ' class="tm-text"'
        self.columns = [
            (esc(label), text_cell if digits is None else "") for _, label, digits in present
        ]
        self.rows = [
            [
                (esc(record[key]), text_cell)
                if digits is None
                else (fmt_number(record[key], digits), "")
                for key, _, digits in present
            ]
            for record in reps.sort_values("rep_id", kind="stable").to_dict("records")
        ]


def summary_rows(
    run_info: dict[str, Any], accounts: pd.DataFrame, reps: pd.DataFrame
) -> list[tuple[str, str]]:
    """Summary panel rows, from ``run.json`` metrics, else derived from the tables."""
    metrics = run_info.get("metrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    index = reps["potential_index"].dropna() if "potential_index" in reps else pd.Series([])
    low = _first(metrics.get("potential_index_min"), index.min() if len(index) else None)
    high = _first(metrics.get("potential_index_max"), index.max() if len(index) else None)
    moved_share = _first(metrics.get("moved_potential_share"), _moved_share(accounts))
    uncovered = _first(metrics.get("uncovered_accounts"), int((accounts["rep_id"] == "").sum()))
    status = run_info.get("status")
    return [
        ("Status", esc(status) if status not in (None, "") else "n/a"),
        ("Gap", fmt_percent(run_info.get("gap"), 2)),
        ("Potential index", f"{fmt_number(low, 2)} &ndash; {fmt_number(high, 2)}"),
        ("Moved potential", fmt_percent(moved_share)),
        ("Uncovered accounts", fmt_number(uncovered, 0)),
        ("Accounts / reps", f"{len(accounts):,} / {reps['rep_id'].ne('').sum():,}"),
    ]


def _first(*values: object) -> float | None:
    for value in values:
        number = as_float(value)
        if number is not None:
            return number
    return None


def _moved_share(accounts: pd.DataFrame) -> float | None:
    potential = accounts["potential"].fillna(0.0)
    total = float(potential.sum())
    if total <= 0:
        return None
    return float(potential[accounts["moved"]].sum()) / total


def _has_values(column: pd.Series) -> bool:
    if column.dtype == object:
        return bool((column.astype(str) != "").any())
    return bool(column.notna().any())
