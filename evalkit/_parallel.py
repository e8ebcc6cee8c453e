"""Independent pieces of one computation shared out over two processes, with the serial result.

:func:`fork_map` is ``[fn(x) for x in items]``: a forked helper computes every other item while
this process computes the rest, and the answers are put back in order. The helper runs the same
code on the same inputs (inherited at the fork, one BLAS thread as in the parent, results pickled
exactly), so the list is the same, byte for byte, as the serial one (tests/test_parallel.py). If
the helper fails or dies, its items are computed here in order: the same result, or the same error
(a user's mistake is then one line, raised here, as without the helper).

Serial when fork is not available (macOS, Windows), when ``EVALKIT_PROCESSES=1``, for fewer than
``min_items`` items, or inside a helper (no helpers of helpers: two cores are what is aimed at).
"""

from __future__ import annotations

import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
PROCESSES_ENV = "EVALKIT_PROCESSES"
_in_helper = False


def processes() -> int:
    """How many processes :func:`fork_map` uses: 2 where fork exists, unless ``EVALKIT_PROCESSES=1``."""
    if os.environ.get(PROCESSES_ENV, "2").strip() == "1" or _in_helper:
        return 1
    return 2 if hasattr(os, "fork") and sys.platform.startswith("linux") else 1


def fork_map(fn: Callable[[Any], T], items: Sequence[Any], *, min_items: int = 2) -> list[T]:
    """``[fn(x) for x in items]``, the odd-numbered items computed by a forked helper meanwhile."""
    items = list(items)
    if processes() < 2 or len(items) < max(2, min_items):
        return [fn(x) for x in items]
    theirs = list(range(1, len(items), 2))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: compute, send, leave without running the parent's exit handlers
        global _in_helper
        _in_helper = True
        try:
            os.close(read)
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - nothing to say; see causal.py
            try:
                payload = pickle.dumps(("ok", [fn(items[i]) for i in theirs]), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # noqa: BLE001 - the parent computes these items itself
                payload = pickle.dumps(("failed",))
            with os.fdopen(write, "wb") as fh:
                fh.write(payload)
        finally:
            os._exit(0)
    os.close(write)
    out: dict[int, Any] = {}
    failed = False
    try:
        for i in range(0, len(items), 2):
            out[i] = fn(items[i])
    except Exception:  # noqa: BLE001 - everything again below, in order: the serial error
        failed = True
    finally:
        # read the helper's answer (and reap it) whatever happened here
        with os.fdopen(read, "rb") as fh:
            data = fh.read()
        os.waitpid(pid, 0)
    if failed:
        return [fn(x) for x in items]
    try:
        got = pickle.loads(data)
    except Exception:  # noqa: BLE001 - a helper that died mid-write
        got = None
    if isinstance(got, tuple) and got[0] == "ok" and len(got[1]) == len(theirs):
        out.update(zip(theirs, got[1]))
    else:  # only the helper's items can fail now, so the first error is the serial one
        out.update((i, fn(items[i])) for i in theirs)
    return [out[i] for i in range(len(items))]
