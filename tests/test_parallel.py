"""Work shared out over two processes gives the serial answer (issue 20).

evalkit._parallel.fork_map (the comparison-area placebo fits) and the early DoWhy worker of
`evalkit run` (evalkit._dowhy_worker) must change nothing but the time.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from evalkit import _dowhy_worker, _parallel
from evalkit.errors import DataError
from evalkit.spec.designs import REGISTRY


def _fit(i: int) -> np.ndarray:
    # something with floating-point reductions whose last digits would show a different code path
    rng = np.random.default_rng(i)
    a = rng.normal(size=(30, 30))
    return np.linalg.solve(a @ a.T + np.eye(30), rng.normal(size=30))


def test_fork_map_gives_the_serial_list_byte_for_byte(monkeypatch):
    items = list(range(11))
    serial = [_fit(i) for i in items]
    assert _parallel.processes() == 2  # Linux, fork: two processes share the items
    parallel = _parallel.fork_map(_fit, items)
    assert [a.tobytes() for a in parallel] == [a.tobytes() for a in serial]
    assert [a.dtype for a in parallel] == [a.dtype for a in serial]
    monkeypatch.setenv(_parallel.PROCESSES_ENV, "1")
    assert _parallel.processes() == 1
    assert [a.tobytes() for a in _parallel.fork_map(_fit, items)] == [a.tobytes() for a in serial]


def test_fork_map_uses_a_second_process():
    pids = _parallel.fork_map(lambda _i: os.getpid(), range(6))
    assert pids[0::2] == [os.getpid()] * 3  # this process: the even items
    assert len(set(pids[1::2])) == 1 and pids[1] != os.getpid()  # one helper: the odd items


def _fails_at(bad: set[int]):
    def fn(i: int) -> int:
        if i in bad:
            raise DataError(f"item {i} is wrong")
        return i * i
    return fn


@pytest.mark.parametrize("bad", [{3}, {2}, {1, 2}, {4, 5}])
def test_fork_map_raises_the_error_the_serial_loop_raises(bad):
    # the first failing item in order, whichever process met it
    with pytest.raises(DataError, match=f"item {min(bad)} is wrong"):
        _parallel.fork_map(_fails_at(bad), range(8))


def test_a_helper_that_dies_is_replaced_by_this_process():
    parent = os.getpid()

    def fn(i: int) -> int:
        if os.getpid() != parent:
            os._exit(3)  # the helper dies without answering
        return i + 1

    assert _parallel.fork_map(fn, range(7)) == list(range(1, 8))


def test_few_items_stay_in_this_process():
    assert set(_parallel.fork_map(lambda _i: os.getpid(), range(5), min_items=8)) == {os.getpid()}


def test_the_worker_hint_knows_the_refuted_designs():
    # the early start of the DoWhy worker asks the registry which of the chosen plans' designs are refuted
    assert _dowhy_worker.refuted_designs() == {d.value for d, e in REGISTRY.items() if e.robustness is not None} \
        == {"matched_comparison", "difference_in_differences"}


def test_the_worker_hint_reads_the_chosen_plans(tmp_path, monkeypatch):
    root = tmp_path / "p"
    (root / "logic_models").mkdir(parents=True)
    (root / "evaluations").mkdir()
    (root / "evaluations" / "a.yml").write_text("id: a\ndesign: pre_post\n")
    (root / "evaluations" / "b.yml").write_text("id: b\ndesign: matched_comparison\n")
    (root / "evaluations" / "c.yml").write_text("id: c\ndesign: difference_in_differences\nexternal: {doi: x}\n")
    (root / "evaluations" / "broken.yml").write_text("id: [\n")
    started, stopped = [], []
    monkeypatch.setattr(_dowhy_worker, "start_worker", lambda force=False: started.append(1) or True)
    monkeypatch.setattr(_dowhy_worker, "stop_worker", lambda: stopped.append(1))
    monkeypatch.delenv(_dowhy_worker.WORKER_ENV, raising=False)
    monkeypatch.setattr(_dowhy_worker, "worker_wanted", lambda: True)
    # the worker is forked before the registry is imported (DoWhy's import then does not wait for it),
    # and stopped at once when the registry says no chosen plan is refuted
    assert not _dowhy_worker.start_early(root, ["a"])  # a pre/post plan: no DoWhy
    assert (len(started), len(stopped)) == (1, 1)
    assert not _dowhy_worker.start_early(root, ["c"])  # an external study analyses no data: not even forked
    assert _dowhy_worker.start_early(root, ["b"])
    assert _dowhy_worker.start_early(root / "evaluations", None)  # every plan, found from inside the project
    assert not _dowhy_worker.start_early(tmp_path, None)  # not a project: nothing
    assert (len(started), len(stopped)) == (3, 1)


def test_deferred_imports_bind_without_loading_and_load_on_first_use():
    # issue 20: the DoWhy worker defers matplotlib (pyplot and its image module), which DoWhy imports
    # at load and no refutation uses; binding them must not load them, and a use must get the real
    # thing. In a fresh interpreter: the finder is process-wide
    import subprocess
    import sys

    code = """
