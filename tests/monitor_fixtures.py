"""The example project's monitoring store, shared by the tests that need realistic volumes.

- ``example_store``: (monitoring settings, project, open store) with every demo extract ingested.
- ``example_dashboard``: (project root, files written) after ``write_dashboard`` on that data; the
  demo extracts are generated, ingested and the dashboard written once per session for all
  xdist workers, and each test module gets its own copy of the project (it may write into it,
  e.g. ``evalkit monitor sna``). The pseudonymisation key stays set while the module's tests run.

Import the fixture into a test module with ``from monitor_fixtures import example_dashboard``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import copy_monitoring_project, shared_build

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


DASHBOARD_KEY = "d" * 40  # the pseudonymisation key the dashboard's project was ingested with


def _build_dashboard(folder: Path) -> None:
    from evalkit.monitor.config import load_monitoring
    from evalkit.monitor.dashboard import write_dashboard
    from evalkit.monitor.synth import ingest_demo_extracts, write_demo_extracts
    from evalkit.project import load_project
    from evalkit.store import open_store

    root = folder / "project"
    copy_monitoring_project(root)
    report = write_demo_extracts(root)
    mon = load_monitoring(root)
    project = load_project(root, check_data=False)
    with open_store(root / ".evalkit" / "evalkit.duckdb") as store:
        list(ingest_demo_extracts(store, mon, root, report))
        written = write_dashboard(store, mon, project, root / "reports" / "monitoring")
    (folder / "written.json").write_text(
        __import__("json").dumps({k: str(Path(v).relative_to(root)) for k, v in written.items()}))


@pytest.fixture(scope="module")
def example_dashboard(tmp_path_factory):
    """(root, written): the example's monitoring project with every demo extract ingested and the
    dashboard written (``written``: ``write_dashboard``'s files, by kind), a copy of its own."""
    import json

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(KEY_ENV, DASHBOARD_KEY)
        built = shared_build(tmp_path_factory, "example-dashboard", _build_dashboard)
        root = tmp_path_factory.mktemp("dashboard") / "project"
        shutil.copytree(built / "project", root, symlinks=True)
        written = {k: root / rel for k, rel in json.loads((built / "written.json").read_text()).items()}
        yield root, written
