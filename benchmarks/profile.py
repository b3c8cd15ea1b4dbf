"""Where the solver's time goes: wrap its building blocks with timers (benchmarks only).

The solver reports one ``lp`` time for column generation. To say *what* in it is slow, the
benchmark child process wraps the functions and methods the solver calls (PuLP model build,
the PuLP solver call, the direct HiGHS back-end's column updates, HiGHS's own ``run``, dual
read-out, pricing) and files each call under the solver step that made it (``lp``,
``neighbourhood``, ``mip``, ...), found from the caller's name. Times are *exclusive*: a wrapped
call nested in another (HiGHS ``run`` inside the PuLP solver call) is taken off its parent, so
the parts add up. Nothing in the package changes; names that do not exist are skipped, so the
profiler works across versions of the solver code.
"""

from __future__ import annotations

import functools
import importlib
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

Notify = Callable[[str, str], None]

# caller function in solvers.solve -> solver step
STEPS = {
    "column_generation": "lp",
    "_integral": "repair",
    "_neighbourhood_mip": "neighbourhood",
    "_mip": "mip",
    "_infeasible": "infeasibility",
    "_feasible_candidates": "lp",
}
# (module, attribute or Class.method, part, announce each call as a solver event)
TARGETS: tuple[tuple[str, str, str, bool], ...] = (
    ("solvers.solve", "build_problem", "build", False),
    ("solvers.solve", "run_solver", "solver_call", True),
    ("solvers.solve", "read_duals", "duals", False),
    ("solvers.solve", "price", "price", False),
    ("solvers.lp_backends", "build_problem", "build", False),
    ("solvers.lp_backends", "run_solver", "solver_call", True),
    ("solvers.lp_backends", "read_duals", "duals", False),
    ("solvers.lp_backends", "HighsLP.__init__", "highs_setup", False),
    ("solvers.lp_backends", "HighsLP.set_pairs", "add_columns", False),
    ("solvers.lp_backends", "HighsLP.solve", "read_back", True),
    ("solvers.lp_backends", "PulpLP.solve", "read_back", False),
)


class Profiler:
    """Exclusive seconds and call counts per ``step.part``."""

    def __init__(self, notify: Notify | None = None) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.notify = notify
        self._step = "other"
        self._children: list[float] = []  # time spent in wrapped callees, per open call
        self._highs_total = 0.0

    def _timed(self, key: str, func: Callable[[], Any]) -> Any:
        """Run ``func`` and file its exclusive time under ``key``."""
        self._children.append(0.0)
        start = time.perf_counter()
        try:
            return func()
        finally:
            inclusive = time.perf_counter() - start
            nested = self._children.pop()
            self.seconds[key] += inclusive - nested
            self.calls[key] += 1
            if self._children:
                self._children[-1] += inclusive

    def _wrap(self, func: Callable[..., Any], part: str, announce: bool) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code.co_name
            inherited = self._step if self._step != "other" else caller
            step = STEPS.get(caller, inherited)
            outer, self._step = self._step, step
            highs_before = self._highs_total
            start = time.perf_counter()
            result = None
            try:
                result = self._timed(f"{step}.{part}", lambda: func(*args, **kwargs))
                return result
            finally:
                self._step = outer
                if announce and self.notify is not None:
                    seconds = time.perf_counter() - start
                    highs = self._highs_total - highs_before
                    self.notify("solver", _describe(step, args, result, seconds, highs))

        return timed

    def install(self) -> None:
        """Patch the solver modules (and HiGHS's ``run``) in this process only."""
        for module_name, attribute, part, announce in TARGETS:
            try:
                module = importlib.import_module(module_name)
            except ImportError:
                continue
            owner: Any = module
            name = attribute
            if "." in attribute:
                class_name, name = attribute.split(".", 1)
                owner = getattr(module, class_name, None)
            func = getattr(owner, name, None) if owner is not None else None
            if callable(func):
                setattr(owner, name, self._wrap(func, part, announce))
        try:
            import highspy
        except ImportError:
            return
        run = highspy.Highs.run
        profiler = self

        def timed_run(model: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return profiler._timed(
                    f"{profiler._step}.highs_run", lambda: run(model, *args, **kwargs)
                )
            finally:
                profiler._highs_total += time.perf_counter() - start

        highspy.Highs.run = timed_run  # type: ignore[method-assign]

    def breakdown(self) -> dict[str, dict[str, float]]:
        """``{step: {part: seconds, ..., "solves": n}}``; ``solves`` counts LP/MILP solves."""
        out: dict[str, dict[str, float]] = {}
        for key, seconds in self.seconds.items():
            step, _, part = key.partition(".")
            out.setdefault(step, {})[part] = seconds
        for key, count in self.calls.items():
            step, _, part = key.partition(".")
            if part == "highs_run":
                out[step]["solves"] = count
        return out


def _describe(step: str, args: tuple, result: Any, seconds: float, highs: float) -> str:
    """One line about a solver call: size, status and where its time went."""
    target = args[0] if args else None
    size = ""
    if target is not None and hasattr(target, "numVariables"):  # a PuLP problem
        size = f"{target.numVariables():,} columns × {target.numConstraints():,} rows, "
    elif target is not None and hasattr(target, "highs"):  # the direct HiGHS back-end
        size = f"{target.highs.getNumCol():,} columns × {target.highs.getNumRow():,} rows, "
    status = getattr(result, "raw_status", None) or getattr(result, "status", "no result")
    return f"{step} solve: {size}{status} in {seconds:.1f} s (HiGHS run {highs:.1f} s)"
