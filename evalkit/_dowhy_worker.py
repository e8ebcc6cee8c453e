"""The DoWhy worker process: started at once, light to import (the standard library only).

Importing DoWhy costs about 3 s of CPU in a fresh process (numpy, pandas, scipy, statsmodels,
scikit-learn, sympy, matplotlib, then DoWhy itself, one after another): longer than reading,
checking and matching a 110,000-row plan together. ``evalkit run`` therefore forks this worker as
its first act when a chosen plan analyses data (:func:`start_early`, from ``evalkit.cli``), before it
has imported anything heavy; the worker imports DoWhy on the other core while the run's own process
loads the project, reads and checks the data and runs the design, then answers the jobs sent to it
(:func:`evalkit.estimate.causal.numbers_or_failure`: DoWhy's numbers, sent as soon as the design has
its analysed rows) and stays for the next evaluation. Which designs are refuted is the design
registry's (``DesignEntry.robustness``): the run's process imports the registry to decide only once
the worker is forked (pydantic's 0.14 s would otherwise delay DoWhy's import), and stops a worker no
chosen plan needs. The worker imports nothing of evalkit before DoWhy: each job names its function,
whose module (:data:`PRELOAD`) it loads once DoWhy is, while the run is still working. What DoWhy
imports at load but its refuters never touch (matplotlib and dowhy.gcm, :data:`DEFERRED`) is bound
there as a stand-in that loads the real module on first use (:func:`defer_imports`): about 0.4 s of
CPU off the import.

The work and its inputs are the same as in the run's process (the data frame is pickled exactly,
one BLAS thread in both, the same seeds): the sections are byte-identical whichever process
computed them (tests/test_causal.py, tests/test_determinism.py). Where fork is not available
(macOS, Windows), when ``EVALKIT_DOWHY_WORKER=0``, or once DoWhy is loaded in this process anyway,
the checks run in the run's process.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import os
import sys
import types
from pathlib import Path
from typing import Any

WORKER_ENV = "EVALKIT_DOWHY_WORKER"
_worker: dict[str, Any] = {}
# the module of the jobs' function (evalkit.estimate.causal.numbers_or_failure) with the evalkit modules
# it imports: loaded by the worker once DoWhy is, while the run is still matching, rather than when
# the first job is unpickled, with the run waiting
PRELOAD = ("evalkit.estimate.causal",)
# what DoWhy imports at its import but no refutation evalkit runs uses: matplotlib (its plotting
# helpers, imported by its package at load: about 0.35 s of CPU with pyplot) and its graphical causal
# models (dowhy.gcm, about 0.1 s more, and the only module that reads matplotlib at import, for a
# colour list). In the worker they are loaded only if something touches them (see defer_imports):
# nothing but the refuters runs there
DEFERRED = ("matplotlib", "dowhy.gcm")
# names DoWhy takes from a deferred module at its import (``from m import name``) and uses only in a
# check evalkit's jobs never reach: bound to a stand-in (_Later) that loads the module on first use.
# CausalGraph asks ``isinstance(graph, ProbabilisticCausalModel)`` only when the graph is not a
# networkx DiGraph, and evalkit's always is
BOUND_LATER = {"dowhy.gcm.causal_models": ("ProbabilisticCausalModel",)}


def worker_wanted() -> bool:
    import multiprocessing

    return (os.environ.get(WORKER_ENV, "1") != "0" and "dowhy" not in sys.modules
            and "fork" in multiprocessing.get_all_start_methods() and sys.platform.startswith("linux"))


def running() -> bool:
    proc = _worker.get("process")
    return proc is not None and proc.is_alive()


def start_worker(force: bool = False, preload: tuple[str, ...] = PRELOAD) -> bool:
    """Start the worker if it helps (or ``force``, where fork exists) and is not running yet; True
    when one is running. What is already imported here is inherited; the rest the worker imports,
    DoWhy first, then the modules named in ``preload`` (those its jobs' functions live in)."""
    import multiprocessing

    if running():
        return True
    if not (worker_wanted() or (force and "fork" in multiprocessing.get_all_start_methods())):
        return False
    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=_serve, args=(theirs, mine, tuple(preload)), name="evalkit-dowhy", daemon=True)
    proc.start()
    theirs.close()
    if not _worker.get("atexit"):
        import atexit

        atexit.register(stop_worker)  # told to stop, not killed, when this process ends
    _worker.update(process=proc, conn=mine, atexit=True)
    return True


