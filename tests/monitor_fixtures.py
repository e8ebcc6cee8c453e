"""The example project's monitoring store, shared by the tests that need realistic volumes."""

from __future__ import annotations

import pytest

from conftest import copy_monitoring_project

from evalkit.monitor.keys import KEY_ENV


@pytest.fixture(scope="module")
def example_store(tmp_path_factory):
    """The example project's monitoring store: every demo extract ingested, the mapping refreshed."""
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.indicators import refresh_mapping
    from evalkit.monitor.synth import ingest_demo_extracts, write_demo_extracts
    from evalkit.project import load_project
    from evalkit.store import open_store

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, "g" * 40)
        root = tmp_path_factory.mktemp("example-store") / "project"
        copy_monitoring_project(root)
        report = write_demo_extracts(root)
        mon = load_monitoring(root)
        project = load_project(root, check_data=False)
        store = open_store(root / ".evalkit" / "evalkit.duckdb")
        list(ingest_demo_extracts(store, mon, root, report))
        if mon.mapping is not None:
            refresh_mapping(store, mon.mapping, mon.measures)
        yield mon, project, store
        store.close()
