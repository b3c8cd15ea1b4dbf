"""Self-contained HTML maps of one territory alignment run.

``write_map`` draws a whole run; ``write_district_maps`` writes one page per
district plus an index. Pages are offline (Leaflet inlined, no tiles unless
asked for), escape all user text, and are byte-for-byte reproducible.
"""

from maps.districts import write_district_maps
from maps.render import build_map, render_html, write_map
from maps.run_files import RunData, read_run

__all__ = [
    "RunData",
    "build_map",
    "read_run",
    "render_html",
    "write_district_maps",
    "write_map",
]
