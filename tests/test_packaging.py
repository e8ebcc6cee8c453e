"""pyproject.toml: installs without deprecation warnings, and ships what `evalkit init` copies."""

from __future__ import annotations

import fnmatch
import tomllib

from conftest import REPO


def _pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_licence_is_an_spdx_expression():
    # a table (`{text = ...}`) is deprecated since setuptools 77 and warned on every install
    data = _pyproject()
    assert isinstance(data["project"]["license"], str)
    assert any(r.startswith("setuptools>=77") for r in data["build-system"]["requires"])


def test_starter_project_files_are_package_data():
    patterns = _pyproject()["tool"]["setuptools"]["package-data"]["evalkit"]
    starter = REPO / "evalkit" / "scaffold" / "starter"
    files = [p.relative_to(REPO / "evalkit").as_posix() for p in starter.rglob("*") if p.is_file()]
    assert files
    for name in files:
        # setuptools matches `**/*.yml` against the path inside the package
        assert any(fnmatch.fnmatch(name, pattern.replace("**/", "*")) for pattern in patterns), name