def stop_worker() -> None:
    """Tell the worker to stop and wait for it (a no-op when none runs). A worker never sent a job
    (the run stopped at a mistake in the project, or ran no refuted plan) is still importing DoWhy
    and would answer only seconds later: it is terminated at once, having nothing to finish."""
    conn, proc = _worker.pop("conn", None), _worker.pop("process", None)
    used = _worker.pop("used", False)
    if proc is not None and not used:
        proc.terminate()
    if conn is not None:
        with contextlib.suppress(OSError, ValueError):
            conn.send(None)
        conn.close()
    if proc is not None:
        proc.join(timeout=5)
        if proc.is_alive():
            proc.terminate()
            proc.join(timeout=5)


def start_early(project: str | Path | None, names: list[str] | None) -> bool:
    """Fork the worker now if a plan that ``evalkit run`` will refute is among those chosen.

    A cheap look at the plans' ``id``, ``design`` and ``external`` keys (plain YAML, no
    validation): only a hint. When it is wrong either way nothing changes but the time: the run
    starts the worker itself when it reaches a refuted design (``evalkit.run``), and an unused
    worker is stopped when the process ends."""
    if not worker_wanted():
        return False
    try:
        root = _project_root(project)
        if root is None:
            return False
        designs = {_chosen_design(path, names) for path in sorted((root / "evaluations").iterdir())} - {None}
    except Exception:  # noqa: BLE001 - a hint; the project's own checks report what is wrong
        return False
    if not designs or not start_worker():
        return False
    # which designs are refuted is the registry's (about 0.14 s to import, pydantic's, which the run
    # needs next anyway): asked only once the worker is forked, so that DoWhy's import does not wait
    # for it; a worker no chosen plan needs is stopped at once (it has only begun importing)
    try:
        wanted = bool(designs & refuted_designs())
    except Exception:  # noqa: BLE001 - the project's own checks report what is wrong
        wanted = False
    if not wanted:
        stop_worker()
    return wanted


def _project_root(start: str | Path | None) -> Path | None:
    here = Path(start if start is not None else os.getcwd()).resolve()
    if here.is_file():
        here = here.parent
    return next((p for p in (here, *here.parents) if (p / "logic_models").is_dir() and (p / "evaluations").is_dir()),
                None)


def refuted_designs() -> set[str]:
    """The designs whose analysis is refuted: those whose registry entry has ``robustness``."""
    from evalkit.spec.designs import REGISTRY

    return {d.value for d, e in REGISTRY.items() if e.robustness is not None}


def _chosen_design(path: Path, names: list[str] | None) -> str | None:
    """The design of the plan at ``path`` if it is chosen and analyses data (not a published study)."""
    if path.suffix not in (".yml", ".yaml") or not path.is_file():
        return None
    import yaml

    try:
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeError, yaml.YAMLError):  # reported by the project's checks, not here
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("design"), str) or doc.get("external") is not None:
        return None
    if names and not any(n == doc.get("id") or Path(n).resolve() == path.resolve() for n in names):
        return None
    return doc["design"]


def in_worker() -> bool:
    """True in the worker process (its refutations are then shared with a forked helper)."""
    return _in_worker


_in_worker = False


def quiet_dowhy() -> None:
    """DoWhy's log lines and warnings are not the user's business (the section says what was run)."""
    import logging
    import warnings

    logging.getLogger("dowhy").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="dowhy")
    warnings.filterwarnings("ignore", category=FutureWarning)


