"""Deterministic element ids, so the same run always gives the same bytes.

folium names every JavaScript variable after a random 32-hex id. Numbering the
elements in tree order instead makes the HTML reproducible and diffable.
"""

from __future__ import annotations

from branca.element import Element

from maps.elements import walk


def assign_ids(root: Element) -> None:
    """Renumber every element under ``root``'s figure in depth-first order.

    Call once, after the map is complete and before it is first rendered:
    rendering stores elements under their names.
    """
    for number, element in enumerate(walk(root.get_root()), start=1):
        element._id = str(number)
