"""Independent pieces of one computation shared out over two processes, with the serial result.

:func:`fork_map` is ``[fn(x) for x in items]``: a forked helper computes every other item while
this process computes the rest, and the answers are put back in order. The helper runs the same
code on the same inputs (inherited at the fork, one BLAS thread as in the parent, results pickled
exactly), so the list is the same, byte for byte, as the serial one (tests/test_parallel.py). If
the helper fails or dies, its items are computed here in order: the same result, or the same error
(a user's mistake is then one line, raised here, as without the helper).

``queue=True``: the items are not split odd/even in advance but taken one at a time, in order, by
whichever process is free (a pipe holds their numbers; Linux reads a few bytes from a pipe whole),
for items of unequal cost such as a publication's pages. Each item is still computed once from the
same inputs, so the list is the same.

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


def in_helper() -> bool:
    """Whether this process is a helper forked by :func:`fork_map` (libraries that keep threads may
    need a fresh process there: threads do not survive a fork)."""
    return _in_helper


def processes() -> int:
    """How many processes :func:`fork_map` uses: 2 where fork exists, unless ``EVALKIT_PROCESSES=1``."""
    if os.environ.get(PROCESSES_ENV, "2").strip() == "1" or _in_helper:
        return 1
    return 2 if hasattr(os, "fork") and sys.platform.startswith("linux") else 1


def fork_map(fn: Callable[[Any], T], items: Sequence[Any], *, min_items: int = 2, queue: bool = False) -> list[T]:
    """``[fn(x) for x in items]``, the odd-numbered items (or, with ``queue``, those it takes first)
    computed by a forked helper meanwhile."""
    items = list(items)
    if processes() < 2 or len(items) < max(2, min_items):
        return [fn(x) for x in items]
    if queue and len(items) <= _QUEUE_MAX:
        return _queued(fn, items)
    theirs = list(range(1, len(items), 2))
    pid, read = _start_helper(lambda: [fn(items[i]) for i in theirs])
    out: dict[int, Any] = {}
    failed = False
    try:
        for i in range(0, len(items), 2):
            out[i] = fn(items[i])
    except Exception:  # noqa: BLE001 - everything again below, in order: the serial error
        failed = True
    finally:
        got = _answer(pid, read)  # read (and reap) the helper whatever happened here
    if failed:
        return [fn(x) for x in items]
    if isinstance(got, tuple) and got[0] == "ok" and len(got[1]) == len(theirs):
        out.update(zip(theirs, got[1]))
    else:  # only the helper's items can fail now, so the first error is the serial one
        out.update((i, fn(items[i])) for i in theirs)
    return [out[i] for i in range(len(items))]


_NUMBER = 4  # bytes of an item's number in the queue pipe (under PIPE_BUF: each read takes one whole)
# every number is written before anyone reads, so they must fit in the pipe: one page (4096 bytes) is
# what Linux gives a pipe at the least; more items are split odd/even instead (the same list)
_QUEUE_MAX = 4096 // _NUMBER


def _queued(fn: Callable[[Any], T], items: list) -> list[T]:
    """:func:`fork_map` with ``queue=True``: both processes take the next item's number from one pipe."""
    numbers_r, numbers_w = os.pipe()
    with os.fdopen(numbers_w, "wb") as fh:  # every number in, then closed: an empty pipe is the end
        fh.write(b"".join(i.to_bytes(_NUMBER, "little") for i in range(len(items))))

    def take():
        while True:
            got = os.read(numbers_r, _NUMBER)
            if len(got) < _NUMBER:
                return
            yield int.from_bytes(got, "little")

    def helper_items() -> dict[int, Any]:  # the helper's answers, keyed by item number
        done = {}
        for i in take():
            done[i] = fn(items[i])
        return done

    pid, read = _start_helper(helper_items)
    out: dict[int, Any] = {}
    failed = False
    try:
        for i in take():
            out[i] = fn(items[i])
    except Exception:  # noqa: BLE001 - everything again below, in order: the serial error
        failed = True
    finally:
        os.close(numbers_r)
        got = _answer(pid, read)
    if failed:
        return [fn(x) for x in items]
    if isinstance(got, tuple) and got[0] == "ok" and isinstance(got[1], dict):
        out.update(got[1])
    # what the helper took but did not answer (it failed or died) is computed here, in order: only
    # the helper's items can fail now, so the first error is the serial one
    for i in range(len(items)):
        if i not in out:
            out[i] = fn(items[i])
    return [out[i] for i in range(len(items))]


def _start_helper(compute: Callable[[], Any]) -> tuple[int, int]:
    """Fork a helper that sends ``("ok", compute())`` pickled down a pipe, or ``("failed",)``; the
    helper's pid and the pipe's end to read :func:`_answer` from."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the helper: compute, send, leave without running the parent's exit handlers
        global _in_helper
        _in_helper = True
        try:
            os.close(read)
            sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - nothing to say; see causal.py
            try:
                payload = pickle.dumps(("ok", compute()), protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:  # noqa: BLE001 - the parent computes these items itself
                payload = pickle.dumps(("failed",))
            with os.fdopen(write, "wb") as fh:
                fh.write(payload)
        finally:
            os._exit(0)
    os.close(write)
    return pid, read


def _answer(pid: int, read: int):
    """What the helper sent (None if it died before or while writing), once it has been reaped."""
    with os.fdopen(read, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    try:
        return pickle.loads(data)
    except Exception:  # noqa: BLE001 - a helper that died mid-write
        return None
