"""Fuzzing the readers: any bytes in an accounts file load or fail with InputError, never crash."""

from __future__ import annotations

import string

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territory.errors import InputError
from territory.inputs import load_inputs

REPS = "rep_id,lat,lon\nr1,40.7,-74.0\nr2,34.0,-118.2\n"
HEADER = "account_id,lat,lon,potential,workload,current_rep,locked_rep,name\n"

cell = st.one_of(
    st.text(alphabet=string.printable.replace("\n", "").replace("\r", ""), max_size=12),
    st.sampled_from(["", "nan", "inf", "-1", "1e400", "12,500", "0x10", "ß", "r1", "r3", "=1+1"]),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**6), 10**6).map(str),
)
row = st.lists(cell, min_size=0, max_size=10).map(
    lambda cells: ",".join(c.replace(",", ";") if not c.startswith("12,") else c for c in cells)
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(row, min_size=0, max_size=6), st.booleans())
def test_any_table_loads_or_is_refused_with_located_problems(tmp_path, rows, with_header):
    accounts = tmp_path / "accounts.csv"
    accounts.write_text((HEADER if with_header else "") + "\n".join(rows) + "\n", encoding="utf-8")
    reps = tmp_path / "reps.csv"
    reps.write_text(REPS)
    try:
        inputs = load_inputs(accounts, reps)
    except InputError as error:
        assert error.problems
        assert all(str(p).startswith(("accounts.csv", "reps.csv")) for p in error.problems)
        return
    assert inputs.n_accounts >= 1
    assert inputs.accounts["account_id"].is_unique
    assert (inputs.potential >= 0).all()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.binary(min_size=0, max_size=300))
def test_any_bytes_load_or_are_refused(tmp_path, data):
    accounts = tmp_path / "accounts.csv"
    accounts.write_bytes(data)
    reps = tmp_path / "reps.csv"
    reps.write_text(REPS)
    try:
        load_inputs(accounts, reps)
    except InputError as error:
        assert error.problems
