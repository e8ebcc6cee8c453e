"""A second real engine: the example store's tables loaded into PostgreSQL, every indicator that
monitoring/indicators.yml declares (monthly and quarterly, every breakdown) and every part of
the needs-assessment profile computed there through Ibis's postgres backend, and every cell
compared with DuckDB's answer to the same expression.

The server is Debian's ``postgresql`` package started in a temporary data directory on a free
port on 127.0.0.1 (tests/postgres_server.py), once for the session. The test is skipped, with
the reason, where PostgreSQL cannot start; with ``EVALKIT_REQUIRE_POSTGRES=1`` (set by .ci/run
once it has installed the package) it fails instead, so CI cannot pass by skipping it.
"""

from __future__ import annotations

import math
import os

import pandas as pd
import pytest

import postgres_server
from monitor_fixtures import example_store  # noqa: F401  (a fixture)

REQUIRE_ENV = "EVALKIT_REQUIRE_POSTGRES"
REL_TOL = 1e-12  # sums and means may differ in the last bits (another summation order); counts must be equal


@pytest.fixture(scope="module")
def postgres():
    try:
        server = postgres_server.start()
    except postgres_server.Unavailable as exc:
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"PostgreSQL is required here ({REQUIRE_ENV}=1) but cannot start: {exc}")
        pytest.skip(f"PostgreSQL cannot start here: {exc}")
    try:
        yield server
    finally:
        server.stop()


def _plain(v):
    """A cell as a comparable Python value: None for NULL/NaN, ISO text for dates, float for numbers."""
    if v is None or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, pd.Timestamp) or hasattr(v, "isoformat"):
        return pd.Timestamp(v).isoformat()
    if isinstance(v, (bool,)) or type(v).__name__ == "bool_":
        return bool(v)
    if isinstance(v, (int, float)) or type(v).__module__ == "numpy":
        return float(v)
    return str(v)


def _rows(frame: pd.DataFrame) -> list[tuple]:
    columns = sorted(frame.columns)
    rows = [tuple(_plain(v) for v in r) for r in frame[columns].itertuples(index=False, name=None)]
    # order by the text and date columns, then numbers rounded far from their last bits
    return sorted(rows, key=lambda r: tuple((0, "") if v is None else (1, v) if isinstance(v, str) else
                                            (2, float(f"{v:.9g}")) if isinstance(v, float) else (3, v) for v in r))


def _differences(what: str, duck: pd.DataFrame, pg: pd.DataFrame) -> tuple[list[str], int, float]:
    """Every cell that differs, the number of cells compared and the largest relative difference."""
    if sorted(duck.columns) != sorted(pg.columns):
        return [f"{what}: columns {sorted(duck.columns)} on DuckDB, {sorted(pg.columns)} on PostgreSQL"], 0, 0.0
    a, b = _rows(duck), _rows(pg)
    if len(a) != len(b):
        return [f"{what}: {len(a)} rows on DuckDB, {len(b)} on PostgreSQL"], 0, 0.0
    columns = sorted(duck.columns)
    out, cells, worst = [], 0, 0.0
    for ra, rb in zip(a, b):
        for column, x, y in zip(columns, ra, rb):
            cells += 1
            if isinstance(x, float) and isinstance(y, float):
                rel = abs(x - y) / max(1.0, abs(x), abs(y))
                worst = max(worst, rel)
                if rel <= REL_TOL:
                    continue
            elif x == y:
                continue
            out.append(f"{what}: row {dict(zip(columns, ra))}: {column} is {x!r} on DuckDB, {y!r} on PostgreSQL")
    return out, cells, worst


def test_every_indicator_and_profile_cell_is_the_same_on_postgresql(example_store, postgres):
    from evalkit.monitor.indicators import expressions, plans
    from evalkit.monitor.measures import count_expression
    from evalkit.monitor.profile import health_profile_expressions, police_profile_expressions

    mon, project, store = example_store
    tables = [t for t in store.tables() if t.startswith("src_") or t == "offence_keys"]
    with postgres.connect() as pg:
        loaded = postgres_server.copy_tables(store.con, pg, tables)
    assert loaded["src_police"] > 100_000 and loaded["offence_keys"] > 0
    duck, remote = store.ibis(), postgres.ibis()

    problems, compared, cells, worst, left_out = [], [], 0, 0.0, []
    for plan in plans(mon, project):
        name = f"{plan.definition.intervention}.{plan.definition.indicator}"
        if plan.source.table not in loaded:
            left_out.append(name)  # a source the demo data do not fill (yet)
            continue
        for period_kind in ("month", "quarter"):
            expr = expressions(plan, mon, period_kind)
            got, n, rel = _differences(f"{name} ({period_kind})", duck.execute(expr), remote.execute(expr))
            problems += got
            cells += n
            worst = max(worst, rel)
            compared.append(f"{name} ({period_kind})")

    police = mon.sources.get(mon.settings.police_source)
    if mon.mapping is not None and police is not None and police.table in loaded:
        last = store.con.execute("SELECT max(period_end) FROM extracts WHERE source = ? AND status = 'active'",
                                 [police.id]).fetchall()[0][0]
        stop = (pd.Timestamp(last) + pd.DateOffset(months=1)).to_pydatetime()
        start = (pd.Timestamp(last) - pd.DateOffset(months=11)).to_pydatetime()
        previous = (pd.Timestamp(start) - pd.DateOffset(months=12)).to_pydatetime()
        parts = dict(police_profile_expressions(mon, start, stop, previous))
        health = {sid: (start, stop) for sid, src in mon.sources.items()
                  if src.kind in ("ambulance", "health") and src.table in loaded}
        for sid, exprs in health_profile_expressions(mon, health).items():
            parts.update({f"{sid}.{k}": v for k, v in exprs.items()})
        # the success measures: the Home Office offence lists (by code, else by description) and the variants
        for m in mon.measures.measures if mon.measures else ():
            if mon.sources[m.source].table in loaded:
                parts[f"measure.{m.id}"] = count_expression(m, mon)
        for part, expr in parts.items():
            got, n, rel = _differences(f"profile.{part}", duck.execute(expr), remote.execute(expr))
            problems += got
            cells += n
            worst = max(worst, rel)
            compared.append(f"profile.{part}")

    print(f"\nPostgreSQL parity: {len(compared)} results, {cells} cells compared, largest relative difference "
          f"{worst:.2g}; not in the demo data: {', '.join(left_out) or 'none'}")
    assert len([c for c in compared if not c.startswith("profile.")]) >= 2 * (len(plans(mon, project)) - len(left_out))
    assert cells > 10_000
    assert not problems, f"{len(problems)} cells differ:\n" + "\n".join(problems[:40])


def test_unavailable_reasons_are_clear(monkeypatch):
    # no binaries anywhere: the reason names the package to install
    monkeypatch.setenv(postgres_server.BIN_ENV, "/nonexistent")
    monkeypatch.setattr(postgres_server.glob, "glob", lambda pattern: [])
    monkeypatch.setattr(postgres_server.shutil, "which", lambda name: None)
    with pytest.raises(postgres_server.Unavailable, match="no PostgreSQL server binaries .* apt-get install postgresql"):
        postgres_server.start()