def _serve(conn, parent_end, preload: tuple[str, ...] = ()) -> None:
    """The worker: import DoWhy at once, then answer jobs until told to stop (None) or orphaned.

    A job is ``(function, arguments)``, the function pickled by reference
    (:func:`evalkit.estimate.causal.numbers_or_failure`): this module knows nothing of what it runs."""
    global _in_worker
    import warnings

    parent_end.close()
    _in_worker = True
    streams_to_devnull()
    quiet_dowhy()
    defer_imports(DEFERRED)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dowhy  # noqa: F401
    for name in preload:  # what unpickling the first job would import, loaded while the run works
        with contextlib.suppress(Exception):
            importlib.import_module(name)
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        fn, arguments = job
        conn.send(fn(arguments))


class _Deferred(types.ModuleType):
    """A stand-in for a module not loaded yet: binding it (``import matplotlib.pyplot as plt``,
    ``from matplotlib import image``) costs nothing; the first use of anything else in it loads
    the real package, and the stand-in answers from the real module from then on."""

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        if _deferring and _is_submodule(self.__name__, attr):
            raise AttributeError(attr)  # the import system then imports the submodule: a stand-in too
        if _deferring and attr in BOUND_LATER.get(self.__name__, ()):
            return _Later(self.__name__, attr)
        _load_real()
        return getattr(importlib.import_module(self.__name__), attr)


class _Later:
    """A name of a deferred module, bound by ``from module import name`` (:data:`BOUND_LATER`): its
    first use (a call, an attribute, ``isinstance``/``issubclass``, a subclass) loads the real module
    and answers with the real object."""

    __slots__ = ("_module", "_name")

    def __init__(self, module: str, name: str):
        self._module, self._name = module, name

    def _real(self):
        _load_real()
        return getattr(importlib.import_module(self._module), self._name)

    def __call__(self, *args, **kwargs):
        return self._real()(*args, **kwargs)

    def __getattr__(self, attr: str):
        return getattr(self._real(), attr)

    def __instancecheck__(self, obj) -> bool:
        return isinstance(obj, self._real())

    def __subclasscheck__(self, cls) -> bool:
        return issubclass(cls, self._real())

    def __mro_entries__(self, bases):
        return (self._real(),)


class _DeferringFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def __init__(self, names: tuple[str, ...]):
        self.names = names

    def find_spec(self, fullname, path=None, target=None):
        if not _named(fullname, self.names) or _real_spec(fullname) is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = _Deferred(spec.name)
        module.__path__ = []  # a package, so that its submodules are deferred too
        return module

    def exec_module(self, module):
        pass


_deferring: list[_DeferringFinder] = []


def defer_imports(names: tuple[str, ...]) -> None:
    """Import the modules ``names`` (and their submodules) as stand-ins until first used. For the
    worker only, which runs nothing but DoWhy's refuters; skipped for a module already loaded."""
    names = tuple(n for n in names if n not in sys.modules)
    if names and not _deferring:
        finder = _DeferringFinder(names)
        _deferring.append(finder)
        sys.meta_path.insert(0, finder)


def _named(name: str, names) -> bool:
    return any(name == n or name.startswith(n + ".") for n in names)


def _real_spec(name: str):
    """Where the real module ``name`` is (found, not loaded); None when there is none."""
    parent, _, _child = name.rpartition(".")
    if not parent:
        return importlib.machinery.PathFinder.find_spec(name)
    outer = _real_spec(parent)
    if outer is None or not outer.submodule_search_locations:
        return None
    return importlib.machinery.PathFinder.find_spec(name, outer.submodule_search_locations)


def _is_submodule(name: str, attr: str) -> bool:
    return _real_spec(f"{name}.{attr}") is not None


def _load_real() -> None:
    """Stop deferring: drop the finder and every stand-in from ``sys.modules`` (the stand-ins
    already bound answer from the real modules, imported on their first use)."""
    names = tuple(n for f in _deferring for n in f.names)
    for finder in _deferring:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)
    _deferring.clear()
    for key in [k for k, v in sys.modules.items() if isinstance(v, _Deferred) and _named(k, names)]:
        del sys.modules[key]


def streams_to_devnull() -> None:
    """Fresh output streams to /dev/null in a forked process: another thread of the parent may have
    held the old streams' locks at fork time, and the process has nothing to say (results go back
    through a pipe)."""
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115
