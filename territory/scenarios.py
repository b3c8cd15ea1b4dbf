"""Scenario files: one alignment run described in TOML (inputs, columns, parameters, edits).

A what-if names a base scenario and overrides a few keys, so it can be three lines::

    base = "baseline.toml"
    [parameters]
    tolerance = 0.02

Rules (see the README, "Scenarios and sweeps"):

- ``base`` is inherited recursively; a cycle is an error. ``[inputs]``, ``[columns.*]`` and
  ``[parameters]`` are merged key by key (the file that names the base wins); ``edits`` are the
  base's followed by this file's; ``name``, ``description`` and ``out`` are never inherited.
- A path resolves relative to the scenario file that names it.
- Parameters take the ``AlignParams`` names (``max_moved`` or ``max-moved``, as on the command
  line); ``"none"`` stands for "no value" where the command line allows leaving one out, and
  ``no_workload_band = true`` is the flag.
- Unknown keys and ill-typed values are errors naming the file and the key (exit 2).
"""

from __future__ import annotations

import difflib
import hashlib
import tomllib
import typing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import tomli_w

from territory.align import Plan, Progress, align
from territory.columns import ACCOUNT_FIELDS, REP_FIELDS, ColumnMap
from territory.edits import EDIT_SCHEMAS, Edit, apply_edits, check_edit
from territory.errors import InputError, Problem, TerritoryError
from territory.inputs import AlignmentInputs, load_inputs, load_travel_times
from territory.params import AlignParams
from territory.runs import save_run

TOP_KEYS = ("base", "name", "description", "out", "inputs", "columns", "parameters", "edits")
INPUT_KEYS = ("accounts", "reps", "travel_times")
NONE = "none"


@dataclass(frozen=True)
class Scenario:
    """A scenario with its bases folded in and every path resolved (absolute)."""

    path: Path
    name: str
    description: str
    accounts: Path
    reps: Path
    travel_times: Path | None
    columns: ColumnMap
    params: AlignParams
    out: Path | None
    edits: tuple[Edit, ...]
    files: tuple[Path, ...]  # the inheritance chain, the root base first

    def default_out(self) -> Path:
        """``out`` when the file names one, else a directory named after it beside it."""
        return self.out if self.out is not None else self.path.parent / self.path.stem

    def options(self) -> dict[str, Any]:
        """The alignment options, as the command line's ``run_align`` takes them."""
        return {**self.params.as_dict(), "travel_times": self.travel_times}

    def record(self, effects: list[str] | None = None) -> dict[str, Any]:
        """The ``scenario`` entry of ``run.json``: where it came from and what it changed."""
        return {
            "name": self.name,
            "description": self.description,
            "files": [{"path": str(p), "sha256": _sha256(p)} for p in self.files],
            "edits": [edit.record() for edit in self.edits],
            "effects": effects if effects is not None else [],
        }

    def to_toml(self) -> str:
        """The resolved scenario as a TOML file that ``territory run`` accepts as it is."""
        document: dict[str, Any] = {"name": self.name}
        if self.description:
            document["description"] = self.description
        inputs = {"accounts": str(self.accounts), "reps": str(self.reps)}
        if self.travel_times is not None:
            inputs["travel_times"] = str(self.travel_times)
        document["inputs"] = inputs
        columns = {k: v for k, v in self.columns.as_dict().items() if v}
        if columns:
            document["columns"] = columns
        document["parameters"] = {
            k: NONE if v is None else v for k, v in self.params.as_dict().items()
        }
        if self.edits:
            document["edits"] = [{"type": e.type, **e.values} for e in self.edits]
        chain = ", ".join(str(p) for p in self.files)
        header = (
            f"# The resolved scenario '{self.name}' (from {chain}).\n"
            "# Rerun it with: territory run scenario.toml --out NEW_DIR\n"
        )
        return header + tomli_w.dumps(document)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _problem(source: Path, message: str, hint: str | None = None) -> InputError:
    return InputError([Problem(str(source), message, hint=hint)])


