"""Where the LP time goes: wrap the solver's building blocks with timers (benchmarks only).

The solver reports one ``lp`` time for column generation. To say *what* in it is slow, the
benchmark child process wraps the functions that ``solvers.solve`` calls (PuLP model build,
the solver call, HiGHS's own ``run``, dual read-out, pricing) and files each call under the
solver step that made it (``lp``, ``neighbourhood``, ``mip``, ...), found from the caller's
name. Nothing in the package changes; names that do not exist are skipped.
"""

from __future__ import annotations

import functools
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
WRAPPED = {
    "build_problem": "build",
    "run_solver": "solver_call",
    "read_duals": "duals",
    "price": "price",
}


class Profiler:
    """Accumulated seconds and call counts per ``step.what``."""

    def __init__(self, notify: Notify | None = None) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.notify = notify
        self._step = "other"

    def add(self, key: str, seconds: float) -> None:
        self.seconds[key] += seconds
        self.calls[key] += 1

    def _wrap(self, func: Callable[..., Any], what: str) -> Callable[..., Any]:
        @functools.wraps(func)
        def timed(*args: Any, **kwargs: Any) -> Any:
            caller = sys._getframe(1).f_code.co_name
            step = STEPS.get(caller, caller)
            outer, self._step = self._step, step
            start = time.perf_counter()
            highs_before = self.seconds[f"{step}.highs_run"]
            result = None
            try:
                result = func(*args, **kwargs)
                return result
            finally:
                seconds = time.perf_counter() - start
                self.add(f"{step}.{what}", seconds)
                self._step = outer
                if what == "solver_call" and self.notify is not None:
                    highs = self.seconds[f"{step}.highs_run"] - highs_before
                    self.notify("solver", _describe(step, args, result, seconds, highs))

        return timed

    def install(self) -> None:
        """Patch ``solvers.solve`` (and HiGHS's ``run``) in this process only."""
        import solvers.solve as solve

        for name, what in WRAPPED.items():
            func = getattr(solve, name, None)
            if callable(func):
                setattr(solve, name, self._wrap(func, what))
        try:
            import highspy
        except ImportError:
            return
        run = highspy.Highs.run
        profiler = self

        def timed_run(model: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return run(model, *args, **kwargs)
            finally:
                profiler.add(f"{profiler._step}.highs_run", time.perf_counter() - start)

        highspy.Highs.run = timed_run  # type: ignore[method-assign]

    def breakdown(self) -> dict[str, dict[str, float]]:
        """``{step: {build, handoff, highs_run, duals, price, calls}}``; ``handoff`` is the
        solver call minus HiGHS's own run (PuLP passing the model, reading the solution)."""
        out: dict[str, dict[str, float]] = {}
        for key, seconds in self.seconds.items():
            step, _, what = key.partition(".")
            out.setdefault(step, {})[what] = seconds
        for key, count in self.calls.items():
            step, _, what = key.partition(".")
            if what == "solver_call":
                out[step]["solves"] = count
        for parts in out.values():
            if "solver_call" in parts:
                parts["handoff"] = parts.pop("solver_call") - parts.get("highs_run", 0.0)
        return out


def _describe(step: str, args: tuple, report: Any, seconds: float, highs: float) -> str:
    """One line about a solver call: size, status and where its time went."""
    prob = args[0] if args else None
    size = ""
    if prob is not None and hasattr(prob, "numVariables"):
        size = f"{prob.numVariables():,} columns × {prob.numConstraints():,} rows, "
    status = getattr(report, "raw_status", "no report")
    return f"{step} solve: {size}{status} in {seconds:.1f} s (HiGHS run {highs:.1f} s)"
