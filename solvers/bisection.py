r"""A balanced plan by recursive bisection, as candidate pairs that make the bands reachable.

Nearest-rep candidates keep every account among the reps around it. Where a region's reps
are too few for its potential (a metro that grew since the last alignment), no plan over
those pairs meets the bands: load has to cross to reps hundreds of km away, and the prices
of a dual over such candidates run to their caps (seen at 200,000 accounts × 2,000 reps).

Recursive bisection builds a plan that meets the potential bands by construction. A region
(at first: every account and rep) is cut in two by a plane through the reps' principal
axis: the reps by rank along the axis (half on either side), the accounts at the point
along the same axis where their weight on the near side equals the near reps' share of the
region's target,

.. math:: \sum_{a:\,x_a \cdot v < s} w_a \;=\; \frac{\sum_{r \in R_1} T_r}{\sum_{r \in R} T_r}
          \sum_{a} w_a ,

and both halves are cut again until a region holds one rep. Every rep's load then equals
its target up to half an account per level. The plan is compact (slabs) but not cheap (about 2×
the optimum at 100,000 × 500): its pairs are offered to the LP as candidates, which is what
carries the long-range moves, and it is a balanced fallback when nothing better is found.
"""

from __future__ import annotations

import numpy as np


def bisection_plan(
    account_points: np.ndarray, rep_points: np.ndarray, weight: np.ndarray, target: np.ndarray
) -> np.ndarray:
    """Rep index of every account (rows of ``account_points``, any dimension) such that each
    rep's total ``weight`` is close to its ``target`` (the targets' shares are what count)."""
    n_reps = len(rep_points)
    if n_reps == 0:
        raise ValueError("bisection needs at least one rep.")
    plan = np.empty(len(account_points), dtype=np.int64)
    stack = [(np.arange(len(account_points)), np.arange(n_reps))]
    while stack:
        accounts, reps = stack.pop()
        if len(reps) == 1:
            plan[accounts] = reps[0]
            continue
        axis = _principal_axis(rep_points[reps])
        reps = reps[np.argsort(rep_points[reps] @ axis, kind="stable")]
        near = len(reps) // 2
        total = float(target[reps].sum())
        share = float(target[reps[:near]].sum()) / total if total > 0 else near / len(reps)
        accounts = accounts[np.argsort(account_points[accounts] @ axis, kind="stable")]
        cut = _cut(np.cumsum(weight[accounts]), share)
        stack.append((accounts[cut:], reps[near:]))
        stack.append((accounts[:cut], reps[:near]))
    return plan


def _cut(cumulative: np.ndarray, share: float) -> int:
    """How many of the sorted accounts go to the near side: the count whose weight comes
    closest to ``share`` of the total (off by at most half an account)."""
    if len(cumulative) == 0:
        return 0
    goal = share * float(cumulative[-1])
    pos = int(np.searchsorted(cumulative, goal))  # the first prefix reaching the goal
    if pos >= len(cumulative):
        return len(cumulative)
    below = float(cumulative[pos - 1]) if pos > 0 else 0.0
    return pos + 1 if float(cumulative[pos]) - goal <= goal - below else pos


def _principal_axis(points: np.ndarray) -> np.ndarray:
    """Unit direction of the points' largest spread (the first one, for coincident points)."""
    centred = points - points.mean(axis=0)
    if not np.any(centred):
        axis = np.zeros(points.shape[1])
        axis[0] = 1.0
        return axis
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axis = vt[0]
    # the sign of a singular vector is arbitrary: fix it so the plan is reproducible
    return axis if axis[np.argmax(np.abs(axis))] > 0 else -axis
