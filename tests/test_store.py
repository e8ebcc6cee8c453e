"""The store: schema versions and migrations, evaluation runs."""

from __future__ import annotations

import duckdb
import pytest

from evalkit.errors import DataError
from evalkit.store import SCHEMA_VERSION, open_store, store_path
from evalkit.store.db import DEFAULT_STORE, MIGRATIONS, STORE_ENV


def test_new_store_is_at_the_current_version(tmp_path):
    with open_store(tmp_path / "s.duckdb") as store:
        assert store.version == SCHEMA_VERSION == max(MIGRATIONS)
        assert {"extracts", "replacements", "indicator_values", "evaluation_runs", "offence_keys", "success_measures"} <= set(store.tables())
    # opening again applies nothing twice
    with open_store(tmp_path / "s.duckdb") as store:
        rows = store.con.execute("SELECT version FROM schema_version").fetchall()
        assert rows == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_store_from_a_newer_evalkit_is_refused(tmp_path):
    path = tmp_path / "s.duckdb"
    open_store(path).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [SCHEMA_VERSION + 1])
    con.close()
    with pytest.raises(DataError, match=rf"schema version {SCHEMA_VERSION + 1} is newer.*expected at most {SCHEMA_VERSION}"):
        open_store(path)


def test_store_path_default_config_and_env(tmp_path, monkeypatch):
    monkeypatch.delenv(STORE_ENV, raising=False)
    assert store_path(tmp_path) == tmp_path / DEFAULT_STORE
    assert store_path(tmp_path, "data/x.duckdb") == tmp_path / "data/x.duckdb"
    monkeypatch.setenv(STORE_ENV, str(tmp_path / "elsewhere.duckdb"))
    assert store_path(tmp_path, "data/x.duckdb") == tmp_path / "elsewhere.duckdb"


def test_read_only_store_must_exist(tmp_path):
    from evalkit.errors import ProjectError

    with pytest.raises(ProjectError, match="no store yet"):
        open_store(tmp_path / "none.duckdb", read_only=True)


def test_evaluation_results_are_stored_once(tmp_path):
    from evalkit.results import Estimate, Manifest, ResultSet
    from evalkit.store.results import save_results
    import dataclasses

    fields = {f.name for f in dataclasses.fields(Estimate)}
    base = dict(indicator="knife_sv", design="interrupted_time_series", estimand="level_change", timepoints=("pre", "post"),
                n=100, estimate=0.9, std_error=0.05, ci_low=0.8, ci_high=1.0, p_value=0.04, method="test",
                units="rate ratio", direction_good="decrease", effect_size=None, primary=True, subgroup=None,
                comparison=None, ci_level=0.95, p_value_holm=None, n_treated=None, n_comparison=None, details={})
    estimate = Estimate(**{k: v for k, v in base.items() if k in fields})
    manifest = Manifest(evalkit_version="0.1.0", python_version="3.11", dependencies={}, seed=1, inputs=(), options={})
    result = ResultSet(evaluation="strategy-its", intervention="strategy", title="t", design="interrupted_time_series",
                       estimates=(estimate,), flow=(), warnings=(), sections={}, manifest=manifest)
    with open_store(tmp_path / "s.duckdb") as store:
        first = save_results(store, result)
        assert save_results(store, result) == first
        rows = store.con.execute("SELECT indicator, estimand, estimate FROM evaluation_results").fetchall()
        assert rows == [("knife_sv", "level_change", 0.9)]


def test_an_older_store_is_migrated_in_place(tmp_path, monkeypatch):
    import evalkit.store.db as db

    path = tmp_path / "s.duckdb"
    with open_store(path) as store:
        store.con.execute("INSERT INTO meta VALUES ('kept', 'yes')")
    monkeypatch.setitem(db.MIGRATIONS, SCHEMA_VERSION + 1, "ALTER TABLE extracts ADD COLUMN note VARCHAR;")
    monkeypatch.setattr(db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with db.open_store(path) as store:
        assert store.version == SCHEMA_VERSION + 1
        assert "note" in [r[0] for r in store.con.execute("DESCRIBE extracts").fetchall()]
        assert store.meta("kept") == "yes"


def test_a_failing_migration_changes_nothing(tmp_path, monkeypatch):
    import evalkit.store.db as db

    path = tmp_path / "s.duckdb"
    open_store(path).close()
    monkeypatch.setitem(db.MIGRATIONS, SCHEMA_VERSION + 1,
                        "ALTER TABLE extracts ADD COLUMN note VARCHAR; SELECT * FROM no_such_table;")
    monkeypatch.setattr(db, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(duckdb.Error):
        db.open_store(path)
    monkeypatch.setattr(db, "SCHEMA_VERSION", SCHEMA_VERSION)
    with open_store(path) as store:
        assert store.version == SCHEMA_VERSION
        assert "note" not in [r[0] for r in store.con.execute("DESCRIBE extracts").fetchall()]
