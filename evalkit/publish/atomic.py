"""Publishing files atomically: written privately, checked, then swapped in.

A publication is written into a private staging folder (``<project>/.evalkit/tmp/publish-*``,
mode 0700, outside anything that is uploaded), rendered and scanned there; only a file that
passed the scan is moved into place, with ``os.replace`` (atomic on one file system), after its
SHA-256 has been recorded in ``.evalkit/published.json``. So a killed, failed or disk-full run
leaves each published file either as it was before or as a checked new version, never an
unchecked one; the staging folder of a killed run is removed by the next run.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterable
from pathlib import Path

from evalkit.errors import EvalkitError

RECEIPTS = "published.json"


class PublishError(EvalkitError):
    """A publication folder cannot be written, or writing failed part-way (nothing unchecked was left)."""


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents under it) a folder only its owner can read (0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def _why(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on the disk"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return "permission denied (the folder is not writable)"
    return exc.strerror or str(exc)


def check_writable(folder: Path, setting: str) -> None:
    """One line naming the setting when ``folder`` cannot be written (checked before any work)."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise PublishError(f"{setting}: {folder} is not a folder ({probe} is a file); expected a folder to publish into")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PublishError(f"{setting}: {folder} is not writable (permission denied); expected a folder evalkit can "
                           "write")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise PublishError(f"{setting}: {folder} cannot be created ({_why(exc)}); expected a writable folder") from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PublishError(f"{setting}: {folder} is not writable (permission denied); expected a folder evalkit can "
                           "write")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_atomic(path: Path, data: bytes | str, *, setting: str | None = None, mode: int | None = None) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    check_writable(path.parent, setting or str(path.parent))
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode if mode is not None else 0o644)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PublishError(f"{setting or path}: could not write {path.name} ({_why(exc)}); the previous file is "
                           "unchanged") from None
    return path


class Staging:
    """A private folder a publication is written into before anything is published."""

    def __init__(self, project_root: Path, out_root: Path, setting: str):
        self.project_root = Path(project_root).resolve()
        self.out_root = Path(out_root).resolve()
        self.setting = setting
        check_writable(self.out_root, setting)
        work = private_dir(self.project_root / ".evalkit")
        tmp = private_dir(work / "tmp")
        _clean_dead(tmp)
        self.dir = tmp / f"publish-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            self.dir.mkdir(mode=0o700)
        except OSError as exc:
            raise PublishError(f"{tmp}: cannot create a staging folder ({_why(exc)})") from None
        self.receipts_path = work / RECEIPTS

    def __enter__(self) -> "Staging":
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, rel: str) -> Path:
        p = self.dir / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def commit(self, rels: Iterable[str]) -> list[Path]:
        """Move the staged (and checked) files into place; record their hashes first."""
        rels = list(dict.fromkeys(rels))
        receipts = self._receipts()
        for rel in rels:
            dest = self.out_root / rel
            try:
                key = str(dest.relative_to(self.project_root))
            except ValueError:
                key = str(dest)
            receipts[key] = sha256_file(self.dir / rel)
        write_atomic(self.receipts_path, json.dumps(receipts, indent=1, sort_keys=True) + "\n", mode=0o600)
        done = []
        for rel in rels:
            src, dest = self.dir / rel, self.out_root / rel
            try:
                dest.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.replace(src, dest)
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
                    # another file system: copy beside the target, then rename (still atomic there)
                    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.partial")
                    shutil.copyfile(src, tmp)
                    os.replace(tmp, dest)
            except OSError as exc:
                raise PublishError(f"{self.setting}: could not publish {rel} ({_why(exc)}); files not yet "
                                   "replaced are unchanged") from None
            done.append(dest)
        return done

    def _receipts(self) -> dict:
        try:
            data = json.loads(self.receipts_path.read_text(encoding="utf-8"))
            return data if isinstance(data, dict) else {}
        except (OSError, ValueError):
            return {}


def _clean_dead(tmp: Path) -> None:
    """Remove staging folders of runs that are no longer alive (killed runs leave theirs behind)."""
    for d in tmp.glob("publish-*"):
        try:
            pid = int(d.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(d, ignore_errors=True)


def receipts(project_root: Path) -> dict:
    try:
        return json.loads((Path(project_root) / ".evalkit" / RECEIPTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
