"""A throw-away PostgreSQL server for tests: Debian's binaries, a temporary data directory, a free
port on 127.0.0.1, torn down afterwards.

``start()`` returns a :class:`Server` or raises :class:`Unavailable` with the reason it cannot
run here (no PostgreSQL binaries, no psycopg, no user to run the server as, the server did not
start); the tests turn that into a skip with that reason. As root (CI), the server runs as the
``postgres`` user Debian's package creates, because ``initdb`` refuses to run as root.
``copy_tables`` loads tables from a DuckDB connection with ``COPY ... FROM STDIN``.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

BIN_ENV = "EVALKIT_PG_BIN"  # a folder holding initdb and pg_ctl, when not in Debian's place
DATABASE = "evalkit"
USER = "evalkit"


class Unavailable(Exception):
    """PostgreSQL cannot be started here; the message says why."""


@dataclass
class Server:
    bindir: Path
    root: Path
    port: int
    run_as: str | None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def connect(self):
        import psycopg

        return psycopg.connect(host=self.host, port=self.port, user=USER, dbname=DATABASE, autocommit=True)

    def ibis(self):
        import ibis

        return ibis.postgres.connect(host=self.host, port=self.port, user=USER, database=DATABASE)

    def stop(self) -> None:
        _run(self, [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "immediate", "-w", "stop"],
             check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def find_bindir() -> Path | None:
    """initdb and pg_ctl: $EVALKIT_PG_BIN, else the newest /usr/lib/postgresql/<version>/bin, else PATH."""
    candidates = [os.environ[BIN_ENV]] if os.environ.get(BIN_ENV) else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                         if Path(p).parent.name.isdigit() else 0, reverse=True)
    if shutil.which("initdb"):
        candidates.append(str(Path(shutil.which("initdb")).parent))
    for c in candidates:
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(server_or_user, args: list[str], check: bool = True) -> subprocess.CompletedProcess:
    user = server_or_user.run_as if isinstance(server_or_user, Server) else server_or_user
    done = subprocess.run(args, capture_output=True, text=True, user=user, timeout=120, cwd="/")
    if check and done.returncode != 0:
        raise Unavailable(f"{Path(args[0]).name} failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    return done


def start() -> Server:
    try:
        import psycopg  # noqa: F401
        import ibis.backends.postgres  # noqa: F401
    except ImportError as exc:
        raise Unavailable(f"the PostgreSQL client is not installed ({exc}); pip install 'ibis-framework[postgres]' "
                          "'psycopg[binary]'") from None
    bindir = find_bindir()
    if bindir is None:
        raise Unavailable(f"no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/*/bin, ${BIN_ENV} "
                          "or PATH; apt-get install postgresql")
    run_as = None
    if os.geteuid() == 0:
        try:
            run_as = pwd.getpwnam("postgres").pw_name
        except KeyError:
            raise Unavailable("running as root and there is no 'postgres' user to run the server as "
                              "(initdb refuses root); apt-get install postgresql creates one") from None
    root = Path(tempfile.mkdtemp(prefix="evalkit-pg-"))
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    server = Server(bindir, root, port, run_as)
    try:
        _run(server, [str(bindir / "initdb"), "-D", str(root / "data"), "-U", USER, "--auth=trust", "-E", "UTF8",
                      "--locale=C", "--no-sync"])
        options = (f"-p {port} -c listen_addresses=127.0.0.1 -k {root} -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=20 -c shared_buffers=32MB")
        _run(server, [str(bindir / "pg_ctl"), "-D", str(root / "data"), "-o", options, "-l", str(root / "server.log"),
                      "-w", "-t", "60", "start"])
        _run(server, [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", USER, DATABASE])
    except (Unavailable, OSError, subprocess.TimeoutExpired) as exc:
        log = (root / "server.log").read_text(errors="replace").strip().splitlines()[-3:] \
            if (root / "server.log").exists() else []
        server.stop()
        raise Unavailable(f"PostgreSQL did not start: {exc} {' '.join(log)}".strip()) from None
    return server


# ---------------------------------------------------------------- loading tables

PG_TYPES = {"VARCHAR": "text", "BIGINT": "bigint", "INTEGER": "integer", "DOUBLE": "double precision",
            "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp", "UUID": "uuid"}


def copy_tables(duck, pg, tables: list[str], batch: int = 50_000) -> dict[str, int]:
    """Create each DuckDB table in PostgreSQL with the same columns and copy its rows; rows per table."""
    counts = {}
    for table in tables:
        columns = duck.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = ? "
                               "ORDER BY ordinal_position", [table]).fetchall()
        unknown = [f"{c} {t}" for c, t in columns if t not in PG_TYPES]
        if unknown:
            raise AssertionError(f"{table}: no PostgreSQL type for {', '.join(unknown)}")
        names = ", ".join(f'"{c}"' for c, _ in columns)
        pg.execute(f'DROP TABLE IF EXISTS "{table}"')
        pg.execute(f'CREATE TABLE "{table}" (' + ", ".join(f'"{c}" {PG_TYPES[t]}' for c, t in columns) + ")")
        result = duck.execute(f'SELECT {names} FROM "{table}"')
        n = 0
        with pg.cursor() as cur, cur.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            while rows := result.fetchmany(batch):
                for row in rows:
                    copy.write_row(row)
                n += len(rows)
        counts[table] = n
    pg.execute("ANALYZE")
    return counts
