"""After `evalkit demo`, reports/ holds only scanned publications (issue 12's leak routes).

In a file of its own (issue 20): it runs the whole demo, about a minute, and the suite runs one file
per worker at a time (`--dist loadfile`), so it should start first and alone, not after the rest of
test_publish_routes.py.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from conftest import run_cli

from evalkit.publish.policy import Policy
from evalkit.publish.scan import scan_html


PUBLISHED_FILES = {
    r"index\.(html|qmd)": "portfolio page",
    r"[a-z0-9-]+/index\.(html|pdf|qmd)": "evaluation report",
    r"[a-z0-9-]+/index-assets/(flow|logic-model)\.svg": "report diagram (PDF)",
    r"[a-z0-9-]+/index-assets/figure-\d+\.png": "report figure (PDF)",
    r"monitoring/dashboard\.(html|qmd)": "dashboard",
    r"monitoring/dashboard_data\.json": "dashboard export",
    r"monitoring/sna-\d{4}-\d{2}-to-\d{4}-\d{2}\.(html|qmd)": "needs assessment",
    r"(monitoring/)?_evalkit/plotly\.min\.js": "plotly's library",
}


@pytest.mark.slow
def test_after_the_demo_reports_holds_only_scanned_publications(example_project, monkeypatch):
    """Every file under reports/ after `evalkit demo` is a scanned publication or the static README."""
    from plotly.offline import get_plotlyjs

    from evalkit.monitor.keys import KEY_ENV
    from evalkit.project import REPORTS_README
    from evalkit.publish.scan import scan_asset, scan_export, scan_pdf

    root = example_project
    (root / "reports").mkdir()
    (root / "reports" / "README.md").write_text(REPORTS_README)
    monkeypatch.setenv(KEY_ENV, "k" * 40)
    done = run_cli("demo", "--project", str(root))
    assert done.returncode == 0, done.stderr[-3000:]
    receipts = json.loads((root / ".evalkit" / "published.json").read_text())
    pol = Policy(threshold=5)
    kinds: dict[str, int] = {}
    for path in sorted(p for p in (root / "reports").rglob("*") if not p.is_dir()):
        rel = str(path.relative_to(root / "reports"))
        if rel == "README.md":
            assert path.read_text() == REPORTS_README
            continue
        kind = next((k for pattern, k in PUBLISHED_FILES.items() if re.fullmatch(pattern, rel)), None)
        assert kind is not None, f"reports/{rel}: not a file type the publishing layer scans"
        kinds[kind] = kinds.get(kind, 0) + 1
        data = path.read_bytes()
        assert receipts.get(f"reports/{rel}") == hashlib.sha256(data).hexdigest(), f"reports/{rel}: not as scanned"
        if path.suffix == ".html":
            assert scan_html(data.decode(), pol) == [], rel
        elif path.suffix == ".pdf":
            assert scan_pdf(path, pol, path.with_suffix(".html").read_text()) == [], rel
        elif path.suffix == ".json":
            assert scan_export(path, pol) == [], rel
        elif path.suffix == ".js":
            assert data.decode() == get_plotlyjs(), rel
        else:
            assert scan_asset(path, pol) == [], rel
    assert set(kinds) == set(PUBLISHED_FILES.values()), kinds  # the demo made every kind of output
    assert kinds["evaluation report"] >= 3 * 8  # each evaluation's HTML, PDF and .qmd
    # the analyst's files are where results_path says, not in the upload
    assert len(list((root / ".evalkit" / "results").glob("*/results.json"))) >= 8
    assert (root / ".evalkit" / "results" / "portfolio.json").is_file()
    assert not [p for p in (root / "reports").rglob("*") if p.name in ("results.json", "run-info.json",
                                                                      "portfolio.json", "analysed_data.csv")]