def _unknown(source: Path, key: str, where: str, known: tuple[str, ...] | list[str]) -> None:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    hint = f"did you mean '{close[0]}'?" if close else f"known keys: {', '.join(known)}."
    raise _problem(source, f"unknown key '{key}' {where}.", hint=hint)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise _problem(path, "scenario file not found.", hint="check the path.")
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise _problem(path, f"is not valid TOML ({exc}).") from None
    except UnicodeDecodeError:
        raise _problem(path, "is not UTF-8 text.", hint="save the scenario as UTF-8.") from None
    for key in document:
        if key not in TOP_KEYS:
            _unknown(path, key, "at the top level", TOP_KEYS)
    return document


def _chain(path: Path) -> list[tuple[Path, dict[str, Any]]]:
    """The scenario and its bases, the root base first; a cycle is an error."""
    chain: list[tuple[Path, dict[str, Any]]] = []
    seen: list[Path] = []
    current: Path | None = path
    while current is not None:
        resolved = current.resolve()
        if resolved in seen:
            loop = " -> ".join(p.name for p in [*seen, resolved])
            raise _problem(
                chain[-1][0],
                f"base '{chain[-1][1]['base']}' leads back to a scenario already read: "
                f"a cycle ({loop}).",
                hint="remove the base that closes the loop.",
            )
        seen.append(resolved)
        document = _read(current)
        chain.append((current, document))
        base = document.get("base")
        if base is not None and not isinstance(base, str):
            raise _problem(current, "key 'base' must be a file name (text).")
        current = current.parent / base if base else None
    chain.reverse()
    return chain


