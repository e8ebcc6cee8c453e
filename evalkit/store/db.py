"""Open the store, apply migrations, run work in one transaction.

The store is one DuckDB file (default ``<project>/.evalkit/evalkit.duckdb``; set ``store:`` in
``monitoring/monitor.yml`` or the ``EVALKIT_STORE`` environment variable to move it). Its
schema carries a version number; :data:`MIGRATIONS` lists the steps from each version to the
next, and opening a store applies the missing ones in one transaction each. A store written
by a newer evalkit is refused rather than guessed at.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from evalkit.errors import DataError, ProjectError

DEFAULT_STORE = Path(".evalkit") / "evalkit.duckdb"
STORE_ENV = "EVALKIT_STORE"

# version -> the SQL that brings a store from version-1 to version. Never edit a released step:
# add a new one.
MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL);
    CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
    CREATE SEQUENCE extract_ids START 1;
    -- one row per file ingested; replaced extracts stay here with status 'replaced'
    CREATE TABLE extracts (
        extract_id INTEGER PRIMARY KEY,
        source VARCHAR NOT NULL,
        file_name VARCHAR NOT NULL,
        sha256 VARCHAR NOT NULL,
        rows BIGINT NOT NULL,
        period_start DATE NOT NULL,
        period_end DATE NOT NULL,
        periods INTEGER NOT NULL,
        declaration_sha256 VARCHAR NOT NULL,
        ingested_at TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,               -- active | replaced
        replaced_by INTEGER
    );
    CREATE TABLE replacements (
        old_extract_id INTEGER NOT NULL,
        new_extract_id INTEGER NOT NULL,
        source VARCHAR NOT NULL,
        old_sha256 VARCHAR NOT NULL,
        new_sha256 VARCHAR NOT NULL,
        old_rows BIGINT NOT NULL,
        new_rows BIGINT NOT NULL,
        replaced_at TIMESTAMP NOT NULL
    );
    -- the offence-type mapping of the serious violence definition, one row per type and version
    CREATE TABLE sv_mapping (
        version VARCHAR NOT NULL,
        offence_type VARCHAR NOT NULL,
        category VARCHAR,                      -- NULL: recorded as not serious violence
        serious_violence BOOLEAN NOT NULL
    );
    -- computed indicator values: a cache of the last `monitor` computation, rebuilt whole
    CREATE TABLE indicator_values (
        intervention VARCHAR NOT NULL,
        indicator VARCHAR NOT NULL,
        period_kind VARCHAR NOT NULL,          -- month | quarter
        period DATE NOT NULL,
        breakdown VARCHAR NOT NULL,            -- all | area | age_band | sex
        "group" VARCHAR NOT NULL,
        measure VARCHAR NOT NULL,              -- count | proportion | mean
        value DOUBLE,
        numerator DOUBLE,
        denominator DOUBLE,
        population DOUBLE,
        rate DOUBLE,
        rate_per INTEGER,
        target DOUBLE,
        amber DOUBLE,
        rag VARCHAR,
        definitions_sha256 VARCHAR NOT NULL
    );
    CREATE TABLE evaluation_runs (
        run_id INTEGER PRIMARY KEY,
        evaluation VARCHAR NOT NULL,
        intervention VARCHAR NOT NULL,
        design VARCHAR NOT NULL,
        results_sha256 VARCHAR NOT NULL,
        results_json VARCHAR NOT NULL,
        stored_at TIMESTAMP NOT NULL
    );
    CREATE TABLE evaluation_results (
        run_id INTEGER NOT NULL,
        indicator VARCHAR NOT NULL,
        subgroup VARCHAR,
        estimand VARCHAR NOT NULL,
        comparison VARCHAR,
        n BIGINT,
        estimate DOUBLE,
        std_error DOUBLE,
        ci_low DOUBLE,
        ci_high DOUBLE,
        p_value DOUBLE,
        "primary" BOOLEAN
    );
    """,
    2: """
    -- the offence lists (local serious violence definition, the offences it leaves out, the
    -- success measures' Home Office lists) as normalised codes and descriptions, per version
    DROP TABLE sv_mapping;
    CREATE TABLE offence_keys (
        version VARCHAR NOT NULL,              -- the definition or measures file version
        list VARCHAR NOT NULL,                 -- local | not_serious_violence | measure:<id>
        key_kind VARCHAR NOT NULL,             -- code | description
        key VARCHAR NOT NULL,
        category VARCHAR,                      -- local definition: the category id
        offence VARCHAR NOT NULL               -- the offence's name in the list
    );
    ALTER TABLE indicator_values ADD COLUMN sv_definition VARCHAR;
    -- the success measures per month and area ('all' = the whole partnership area), a cache of
    -- the last computation, rebuilt whole; the dashboard and the strategy's time series read it
    CREATE TABLE success_measures (
        measure VARCHAR NOT NULL,
        variant VARCHAR NOT NULL,              -- all | under_25 | non_domestic
        area VARCHAR NOT NULL,
        period DATE NOT NULL,                  -- first day of the month
        count BIGINT NOT NULL,
        population DOUBLE,
        rate DOUBLE,
        rate_per INTEGER NOT NULL,
        source VARCHAR NOT NULL,
        measures_version VARCHAR NOT NULL,
        sv_definition VARCHAR
    );
    """,
}
SCHEMA_VERSION = max(MIGRATIONS)


