"""Headless Chromium for the map tests: find it, open pages offline, record what goes wrong.

The browser is the system Chromium (``$CHROMIUM``, else ``chromium`` on PATH,
else /usr/bin/chromium) driven by Playwright for Python; Playwright's own
browser download is never used. Without Chromium or Playwright the tests skip
on a developer machine, but fail when ``CI`` is set: CI must run them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
LOCAL_SCHEMES = ("file:", "data:", "about:")


def chromium_path() -> str | None:
    """The system Chromium executable, or None when there is none."""
    for candidate in (os.environ.get("CHROMIUM"), shutil.which("chromium"), "/usr/bin/chromium"):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def unavailable(reason: str) -> NoReturn:
    """Fail under CI (the browser tests must run there), skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class PageLog:
    """Everything a page did that a self-contained, safe map must not do."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    @property
    def network(self) -> list[str]:
        """Requests for anything but local files and inline data."""
        return [url for url in self.requests if not url.startswith(LOCAL_SCHEMES)]

    def assert_clean(self) -> None:
        """No console error, no uncaught exception, no network request, no dialog."""
        assert self.console_errors == []
        assert self.page_errors == []
        assert self.network == []
        assert self.dialogs == []


class Browser:
    """One Chromium process; :meth:`open` gives an offline page and its log."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def open(self, url: str, width: int = 1200, height: int = 800) -> tuple[Any, PageLog]:
        """Open ``url`` in a new offline page and wait until the map has been painted."""
        context = self._browser.new_context(
            viewport={"width": width, "height": height}, offline=True
        )
        page = context.new_page()
        log = PageLog()
        page.on(
            "console",
            lambda message: (
                log.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        page.on("pageerror", lambda error: log.page_errors.append(str(error)))
        page.on("request", lambda request: log.requests.append(request.url))

        def on_dialog(dialog: Any) -> None:
            log.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(url, wait_until="load")
        next_frame(page)
        return page, log


def next_frame(page: Any) -> None:
    """Wait until two animation frames have passed (Leaflet draws its canvas in one)."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def launch() -> Iterator[Browser]:
    """Start Chromium (fixture body); skip or fail as :func:`unavailable` says."""
    executable = chromium_path()
    if executable is None:
        unavailable("no Chromium found (set $CHROMIUM or install Debian's chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield Browser(browser)
        finally:
            browser.close()
