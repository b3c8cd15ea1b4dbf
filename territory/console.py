"""Where the command line speaks: results on stdout, progress and problems on stderr."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.markup import escape

EXIT_INFEASIBLE = 3
err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False, width=None if sys.stdout.isatty() else 110)


class Phases:
    """Progress on stderr: one line per phase with its duration."""

    def __init__(self, quiet: bool = False) -> None:
        self.quiet = quiet
        self.start = time.perf_counter()
        self.last = self.start
        self.timings: dict[str, float] = {}

    def __call__(self, phase: str, detail: str) -> None:
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - self.last
        self.last = now
        if not self.quiet:
            err.print(
                f"[dim]{now - self.start:7.2f}s[/dim] [bold]{phase:<10}[/bold] {escape(detail)}"
            )
