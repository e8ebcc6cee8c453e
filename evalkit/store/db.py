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
MIGRATIONS: dict = {
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
    3: """
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


def _drop_repeated_rows(con) -> None:
    """Version 2: remove the rows evalkit < 2 stored more than once.

    With exactly one pseudonymised column, each row of a person seen k times in an extract was
    stored k times (the join to the pseudonym table repeated it). Those copies are identical,
    line number included; a row's (extract, line) is unique in a correct store, so one of each is
    kept. Extract row counts were recorded from the file and were right all along.
    """
    tables = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
                                        "AND table_name LIKE 'src\\_%' ESCAPE '\\' ORDER BY 1").fetchall()]
    for table in tables:
        q = '"' + table.replace('"', '""') + '"'
        columns = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                             "AND table_schema = 'main'", [table]).fetchall()]
        if not {"_extract_id", "_line"} <= set(columns):
            continue
        repeated = con.execute(f"SELECT count(*) - count(DISTINCT (_extract_id, _line)) FROM {q}").fetchone()[0]
        if repeated:
            con.execute(f"CREATE TEMP TABLE _once AS SELECT DISTINCT ON (_extract_id, _line) * FROM {q} "
                        "ORDER BY _extract_id, _line")
            con.execute(f"DELETE FROM {q}")
            con.execute(f"INSERT INTO {q} SELECT * FROM _once")
            con.execute("DROP TABLE _once")


# a step is SQL, or a function of the connection for steps that depend on the tables a store holds
MIGRATIONS[2] = _drop_repeated_rows
MIGRATIONS[4] = """
    -- the needs-assessment profile the dashboard publishes (the last loaded months), a cache of the
    -- last computation, rebuilt whole: one row per source, part, group and statistic, unsuppressed
    -- (disclosure control applies when it is published, as for every store table)
    CREATE TABLE needs_profile (
        source VARCHAR NOT NULL,               -- the police source, or a health or ambulance source
        window_from VARCHAR NOT NULL,          -- first month, YYYY-MM
        window_to VARCHAR NOT NULL,            -- last month, YYYY-MM
        part VARCHAR NOT NULL,                 -- summary | by_hour | by_category | victim_ages | ...
        position INTEGER NOT NULL,             -- the group's place in its part (the published order)
        item VARCHAR NOT NULL,                 -- the group ('21', 'Tuesday', 'Leicester', 'not recorded'), or
                                               -- the summary's key
        statistic VARCHAR NOT NULL,            -- n | n_previous | people | population | rate_per_100000 | value
        value DOUBLE,                          -- NULL where it cannot be computed, or for text
        text VARCHAR,                          -- a summary's text value (peak day, definition version)
        sv_definition VARCHAR                  -- the serious violence definition version (police rows)
    );
"""
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

    def __init__(self, path: Path, con, read_only: bool = False):
        self.path = path
        self.con = con
        self.read_only = read_only  # status and indicators read; they never write

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def transaction(self) -> contextlib.AbstractContextManager[None]:
        """All of the block or none of it: an error (or a killed process) leaves the store as it was."""
        return _transaction(self.con)

    def replace_rows(self, table: str, frame) -> None:
        """Replace every row of a cache table (``success_measures``, ``needs_profile``) with ``frame``'s,
        matched by column name, in one transaction."""
        with self.transaction():
            self.con.execute(f"DELETE FROM {table}")
            if len(frame):
                self.con.register("_replacement", frame)
                self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _replacement")
                self.con.unregister("_replacement")

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
        con.execute("COMMIT")
    except BaseException:
        # a COMMIT that failed (a full disk) may already have ended the transaction: the first
        # error is the one to report, and DuckDB never makes a failed transaction durable
        try:
            con.execute("ROLLBACK")
        except Exception:  # noqa: BLE001
            pass
        raise


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
            step = MIGRATIONS[version]
            step(con) if callable(step) else con.execute(step)
            con.execute("INSERT INTO schema_version VALUES (?, now()::TIMESTAMP)", [version])
        applied.append(version)
    return applied


def _owner_only(path: Path, mode: int) -> None:
    import os

    try:
        os.chmod(path, mode)
    except OSError:  # a file system without modes, or not ours: the data is no less safe than before
        pass


def open_store(path: Path | str, *, read_only: bool = False, memory_limit: str | None = None) -> Store:
    """Open the store at ``path`` (created and migrated if needed)."""
    import duckdb

    path = Path(path)
    if read_only and not path.exists():
        raise ProjectError(f"{path}: no store yet; expected one made by `evalkit monitor ingest`")
    if path.exists() and not path.is_file():
        raise DataError(f"{path}: the store is not a regular file; expected the DuckDB file evalkit made "
                        "(or set EVALKIT_STORE / store: in monitor.yml to another place)")
    if not read_only:
        new_folder = not path.parent.exists()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if new_folder or path.parent.name == ".evalkit":
            _owner_only(path.parent, 0o700)  # the store holds person-level rows: owner-only, like the key
    config = {"memory_limit": memory_limit} if memory_limit else {}
    try:
        con = duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.Error as exc:
        raise DataError(f"{path}: {_open_problem(exc)}") from None
    try:
        if not read_only:
            _owner_only(path, 0o600)
        try:
            found = _version(con)  # the first read: a damaged file fails here if not at connect
            # every row of the two small bookkeeping tables: an aggregate can come from block
            # statistics alone, so a truncated file may answer it and fail only later, or never
            for table in ("schema_version", "meta") if found else ():  # (a new, empty file has neither)
                con.execute(f"SELECT * FROM {table}").fetchall()
        except duckdb.Error as exc:
            raise DataError(f"{path}: {_open_problem(exc)}") from None
        if not read_only:
            migrate(con, path)  # its own errors (a full disk...) are the CLI's one-line faults
        elif found != SCHEMA_VERSION:
            raise DataError(f"{path}: store schema version {found}, expected {SCHEMA_VERSION}; "
                            "open it once for writing to migrate it")
    except BaseException:
        con.close()
        raise
    return Store(path, con, read_only=read_only)


def _open_problem(exc: Exception) -> str:
    """Why the store cannot be opened, in one line with what to do (never the engine's whole message)."""
    text = str(exc).lower()
    if "lock" in text:
        return ("the store is in use by another evalkit process (an ingest, or a dashboard being written); "
                "nothing was changed. Try again when it has finished")
    if "not a valid duckdb database" in text or "could not read enough bytes" in text or "corrupt" in text \
            or "checksum" in text or "serializ" in text:
        return ("the store file is damaged (not a readable DuckDB database); nothing was changed. Restore it "
                "from a backup, or move it away to start a new store and ingest the extracts again")
    if "read-only" in text or "read only" in text or "permission" in text:
        return ("the store cannot be opened for writing (read-only folder or file); nothing was changed. Run "
                "from a writable copy, or set EVALKIT_STORE to a writable place")
    if "no space" in text:
        return "the disk is full; nothing was changed. Free some space and run again"
    return f"cannot open the store ({type(exc).__name__}); expected a DuckDB file made by evalkit"
