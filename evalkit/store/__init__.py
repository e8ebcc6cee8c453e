"""The embedded DuckDB store: ingested extracts with provenance, indicator values, evaluation runs.

``open_store(store_path(project_root, configured))`` opens (and migrates) the store of a project.
Nothing heavy is imported here; duckdb is imported when a store is opened.
"""

from __future__ import annotations

from evalkit.store.db import SCHEMA_VERSION, Store, open_store, store_path

__all__ = ["SCHEMA_VERSION", "Store", "open_store", "store_path"]