def _text(source: Path, key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise _problem(source, f"key '{key}' must be text, got {value!r}.")
    return value


def _table(source: Path, key: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _problem(source, f"'{key}' must be a table ([{key}]).")
    return value


def _param_kinds() -> dict[str, Any]:
    return typing.get_type_hints(AlignParams)


def _check_param(source: Path, key: str, value: Any, kind: Any) -> Any:
    """One parameter value of the right type (``"none"`` → None where None is allowed)."""
    args = typing.get_args(kind)
    optional = type(None) in args
    if optional:
        kind = next(a for a in args if a is not type(None))
    if optional and value == NONE:
        return None
    where = f"parameters.{key}"
    if typing.get_origin(kind) is typing.Literal:
        choices = typing.get_args(kind)
        if value not in choices:
            raise _problem(source, f"{where} must be one of {', '.join(choices)}; got {value!r}.")
        return value
    ok = {
        float: isinstance(value, int | float) and not isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        expected = {float: "a number", int: "a whole number", str: "text"}[kind]
        extra = f' or "{NONE}"' if optional else ""
        raise _problem(source, f"{where} must be {expected}{extra}; got {value!r}.")
    try:  # each value on its own, so that a bad one is blamed on the file that set it
        AlignParams(**{key: value})
    except TerritoryError as exc:
        raise _problem(source, f"{where}: {exc}") from None
    return float(value) if kind is float else value


def _parameters(source: Path, table: dict[str, Any], merged: dict[str, Any]) -> None:
    kinds = _param_kinds()
    known = [*kinds, "no_workload_band"]
    seen: dict[str, str] = {}
    for raw_key, value in table.items():
        key = raw_key.replace("-", "_")
        if key in seen:
            raise _problem(source, f"parameters '{seen[key]}' and '{raw_key}' set the same value.")
        seen[key] = raw_key
        if key == "no_workload_band":
            if not isinstance(value, bool):
                raise _problem(source, "parameters.no_workload_band must be true or false.")
            if value:
                merged["workload_tolerance"] = None
            continue
        if key not in kinds:
            _unknown(source, raw_key, "in [parameters]", known)
        merged[key] = _check_param(source, key, value, kinds[key])


def _columns(source: Path, table: dict[str, Any], merged: dict[str, dict[str, str]]) -> None:
    allowed = {"accounts": ACCOUNT_FIELDS, "reps": REP_FIELDS}
    for role, remaps in table.items():
        if role not in allowed:
            _unknown(source, role, "in [columns]", tuple(allowed))
        for fld, column in _table(source, f"columns.{role}", remaps).items():
            if fld not in allowed[role]:
                _unknown(source, fld, f"in [columns.{role}]", allowed[role])
            merged[role][fld] = _text(source, f"columns.{role}.{fld}", column)


def _inputs(source: Path, table: dict[str, Any], merged: dict[str, Path | None]) -> None:
    for key, value in table.items():
        if key not in INPUT_KEYS:
            _unknown(source, key, "in [inputs]", INPUT_KEYS)
        text = _text(source, f"inputs.{key}", value)
        if key == "travel_times" and text == NONE:
            merged[key] = None
        else:
            merged[key] = (source.parent / text).resolve()


def _edits(source: Path, value: Any) -> list[Edit]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise _problem(source, "'edits' must be an array of tables ([[edits]]).")
    out: list[Edit] = []
    for number, table in enumerate(value, start=1):
        kind = table.get("type")
        if kind not in EDIT_SCHEMAS:
            raise InputError(
                [
                    Problem(
                        str(source),
                        f"key 'type' must be one of {', '.join(EDIT_SCHEMAS)}; got {kind!r}.",
                        row=number,
                        row_word="edit",
                    )
                ]
            )
        edit = Edit(kind, {k: v for k, v in table.items() if k != "type"}, source, number)
        check_edit(edit)
        out.append(edit)
    return out


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file and its bases; raises :class:`InputError` naming file and key."""
    path = Path(path)
    chain = _chain(path)
    inputs: dict[str, Path | None] = {}
    columns: dict[str, dict[str, str]] = {"accounts": {}, "reps": {}}
    params: dict[str, Any] = {}
    edits: list[Edit] = []
    for source, document in chain:
        for key in ("name", "description", "out"):
            if key in document:
                _text(source, key, document[key])
        _inputs(source, _table(source, "inputs", document.get("inputs", {})), inputs)
        _columns(source, _table(source, "columns", document.get("columns", {})), columns)
        _parameters(source, _table(source, "parameters", document.get("parameters", {})), params)
        edits += _edits(source, document.get("edits", []))
    leaf = chain[-1][1]
    for key in ("accounts", "reps"):
        if inputs.get(key) is None:
            raise _problem(
                path,
                f"no {key} file: set [inputs] {key} here or in a base scenario.",
                hint=f'add [inputs] {key} = "PATH" (relative to the scenario file).',
            )
    try:
        resolved = replace(AlignParams(), **params)
    except TerritoryError as exc:  # a check across parameters, blamed on the scenario named
        raise _problem(path, f"parameters: {exc}") from None
    out = leaf.get("out")
    accounts, reps = inputs["accounts"], inputs["reps"]
    assert accounts is not None and reps is not None  # checked above
    return Scenario(
        path=path.resolve(),
        name=leaf.get("name", path.stem),
        description=leaf.get("description", ""),
        accounts=accounts,
        reps=reps,
        travel_times=inputs.get("travel_times"),
        columns=ColumnMap(accounts=columns["accounts"], reps=columns["reps"]),
        params=resolved,
        out=(path.parent / out).resolve() if out else None,
        edits=tuple(edits),
        files=tuple(source.resolve() for source, _ in chain),
    )


def scenario_inputs(scenario: Scenario) -> tuple[AlignmentInputs, list[str]]:
    """The scenario's inputs, loaded, validated and edited, and what each edit did."""
    inputs = load_inputs(scenario.accounts, scenario.reps, scenario.columns)
    return apply_edits(inputs, scenario.edits)


def run_scenario(
    scenario: Scenario,
    out_dir: str | Path | None = None,
    *,
    draw_map: bool = True,
    progress: Progress | None = None,
) -> Plan:
    """Load, edit, optimise and write one scenario's run directory (the resolved scenario is
    recorded as ``scenario.toml`` and in ``run.json``); returns the plan."""
    inputs, effects = scenario_inputs(scenario)
    travel = None
    if scenario.travel_times is not None:
        travel = load_travel_times(inputs, scenario.travel_times)
    plan = align(inputs, scenario.params, travel_times=travel, progress=progress)
    save_run(
        plan,
        Path(out_dir) if out_dir is not None else scenario.default_out(),
        draw_map=draw_map,
        command="run",
        extra={"scenario": scenario.record(effects)},
        files={"scenario.toml": scenario.to_toml()},
    )
    return plan
