"""Base elements that render their Jinja macros exactly once.

branca's ``MacroElement`` wraps each rendered macro in a new ``Element``,
which compiles the output as a Jinja template again: slow for megabytes of
GeoJSON and a template-injection risk for user text containing ``{{``.
These classes emit the rendered text verbatim instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from branca.element import Element, Figure, MacroElement


class RawHtml(Element):
    """A piece of HTML/JS/CSS emitted exactly as given."""

    def __init__(self, content: str) -> None:
        super().__init__()
        self._name = "RawHtml"
        self.content = content

    def render(self, **kwargs: Any) -> str:
        """Return the content untouched (no template processing)."""
        return self.content


class TemplateElement(MacroElement):
    """A ``MacroElement`` whose ``header``/``html``/``script`` macros are rendered once."""

    def render(self, **kwargs: Any) -> str:
        """Add the rendered macros to the figure's header, body and script."""
        figure = self.get_root()
        if not isinstance(figure, Figure):
            raise TypeError(f"{self._name} must be inside a folium Figure to render")
        macros = self._template.module.__dict__
        for part, target in (
            ("header", figure.header),
            ("html", figure.html),
            ("script", figure.script),
        ):
            macro = macros.get(part)
            if macro is not None:
                target.add_child(RawHtml(str(macro(self, kwargs))), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)
        return ""


def walk(element: Element) -> Iterator[Element]:
    """Every element under ``element`` (depth first, children in insertion order)."""
    yield element
    if isinstance(element, Figure):
        for part in (element.header, element.html, element.script):
            yield from walk(part)
    for child in list(element._children.values()):
        yield from walk(child)
