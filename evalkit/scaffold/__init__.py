"""Starting projects and files: ``evalkit init`` (a starter project) and ``evalkit new`` (skeletons).

- :func:`init_project`: a complete small project that validates and runs end to end;
- :func:`new_logic_model`, :func:`new_evaluation`: skeleton YAML written from the formats
  themselves (:mod:`evalkit.scaffold.skeleton`), every required key, the valid choices as
  comments, placeholders ``<...>`` where the user's words and columns go.

Imports are lazy: the CLI imports this package's command module on every call.
"""

from __future__ import annotations

_EXPORTS = {"init_project": "evalkit.scaffold.project", "new_logic_model": "evalkit.scaffold.project",
            "new_evaluation": "evalkit.scaffold.project"}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'evalkit.scaffold' has no attribute {name!r}")
