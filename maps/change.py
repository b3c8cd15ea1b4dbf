"""A change map: one run's territories with the baseline's territories as a dashed overlay.

Built with the ordinary map machinery: the compared run's accounts get the baseline's rep as
``previous_rep``, so accounts whose rep differs from the baseline's are highlighted as moved and
the dashed overlay shows the baseline territories (one GeoJSON feature per rep, not per account).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from maps.render import assemble_map, finish, render_html
from maps.run_files import normalise_assignments, normalise_reps


def change_map_html(
    baseline_accounts: pd.DataFrame,
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    baseline_reps: pd.DataFrame,
    summary: dict[str, Any],
    title: str,
) -> str:
    """The page of the change map (self-contained HTML).

    ``baseline_accounts`` and ``accounts`` hold the same accounts in the same order (the
    baseline's and the compared run's rows); ``summary`` feeds the summary panel (``status``,
    ``gap`` and ``metrics`` as in ``run.json``).
    """
    before = baseline_accounts["rep_id"].to_numpy(dtype=object)
    after = accounts["rep_id"].to_numpy(dtype=object)
    changed = before != after
    moved = changed & (before != "") & (after != "")
    frame = accounts.copy()
    frame["previous_rep"] = before
    frame["moved"] = moved
    frame["change"] = np.select(
        [after == "", changed & (before == ""), moved], ["uncovered", "inherited", "moved"], "kept"
    )
    roster = pd.concat(
        [reps, baseline_reps[~baseline_reps["rep_id"].isin(set(reps["rep_id"]))]],
        ignore_index=True,
    )
    m = assemble_map(
        normalise_assignments(frame),
        normalise_reps(reps),
        summary,
        title,
        None,
        height="100%",
        roster=normalise_reps(roster),
        previous_label="Baseline territories",
    )
    finish(m)
    return render_html(m)
