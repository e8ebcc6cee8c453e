"""evalkit: evaluate violence prevention and early-intervention programmes, monitor outcomes.

The Python verbs match the CLI: ``load_project`` (validate + resolve), ``validate_project``,
``run`` (one evaluation -> ResultSet), ``synthesise`` (example data). Imports are lazy, so
``import evalkit`` and ``evalkit --help`` stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["load_project", "validate_project", "run", "synthesise", "EvalkitError", "__version__"]
__version__ = "0.1.0"

_LAZY = {
    "load_project": ("evalkit.project", "load_project"),
    "validate_project": ("evalkit.project", "validate_project"),
    "run": ("evalkit.run", "run"),
    "synthesise": ("evalkit.synth.writer", "synthesise"),
    "EvalkitError": ("evalkit.errors", "EvalkitError"),
}

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.errors import EvalkitError
    from evalkit.project import load_project, validate_project
    from evalkit.run import run
    from evalkit.synth.writer import synthesise


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