def store_path(project_root: Path, configured: str | None = None) -> Path:
    """Where the project's store lives: $EVALKIT_STORE, else ``store:`` in monitor.yml, else the default."""
    chosen = os.environ.get(STORE_ENV) or configured
    if not chosen:
        return project_root / DEFAULT_STORE
    path = Path(chosen).expanduser()
    return path if path.is_absolute() else project_root / path


class Store:
    """An open store: a DuckDB connection at the current schema version."""

    def __init__(self, path: Path, con):
        self.path = path
        self.con = con

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All of the block or none of it: an error (or a killed process) leaves the store as it was."""
        return _transaction(self.con)

    @property
    def version(self) -> int:
        return _version(self.con)

    def tables(self) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]

    def has_table(self, name: str) -> bool:
        return name in self.tables()

    def meta(self, key: str) -> str | None:
        row = self.con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def ibis(self):
        """An Ibis backend on this connection (the monitor's indicator expressions run on it)."""
        import ibis

        return ibis.duckdb.from_connection(self.con)


@contextlib.contextmanager
def _transaction(con) -> Iterator[None]:
    con.execute("BEGIN TRANSACTION")
    try:
        yield
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def _version(con) -> int:
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
                         ).fetchone()[0]
    if not exists:
        return 0
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return int(row[0] or 0)


def migrate(con, path: Path) -> list[int]:
    """Apply every missing migration, each in its own transaction; return the versions applied."""
    current = _version(con)
    if current > SCHEMA_VERSION:
        raise DataError(f"{path}: store schema version {current} is newer than this evalkit understands "
                        f"(expected at most {SCHEMA_VERSION}); upgrade evalkit")
    applied = []
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with _transaction(con):
            con.execute(MIGRATIONS[version])
            con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
        applied.append(version)
    return applied


def open_store(path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> Store:
    """Open the store at ``path`` (created and migrated if needed)."""
    import duckdb

    path = Path(path)
    if read_only and not path.exists():
        raise ProjectError(f"{path}: no store yet; expected one made by `evalkit monitor ingest`")
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": memory_limit} if memory_limit else {}
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.IOException as exc:
        raise DataError(f"{path}: cannot open the store ({exc}); expected a DuckDB file not in use by "
                        "another evalkit process") from None
    if not read_only:
        try:
            migrate(con, path)
        except BaseException:
            con.close()
            raise
    elif (found := _version(con)) != SCHEMA_VERSION:
        con.close()
        raise DataError(f"{path}: store schema version {found}, expected {SCHEMA_VERSION}; "
                        "open it once for writing to migrate it")
    return Store(path, con)
