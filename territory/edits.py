"""Scenario edits: changes to validated inputs in memory (AlignmentInputs → AlignmentInputs).

Each edit is one ``[[edits]]`` table of a scenario file with a ``type``:

- ``add_rep``: a new rep (``rep_id``, ``lat``, ``lon``; optional ``fte``, ``capacity``, ``name``,
  ``district``, ``region``).
- ``remove_reps``: the reps leave the roster. Their accounts are treated exactly like accounts
  of departed reps in the input files: unassigned today, given a rep without counting as moved,
  ``previous_rep`` still names the rep who left. A rep with locked accounts cannot be removed
  before an ``unlock``.
- ``vacate_reps``: the position stays on the roster (home base, FTE, target) but its accounts lose
  their incumbent, as if the seat were empty today: whoever gets them, they do not count as moved
  and the move penalty and cap do not apply to them (``previous_rep`` is blank). Locks stay.
- ``set_rep``: change ``fte``, ``capacity`` (``"none"``: no limit), home ``lat``/``lon``, ``name``,
  ``district`` or ``region`` of the selected reps.
- ``scale``: multiply ``potential`` and/or ``workload`` of the selected accounts.
- ``lock``: pin the selected accounts to ``rep``, or with ``keep_current = true`` to their current
  rep. ``unlock``: clear the locks of the selected accounts.
- ``forbid``: the selected accounts may never go to the selected reps (pair cost ``+inf``).

Accounts are selected by ``accounts = [ids]``, ``where = {column = value or [values]}`` on any
text column of the accounts (``segment``, ``current_rep``, ``locked_rep``, carried columns) and
``current_rep_where = {column = value}`` on the columns of their current rep (``region``,
``district``); criteria combine with AND, none selects every account. Reps are selected by
``reps = [ids]`` and ``reps_where = {column = value}``. Edits apply in order; an id that is not
there, or a selection that matches nothing, is an error naming the scenario file and the edit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from territory.costs import is_forbidden
from territory.errors import InputError, Problem
from territory.inputs import AlignmentInputs
from territory.readers import RawTable
from territory.validation import cross_check

ACCOUNT_SELECTOR = {"accounts": "ids", "where": "match", "current_rep_where": "match"}
REP_SELECTOR = {"reps": "ids", "reps_where": "match"}
REP_TEXT = {"name": "text", "district": "text", "region": "text"}
NUMERIC_ACCOUNT_COLUMNS = ("lat", "lon", "potential", "workload")
NUMERIC_REP_COLUMNS = ("lat", "lon", "capacity", "fte")


@dataclass(frozen=True)
class Schema:
    """The keys an edit type takes, and which of them it needs."""

    keys: dict[str, str]
    required: tuple[str, ...] = ()
    one_of: tuple[tuple[str, ...], ...] = ()  # at least one key of each group


EDIT_SCHEMAS: dict[str, Schema] = {
    "add_rep": Schema(
        {
            "rep_id": "id",
            "lat": "lat",
            "lon": "lon",
            "fte": "positive",
            "capacity": "non_negative",
            **REP_TEXT,
        },
        required=("rep_id", "lat", "lon"),
    ),
    "remove_reps": Schema(REP_SELECTOR, one_of=(tuple(REP_SELECTOR),)),
    "vacate_reps": Schema(REP_SELECTOR, one_of=(tuple(REP_SELECTOR),)),
    "set_rep": Schema(
        {
            **REP_SELECTOR,
            "fte": "positive",
            "capacity": "capacity",
            "lat": "lat",
            "lon": "lon",
            **REP_TEXT,
        },
        one_of=(tuple(REP_SELECTOR), ("fte", "capacity", "lat", "lon", *REP_TEXT)),
    ),
    "scale": Schema(
        {**ACCOUNT_SELECTOR, "potential": "non_negative", "workload": "non_negative"},
        one_of=(("potential", "workload"),),
    ),
    "lock": Schema(
        {**ACCOUNT_SELECTOR, "rep": "id", "keep_current": "bool"},
        one_of=(("rep", "keep_current"),),
    ),
    "unlock": Schema(ACCOUNT_SELECTOR),
    "forbid": Schema({**ACCOUNT_SELECTOR, **REP_SELECTOR}, one_of=(tuple(REP_SELECTOR),)),
}


@dataclass(frozen=True)
class Edit:
    """One ``[[edits]]`` table: its type, its other keys, and where it was written."""

    type: str
    values: dict[str, Any]
    source: Path
    number: int  # 1-based position among the edits of its file

    def error(self, message: str, hint: str | None = None) -> InputError:
        return InputError(
            [Problem(str(self.source), f"{self.type}: {message}", self.number, None, hint, "edit")]
        )

    def record(self) -> dict[str, Any]:
        return {"type": self.type, **self.values, "file": str(self.source), "edit": self.number}


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float) and not isinstance(value, bool)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_value(edit: Edit, key: str, kind: str, value: Any) -> None:
    ok, expected = {
        "id": (isinstance(value, str) and value.strip() != "", "a non-blank id (text)"),
        "ids": (
            (isinstance(value, str) and value.strip() != "")
            or (
                isinstance(value, list)
                and len(value) > 0
                and all(isinstance(v, str) and v.strip() for v in value)
            ),
            "an id or a non-empty list of ids (text)",
        ),
        "text": (isinstance(value, str), "text"),
        "bool": (isinstance(value, bool), "true or false"),
        "lat": (_number(value) and -90 <= value <= 90, "a latitude in -90..90"),
        "lon": (_number(value) and -180 <= value <= 180, "a longitude in -180..180"),
        "positive": (_number(value) and value > 0 and np.isfinite(value), "a number > 0"),
        "non_negative": (_number(value) and 0 <= value < np.inf, "a number >= 0"),
        "capacity": (
            value == "none" or (_number(value) and 0 <= value < np.inf),
            'a number >= 0 or "none"',
        ),
        "match": (
            isinstance(value, dict)
            and len(value) > 0
            and all(
                _scalar(v) or (isinstance(v, list) and v and all(_scalar(x) for x in v))
                for v in value.values()
            ),
            "a table of column = value (or [values])",
        ),
    }[kind]
    if not ok:
        raise edit.error(f"key '{key}' must be {expected}; got {value!r}.")


def check_edit(edit: Edit) -> None:
    """Keys and value types of one edit, before any data is read."""
    schema = EDIT_SCHEMAS[edit.type]
    for key, value in edit.values.items():
        if key not in schema.keys:
            raise edit.error(
                f"unknown key '{key}'.", hint=f"{edit.type} takes: {', '.join(schema.keys)}."
            )
        _check_value(edit, key, schema.keys[key], value)
    for key in schema.required:
        if key not in edit.values:
            raise edit.error(f"key '{key}' is required.")
    for group in schema.one_of:
        if not any(k in edit.values for k in group):
            raise edit.error(f"give at least one of: {', '.join(group)}.")
    if edit.type == "lock" and ("rep" in edit.values) == bool(edit.values.get("keep_current")):
        raise edit.error('give either rep = "ID" or keep_current = true (one of them).')


def _ids(value: str | list[str]) -> list[str]:
    return [value.strip()] if isinstance(value, str) else [v.strip() for v in value]


def _listed(text: list[str], limit: int = 5) -> str:
    return ", ".join(text[:limit]) + (" ..." if len(text) > limit else "")


@dataclass
class _State:
    """The inputs being edited: plain copies of the frames plus the forbidden pairs."""

    accounts: pd.DataFrame
    reps: pd.DataFrame
    has_capacity: bool
    forbidden: list[pd.DataFrame] = field(default_factory=list)

    def rep_ids(self) -> set[str]:
        return set(self.reps["rep_id"])


def _match(edit: Edit, frame: pd.DataFrame, key: str, numeric: tuple[str, ...]) -> np.ndarray:
    mask = np.ones(len(frame), dtype=bool)
    text_columns = [c for c in frame.columns if c not in numeric]
    for column, wanted in edit.values[key].items():
        if column not in text_columns:
            raise edit.error(
                f"{key}: no text column '{column}'.",
                hint=f"columns that can be matched: {_listed(text_columns, 12)}.",
            )
        values = {str(v) for v in (wanted if isinstance(wanted, list) else [wanted])}
        mask &= frame[column].astype(str).isin(values).to_numpy()
    return mask


def _select_accounts(state: _State, edit: Edit) -> np.ndarray:
    accounts = state.accounts
    mask = np.ones(len(accounts), dtype=bool)
    if "accounts" in edit.values:
        wanted = _ids(edit.values["accounts"])
        known = set(accounts["account_id"])
        unknown = [a for a in wanted if a not in known]
        if unknown:
            raise edit.error(f"account(s) {_listed(unknown)} not in the accounts file.")
        mask &= accounts["account_id"].isin(wanted).to_numpy()
    if "where" in edit.values:
        mask &= _match(edit, accounts, "where", NUMERIC_ACCOUNT_COLUMNS)
    if "current_rep_where" in edit.values:
        reps = state.reps[_match(edit, state.reps, "current_rep_where", NUMERIC_REP_COLUMNS)]
        mask &= accounts["current_rep"].isin(set(reps["rep_id"])).to_numpy()
    if not mask.any():
        raise edit.error("the selection matches no account.", hint="check the ids and values.")
    return mask


def _select_reps(state: _State, edit: Edit) -> np.ndarray:
    reps = state.reps
    mask = np.ones(len(reps), dtype=bool)
    if "reps" in edit.values:
        wanted = _ids(edit.values["reps"])
        unknown = [r for r in wanted if r not in state.rep_ids()]
        if unknown:
            raise edit.error(f"rep(s) {_listed(unknown)} not on the roster.")
        mask &= reps["rep_id"].isin(wanted).to_numpy()
    if "reps_where" in edit.values:
        mask &= _match(edit, reps, "reps_where", NUMERIC_REP_COLUMNS)
    if not mask.any():
        raise edit.error("the selection matches no rep.", hint="check the ids and values.")
    return mask


def _add_rep(state: _State, edit: Edit) -> str:
    v = edit.values
    rep_id = v["rep_id"].strip()
    if rep_id in state.rep_ids():
        raise edit.error(f"rep '{rep_id}' is already on the roster.")
    row: dict[str, Any] = {c: "" for c in state.reps.columns}
    row.update(
        rep_id=rep_id,
        lat=float(v["lat"]),
        lon=float(v["lon"]),
        fte=float(v.get("fte", 1.0)),
        capacity=float(v.get("capacity", np.inf)),
    )
    row.update({k: v[k] for k in REP_TEXT if k in v})
    new = pd.DataFrame([row])
    for column in new.columns.difference(state.reps.columns):
        state.reps[column] = ""
    state.reps = pd.concat([state.reps, new[state.reps.columns]], ignore_index=True)
    state.has_capacity |= "capacity" in v
    return f"added rep {rep_id}"


def _remove_reps(state: _State, edit: Edit) -> str:
    gone = set(state.reps["rep_id"][_select_reps(state, edit)])
    if len(gone) == len(state.reps):
        raise edit.error("this would remove every rep.")
    locked = state.accounts["locked_rep"].isin(gone)
    if locked.any():
        ids = list(state.accounts["account_id"][locked])
        raise edit.error(
            f"{len(ids)} account(s) ({_listed(ids)}) are locked to a rep being removed.",
            hint="add an unlock edit before it, e.g. "
            f'{{type = "unlock", where = {{locked_rep = "{sorted(gone)[0]}"}}}}.',
        )
    state.reps = state.reps[~state.reps["rep_id"].isin(gone)].reset_index(drop=True)
    state.forbidden = [f[~f["rep_id"].isin(gone)] for f in state.forbidden]
    freed = int(state.accounts["current_rep"].isin(gone).sum())
    return f"removed {_listed(sorted(gone))}: {freed} accounts lose their rep (not moved)"


def _vacate_reps(state: _State, edit: Edit) -> str:
    vacant = set(state.reps["rep_id"][_select_reps(state, edit)])
    freed = state.accounts["current_rep"].isin(vacant)
    state.accounts.loc[freed, "current_rep"] = ""
    return (
        f"vacated {_listed(sorted(vacant))}: {int(freed.sum())} accounts have no incumbent "
        "(not counted as moved)"
    )


def _set_rep(state: _State, edit: Edit) -> str:
    mask = _select_reps(state, edit)
    changes = []
    for key, value in edit.values.items():
        if key in REP_SELECTOR:
            continue
        if key == "capacity":
            value = np.inf if value == "none" else float(value)
            state.has_capacity |= np.isfinite(value)
        elif key in NUMERIC_REP_COLUMNS:
            value = float(value)
        elif key not in state.reps.columns:
            state.reps[key] = ""
        state.reps.loc[mask, key] = value
        changes.append(f"{key} = {value}")
    ids = list(state.reps["rep_id"][mask])
    return f"set {', '.join(changes)} for {_listed(ids)}"


def _scale(state: _State, edit: Edit, has_workload: bool) -> str:
    mask = _select_accounts(state, edit)
    done = []
    for key in ("potential", "workload"):
        if key in edit.values:
            if key == "workload" and not has_workload:
                raise edit.error("the accounts have no workload column to scale.")
            state.accounts.loc[mask, key] = state.accounts.loc[mask, key] * edit.values[key]
            done.append(f"{key} × {edit.values[key]}")
    return f"scaled {', '.join(done)} for {int(mask.sum())} accounts"


def _clashes(pairs: pd.DataFrame, others: list[pd.DataFrame]) -> list[str]:
    """Accounts of ``pairs`` (account_id, rep_id) that also appear, with that rep, in ``others``."""
    if not others or len(pairs) == 0:
        return []
    both = pairs.merge(pd.concat(others), on=["account_id", "rep_id"])
    return list(dict.fromkeys(both["account_id"]))


def _lock(state: _State, edit: Edit) -> str:
    mask = _select_accounts(state, edit)
    accounts = state.accounts
    if edit.values.get("keep_current"):
        target = accounts.loc[mask, "current_rep"]
        lost = target.index[~target.isin(state.rep_ids())]
        if len(lost):
            ids = list(accounts.loc[lost, "account_id"])
            raise edit.error(
                f"{len(ids)} selected account(s) ({_listed(ids)}) have no current rep on the "
                "roster to be locked to.",
                hint="narrow the selection, or lock them to a named rep.",
            )
        rep_text = "their current rep"
    else:
        rep = edit.values["rep"].strip()
        if rep not in state.rep_ids():
            raise edit.error(f"rep '{rep}' is not on the roster.")
        target = pd.Series(rep, index=accounts.index[mask])
        rep_text = rep
    wanted = pd.DataFrame(
        {"account_id": accounts.loc[mask, "account_id"].to_numpy(), "rep_id": target.to_numpy()}
    )
    clash = _clashes(wanted, state.forbidden)
    if clash:
        raise edit.error(f"account(s) {_listed(clash)} would be locked to a forbidden rep.")
    accounts.loc[mask, "locked_rep"] = target.to_numpy()
    return f"locked {int(mask.sum())} accounts to {rep_text}"


def _unlock(state: _State, edit: Edit) -> str:
    mask = _select_accounts(state, edit) & (state.accounts["locked_rep"] != "").to_numpy()
    state.accounts.loc[mask, "locked_rep"] = ""
    return f"unlocked {int(mask.sum())} accounts"


def _forbid(state: _State, edit: Edit) -> str:
    accounts = state.accounts["account_id"][_select_accounts(state, edit)].to_numpy()
    reps = state.reps["rep_id"][_select_reps(state, edit)].to_numpy()
    pairs = pd.DataFrame(
        {"account_id": np.repeat(accounts, len(reps)), "rep_id": np.tile(reps, len(accounts))}
    )
    locks = state.accounts.loc[state.accounts["locked_rep"] != "", ["account_id", "locked_rep"]]
    clash = _clashes(pairs, [locks.rename(columns={"locked_rep": "rep_id"})])
    if clash:
        raise edit.error(
            f"account(s) {_listed(clash)} are locked to a rep they would be forbidden.",
            hint="unlock them first.",
        )
    state.forbidden.append(pairs)
    return f"forbade {len(accounts)} accounts × {len(reps)} reps ({len(pairs)} pairs)"


def apply_edits(
    inputs: AlignmentInputs, edits: tuple[Edit, ...] | list[Edit]
) -> tuple[AlignmentInputs, list[str]]:
    """The inputs with every edit applied in order, re-validated, and what each edit did.

    The original inputs are not changed. Warnings are recomputed for the edited roster
    (accounts of removed reps are reported like those of reps who left).
    """
    state = _State(inputs.accounts.copy(), inputs.reps.copy(), inputs.has_capacity)
    if inputs.forbidden is not None:
        state.forbidden.append(inputs.forbidden)
    handlers: dict[str, Callable[[_State, Edit], str]] = {
        "add_rep": _add_rep,
        "remove_reps": _remove_reps,
        "vacate_reps": _vacate_reps,
        "set_rep": _set_rep,
        "scale": lambda s, e: _scale(s, e, inputs.has_workload),
        "lock": _lock,
        "unlock": _unlock,
        "forbid": _forbid,
    }
    effects = [f"edit {e.number} of {e.source.name}: {handlers[e.type](state, e)}" for e in edits]
    if not edits:
        return inputs, effects
    return _rebuild(inputs, state, edits[-1].source), effects


def _rebuild(inputs: AlignmentInputs, state: _State, source: Path) -> AlignmentInputs:
    """New inputs from the edited frames, with the cross-table checks run again."""
    table = RawTable(state.accounts, str(source), first_row=1, row_word="account")
    problems, warnings = cross_check(state.accounts, state.reps, table, inputs.columns)
    if problems:  # the edits check their own ids; this is the last line of defence
        raise InputError(problems)
    forbidden = None
    if state.forbidden:
        forbidden = pd.concat(state.forbidden, ignore_index=True).drop_duplicates()
        forbidden = forbidden.sort_values(["account_id", "rep_id"]).reset_index(drop=True)
    edited = AlignmentInputs(
        accounts=state.accounts.reset_index(drop=True),
        reps=state.reps.reset_index(drop=True),
        has_workload=inputs.has_workload,
        has_current=inputs.has_current,
        has_capacity=state.has_capacity,
        files=dict(inputs.files),
        warnings=warnings,
        columns=inputs.columns,
        forbidden=forbidden,
    )
    locked = edited.locked
    on = np.flatnonzero(locked >= 0)
    keys = edited.forbidden_keys
    if len(keys) and np.any(is_forbidden(keys, on * edited.n_reps + locked[on])):
        raise InputError([Problem(str(source), "an account is locked to a forbidden rep.")])
    return edited
