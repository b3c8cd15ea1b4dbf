"""Model formulation and solver back-ends of the balanced assignment problem.

The model is built from plain arrays (:class:`BalancedAssignment`), the solver is passed in by
name; nothing here reads files or prints.
"""

from solvers.backends import available_solvers, make_solver
from solvers.formulation import BalancedAssignment
from solvers.solve import SolveOutcome, solve_balanced_assignment

__all__ = [
    "BalancedAssignment",
    "SolveOutcome",
    "available_solvers",
    "make_solver",
    "solve_balanced_assignment",
]