import sys
from evalkit import _dowhy_worker as w
w.defer_imports(w.DEFERRED)
import matplotlib.pyplot as plt
from matplotlib import image
assert type(sys.modules["matplotlib.pyplot"]).__name__ == "_Deferred", sys.modules["matplotlib.pyplot"]
assert type(image).__name__ == "_Deferred" and "matplotlib" in sys.modules
figure = plt.figure  # first use: the real pyplot, and every stand-in answers from the real modules
assert type(sys.modules["matplotlib.pyplot"]).__name__ == "module" and not w._deferring
assert figure is sys.modules["matplotlib.pyplot"].figure and image.imread is sys.modules["matplotlib.image"].imread
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_names_bound_later_load_their_module_on_first_use():
    # the worker defers dowhy.gcm, from which DoWhy takes a class at import for an isinstance check
    # evalkit's graphs never reach: the name is bound to a stand-in, and any use (isinstance, a call,
    # an attribute, a subclass) gets the real object. Shown on matplotlib.colors in a fresh interpreter
    import subprocess
    import sys

    code = """
import sys
from evalkit import _dowhy_worker as w
w.BOUND_LATER = {"matplotlib.colors": ("Normalize", "to_hex")}
w.defer_imports(("matplotlib",))
from matplotlib.colors import Normalize, to_hex
assert type(Normalize).__name__ == "_Later" and type(sys.modules["matplotlib.colors"]).__name__ == "_Deferred"
assert not isinstance(3, Normalize)  # first use: the real module
real = sys.modules["matplotlib.colors"]
assert type(real).__name__ == "module" and not w._deferring
assert isinstance(real.Normalize(), Normalize) and issubclass(real.LogNorm, Normalize)
assert to_hex((1, 0, 0)) == "#ff0000" and Normalize.__name__ == "Normalize"
class Mine(Normalize):
    pass
assert Mine.__mro__[1] is real.Normalize
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_queued_fork_map_gives_the_serial_list_and_shares_the_items():
    # queue=True: each process takes the next item when free (items of unequal cost)
    items = list(range(13))
    serial = [_fit(i) for i in items]
    assert [a.tobytes() for a in _parallel.fork_map(_fit, items, queue=True)] == [a.tobytes() for a in serial]
    import time

    def slow_first(i: int) -> int:
        if i == 0:
            time.sleep(1.5)  # whoever takes it is busy: the other process takes the rest meanwhile
        return os.getpid()

    pids = _parallel.fork_map(slow_first, range(8), queue=True)
    assert len(set(pids)) == 2 and pids.count(pids[0]) == 1


@pytest.mark.parametrize("bad", [{3}, {0}, {1, 2}, {6, 7}])
def test_queued_fork_map_raises_the_error_the_serial_loop_raises(bad):
    with pytest.raises(DataError, match=f"item {min(bad)} is wrong"):
        _parallel.fork_map(_fails_at(bad), range(8), queue=True)


def test_queued_fork_map_replaces_a_helper_that_dies():
    parent = os.getpid()

    def fn(i: int) -> int:
        if os.getpid() != parent:
            os._exit(3)
        return i + 1

    assert _parallel.fork_map(fn, range(7), queue=True) == list(range(1, 8))


def test_more_items_than_the_queue_pipe_holds_are_split_instead():
    # every item's number goes into the pipe before either process reads: past the pipe's capacity
    # (64 KiB by default: 16,384 numbers) the write would wait for a reader that never comes. In a
    # fresh interpreter with a time limit, so a hang fails the test instead of the run
    import subprocess
    import sys

    code = ("from evalkit import _parallel\n"
            "items = list(range(20_000))\n"
            "assert _parallel.fork_map(lambda i: i * 3, items, queue=True) == [i * 3 for i in items]\n"
            "print('ok')\n")
    try:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                              env={**os.environ, "EVALKIT_PROCESSES": "2"})
    except subprocess.TimeoutExpired:
        raise AssertionError("fork_map(queue=True) hung on 20,000 items") from None
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]
