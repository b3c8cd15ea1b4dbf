"""Make a folium figure self-contained: Leaflet inlined, no CDN references.

A map written next to a sales plan gets mailed around and opened on laptops
without network access or behind proxies, so the page must not load anything.
Leaflet comes from the ``xstatic-leaflet`` package; folium's other default
assets (jQuery, Bootstrap, awesome-markers) are not needed and are dropped.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path

from branca.element import Element, Figure
from folium.elements import JSCSSMixin

from maps.elements import RawHtml, walk

_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
_RESOURCE_TAGS = {"script", "link", "img", "iframe", "source", "embed", "object", "audio", "video"}
_CSS_URL = re.compile(r"url\(\s*['\"]?\s*(?:https?:)?//", re.IGNORECASE)


def leaflet_dir() -> Path:
    """Directory holding leaflet.js and leaflet.css from ``xstatic-leaflet``."""
    from xstatic.pkg import leaflet

    return Path(leaflet.BASE_DIR)


@lru_cache(maxsize=1)
def leaflet_js() -> str:
    """Minified Leaflet, without its source-map comment, safe inside ``<script>``."""
    text = (leaflet_dir() / "leaflet.js").read_text(encoding="utf-8")
    text = re.sub(r"//# sourceMappingURL=\S*\s*$", "", text)
    return text.replace("</script", "<\\/script")


@lru_cache(maxsize=1)
def leaflet_css() -> str:
    """Leaflet's stylesheet with its images inlined as data URIs."""
    base = leaflet_dir()
    text = (base / "leaflet.css").read_text(encoding="utf-8")

    def inline(match: re.Match[str]) -> str:
        image = base / match.group(1)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    text = re.sub(r"url\((images/[A-Za-z0-9_-]+\.png)\)", inline, text)
    return text.replace("</style", "<\\/style")


def make_offline(root: Element) -> None:
    """Remove CDN links from every element under the figure and inline Leaflet.

    Safe to call more than once. Must be called after all folium elements are
    added, since each one brings its own ``default_js``/``default_css``.
    """
    figure = root.get_root()
    if not isinstance(figure, Figure):
        raise TypeError("the element must belong to a folium/branca Figure")
    for element in walk(figure):
        if isinstance(element, JSCSSMixin):
            element.default_js = []
            element.default_css = []
    figure.header.add_child(RawHtml(f"<style>{leaflet_css()}</style>"), name="leaflet_css")
    figure.header.add_child(RawHtml(f"<script>{leaflet_js()}</script>"), name="leaflet_js")


def external_references(html: str) -> list[str]:
    """Network references a browser would load from ``html`` (should be empty).

    Looks at ``src``/``href``/``data`` attributes of resource tags and at CSS
    ``url()``. Links inside JavaScript strings (tile URLs, attribution anchors)
    are not resources and are not reported.
    """
    finder = _ResourceFinder()
    finder.feed(html)
    finder.close()
    return finder.found + [m.group(0) for m in _CSS_URL.finditer(html)]


class _ResourceFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _RESOURCE_TAGS:
            return
        for name, value in attrs:
            if name in {"src", "href", "data", "srcset"} and value and _EXTERNAL.match(value):
                self.found.append(f"<{tag} {name}={value!r}>")
