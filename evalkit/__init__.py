"""evalkit: evaluate violence prevention and early-intervention programmes, monitor outcomes.

The Python verbs match the CLI::

    import evalkit

    project = evalkit.load_project(".")                 # evalkit validate: resolved, frozen
    result = evalkit.run(project.evaluation("my-plan"))  # evalkit run: a ResultSet
    result.summary()                                     # text; a notebook shows a table
    ratings = evalkit.rate(project)                      # evalkit rate: EIF levels
    evalkit.report(project)                              # evalkit report: HTML per saved result

Also ``validate_project`` (every problem, nothing raised), ``synthesise`` (the example data),
``init_project`` / ``new_logic_model`` / ``new_evaluation`` (``evalkit init`` and ``evalkit new``),
``ResultSet`` and ``EvalkitError`` (the root of every error evalkit raises on purpose).

``evalkit.run`` and ``evalkit.report`` are always the verbs, whatever is imported: importing the
module ``evalkit.run`` or the package ``evalkit.report`` does not replace them, and attributes
of those modules are still reached through them (``evalkit.report.write`` is the module).
Imports are lazy, so ``import evalkit`` and ``evalkit --help`` stay fast.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> (module, attribute); resolved on first use
_LAZY = {
    "load_project": ("evalkit.project", "load_project"),
    "validate_project": ("evalkit.project", "validate_project"),
    "synthesise": ("evalkit.synth.writer", "synthesise"),
    "init_project": ("evalkit.scaffold", "init_project"),
    "new_logic_model": ("evalkit.scaffold", "new_logic_model"),
    "new_evaluation": ("evalkit.scaffold", "new_evaluation"),
    "ResultSet": ("evalkit.results", "ResultSet"),
    "Project": ("evalkit.spec.model", "Project"),
    "EvalkitError": ("evalkit.errors", "EvalkitError"),
}
# verbs whose names are also modules of this package (evalkit/run.py, evalkit/report/)
_VERBS = {
    "run": ("evalkit.run", "run"),
    "rate": ("evalkit.api", "rate"),
    "report": ("evalkit.api", "report"),
}
__all__ = sorted([*_LAZY, *_VERBS, "__version__"])


class _Verb:
    """A public verb: calling it calls the function; other attributes are the same-named module's.

    ``import evalkit.run`` binds the module ``evalkit.run`` to the package attribute ``run``; a
    plain function there would be replaced by it (the clash this class exists for). So the verb
    stays, calls go to the function, and ``evalkit.run.run_and_write`` (or ``evalkit.report.write``)
    still reaches the module, as code and ``mock.patch`` strings written against it expect.
    """

    __slots__ = ("_name", "_target")

    def __init__(self, name: str, target: tuple[str, str]):
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_target", target)

    def _function(self):
        module, attr = self._target
        return getattr(importlib.import_module(module), attr)

    def _module(self):
        name = f"{__name__}.{self._name}"
        if name in sys.modules:
            return sys.modules[name]
        import importlib.util

        return importlib.import_module(name) if importlib.util.find_spec(name) is not None else None

    def __call__(self, *args, **kwargs):
        return self._function()(*args, **kwargs)

    @property
    def __wrapped__(self):  # inspect.signature and IPython's `?` follow this to the function
        return self._function()

    @property
    def __doc__(self):  # type: ignore[override]
        return self._function().__doc__

    def __repr__(self) -> str:
        module, attr = self._target
        return f"<evalkit verb {self._name}: {module}.{attr}>"

    def __reduce__(self):
        return (_verb, (self._name,))

    def __getattr__(self, name: str):
        if name.startswith("__") and name.endswith("__"):
            return getattr(self._function(), name)
        module = self._module()
        if module is None:
            raise AttributeError(f"evalkit.{self._name} is a function and has no attribute {name!r}")
        return getattr(module, name)

    def __setattr__(self, name: str, value) -> None:
        module = self._module()
        if module is None:
            raise AttributeError(f"evalkit.{self._name} is a function; its attributes cannot be set")
        setattr(module, name, value)

    def __delattr__(self, name: str) -> None:
        module = self._module()
        if module is None:
            raise AttributeError(f"evalkit.{self._name} is a function; its attributes cannot be deleted")
        delattr(module, name)

    def __dir__(self):
        module = self._module()
        return sorted(set(dir(module) if module is not None else ()) | {"__call__", "__doc__", "__wrapped__"})


def _verb(name: str) -> _Verb:
    return globals()[name]


class _Package(types.ModuleType):
    """This package's module type: the import system cannot rebind a verb to its module."""

    def __setattr__(self, name: str, value) -> None:
        if name in _VERBS and isinstance(value, types.ModuleType):
            return  # `import evalkit.run` binds the module here: keep the verb (which reaches it)
        super().__setattr__(name, value)


for _name, _target in _VERBS.items():
    globals()[_name] = _Verb(_name, _target)
del _name, _target
sys.modules[__name__].__class__ = _Package

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.api import rate, report
    from evalkit.errors import EvalkitError
    from evalkit.project import load_project, validate_project
    from evalkit.results import ResultSet
    from evalkit.run import run
    from evalkit.scaffold import init_project, new_evaluation, new_logic_model
    from evalkit.spec.model import Project
    from evalkit.synth.writer import synthesise


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")


def __dir__():
    # the public names (and the module's own dunders), not this file's helpers and imports
    return sorted(set(__all__) | {n for n in globals() if n.startswith("__") and n.endswith("__")})
