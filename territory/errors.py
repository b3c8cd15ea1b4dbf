"""Errors that carry user-facing explanations instead of tracebacks."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, located precisely enough to fix it."""

    source: str
    message: str
    row: int | None = None
    column: str | None = None
    hint: str | None = None
    row_word: str = "row"  # "feature" in vector files

    def __str__(self) -> str:
        where = [self.source]
        if self.row is not None:
            where.append(f"{self.row_word} {self.row}")
        if self.column is not None:
            where.append(f"column '{self.column}'")
        text = f"{', '.join(where)}: {self.message}"
        if self.hint:
            text += f" Fix: {self.hint}"
        return text


class TerritoryError(Exception):
    """Base class of every error the CLI turns into a message and an exit code."""

    exit_code = 1


class InputError(TerritoryError):
    """The inputs cannot be used; every problem found is listed."""

    exit_code = 2

    def __init__(self, problems: list[Problem], limit: int = 50) -> None:
        self.problems = problems
        shown = [str(p) for p in problems[:limit]]
        if len(problems) > limit:
            shown.append(f"... and {len(problems) - limit} more problems of the same kinds.")
        super().__init__("\n".join(shown))


class UsageError(TerritoryError):
    """A parameter or option is invalid."""

    exit_code = 2


class SolverUnavailableError(TerritoryError):
    """The requested solver back-end is not installed."""

    exit_code = 2
