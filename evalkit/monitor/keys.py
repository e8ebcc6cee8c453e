"""The pseudonymisation key: outside the store and outside the project.

Person identifiers are replaced on ingest by HMAC-SHA256(key, identifier), kept as its first 128
bits in a fixed-width ``UUID`` column (see :func:`pseudonym_sql`). The key comes from
``$EVALKIT_PSEUDONYM_KEY`` (at least 32 characters), or from the file named by
``$EVALKIT_KEY_FILE`` (default ``~/.config/evalkit/pseudonym.key``), created on first use with a
message saying so. A key file inside the project folder is refused: the project is shared and
committed, the key must not be. The store keeps only a fingerprint of the key, so an extract
pseudonymised with a different key (which would break linkage across months) is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sys
import uuid
from pathlib import Path

from evalkit.errors import DataError

KEY_ENV = "EVALKIT_PSEUDONYM_KEY"
KEY_FILE_ENV = "EVALKIT_KEY_FILE"
DEFAULT_KEY_FILE = Path("~/.config/evalkit/pseudonym.key")


def key_file() -> Path:
    return Path(os.environ.get(KEY_FILE_ENV) or DEFAULT_KEY_FILE).expanduser().resolve()


def load_key(project_root: Path, *, create: bool = True, stream=None) -> bytes:
    """The key bytes; creates the key file (mode 600) on first use and says where."""
    text = os.environ.get(KEY_ENV)
    if text:
        if len(text) < 32:
            raise DataError(f"${KEY_ENV}: key too short ({len(text)} characters); expected at least 32")
        return text.encode("utf-8")
    path = key_file()
    if path.is_relative_to(Path(project_root).resolve()):
        raise DataError(f"{path}: the pseudonymisation key file is inside the project; expected it outside "
                        f"(set ${KEY_FILE_ENV} to a path outside {project_root})")
    if not path.exists():
        if not create:
            raise DataError(f"{path}: no pseudonymisation key; expected one made on first ingest")
        new_folder = not path.parent.exists()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if new_folder:
            os.chmod(path.parent, 0o700)  # owner-only, as the key itself
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32) + "\n")
        print(f"evalkit: created a new pseudonymisation key at {path}. Keep it safe and back it up: every "
              "extract must be ingested with the same key for people to link across months, and anyone "
              "holding it can test guesses of identifiers. It is never stored in the project or the store.",
              file=stream or sys.stderr)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < 32:
        raise DataError(f"{path}: key too short ({len(key)} characters); expected at least 32")
    return key.encode("utf-8")


def fingerprint(key: bytes) -> str:
    return hmac.new(key, b"evalkit key fingerprint", hashlib.sha256).hexdigest()[:16]


# the store's type for pseudonymised columns (older stores held the 64 hex digits as VARCHAR;
# ingest converts them in place, see evalkit.monitor.ingest._ensure_table)
PSEUDONYM_TYPE = "UUID"


def pseudonym(key: bytes, identifier: str) -> uuid.UUID:
    """The stored pseudonym of one identifier (the SQL used on ingest gives the same value)."""
    return uuid.UUID(bytes=hmac.new(key, identifier.encode("utf-8"), hashlib.sha256).digest()[:16])


def hmac_sql(key: bytes, column_sql: str) -> str:
    """SQL computing HMAC-SHA256(key, column) in DuckDB (RFC 2104); never log it (it holds the padded key).

    Vectorised inside the database, so millions of identifiers are hashed without a Python loop.
    """
    k = hashlib.sha256(key).digest() if len(key) > 64 else key
    k = k.ljust(64, b"\0")
    ipad = bytes(b ^ 0x36 for b in k)
    opad = bytes(b ^ 0x5C for b in k)
    return f"sha256(unhex('{opad.hex()}') || unhex(sha256(unhex('{ipad.hex()}') || encode({column_sql}))))"


def pseudonym_sql(key: bytes, column_sql: str) -> str:
    """SQL for the stored pseudonym: HMAC-SHA256(key, column) truncated to its first 128 bits, as a UUID.

    Truncating an HMAC to half its output is standard (RFC 2104 section 5, NIST SP 800-107r1;
    IPsec's HMAC-SHA-256-128, RFC 4868). What protects the identifiers is the key:
    without it nobody can compute or test a pseudonym, whatever its length. 128 bits keep
    accidental collisions out of reach (under 1e-20 for 100 million distinct people), and the
    fixed-width 16-byte value is far cheaper for DuckDB to write than 64 hex
    characters, while ``UUID`` is a type every engine Ibis targets understands.
    """
    return f"left({hmac_sql(key, column_sql)}, 32)::UUID"


def old_to_new_sql(column_sql: str) -> str:
    """SQL turning a pseudonym stored by an older evalkit (64 hex digits) into the current form."""
    return f"left({column_sql}, 32)::UUID"
