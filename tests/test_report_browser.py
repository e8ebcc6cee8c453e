"""A real browser opens rendered reports: the plots drew, no script failed, nothing was fetched.

Runs where headless Chromium is installed (``apt-get install -y chromium``); skipped otherwise.
The page is opened from a file with networking disabled. A copy of the page carries a small
probe script that records every error event (script errors and failed resource loads) and,
after load, counts plotly figures that drew their SVG; ``--dump-dom`` returns the result. A
screenshot of the unmodified page is saved outside the repository (``EVALKIT_SCREENSHOT_DIR``,
default: the system temporary folder) and its path printed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from test_report_data import context, matched_result, prepost_result, publish_report

pytestmark = pytest.mark.browser

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome", "chrome")
                 if shutil.which(n)), None)
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
         "--disable-default-apps", "--mute-audio", "--hide-scrollbars", "--virtual-time-budget=15000"]

PROBE = """<script>
window.__ekErrors = [];
window.addEventListener('error', function (e) {
  var where = e.target && e.target !== window ? (e.target.src || e.target.href || e.target.tagName) : '';
  window.__ekErrors.push(String(e.message || 'resource failed to load') + (where ? ' @ ' + where : ''));
}, true);
window.addEventListener('unhandledrejection', function (e) { window.__ekErrors.push('rejection: ' + e.reason); });
window.addEventListener('load', function () {
  setTimeout(function () {
    var plots = document.querySelectorAll('.plotly-graph-div');
    var drawn = Array.prototype.filter.call(plots, function (p) {
      return p.querySelector('svg.main-svg') && p.querySelectorAll('.point, .bars path, .errorbar path').length > 0;
    });
    var out = document.createElement('pre');
    out.id = 'ek-browser-check';
    out.textContent = JSON.stringify({plots: plots.length, drawn: drawn.length, errors: window.__ekErrors,
                                      diagrams: document.querySelectorAll('svg.ek-diagram, svg.ek-flow').length});
    document.body.appendChild(out);
  }, 1000);
});
</script>"""

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed")]


def _chromium(args: list[str], profile: Path) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    out = {}
    for name, result in (("matched", matched_result()), ("prepost", prepost_result())):
        got = publish_report(root / name, result, context())
        out[name] = got["qmd"].with_suffix(".html")
    return out


@pytest.mark.parametrize("name,plots", [("matched", 3), ("prepost", 3)])
def test_plots_draw_and_no_script_fails(pages, name, plots, tmp_path):
    page = pages[name]
    probe = tmp_path / "probe.html"
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
    result = _chromium(["--dump-dom", probe.as_uri()], tmp_path / "profile")
    m = re.search(r'<pre id="ek-browser-check">(.*?)</pre>', result.stdout, re.S)
    assert m, f"the probe did not report: {result.stderr[-1500:]}"
    check = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                       .replace("&gt;", ">"))
    assert check["errors"] == [], check["errors"]
    assert check["plots"] == plots and check["drawn"] == plots, check
    assert check["diagrams"] >= 2  # logic model and participant flow


def test_screenshot_of_a_report(pages, tmp_path):
    folder = Path(os.environ.get("EVALKIT_SCREENSHOT_DIR") or tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    shot = folder / "evalkit-report-matched.png"
    shot.unlink(missing_ok=True)
    result = _chromium(["--window-size=1280,3800", f"--screenshot={shot}", pages["matched"].as_uri()],
                       tmp_path / "profile")
    assert shot.exists() and shot.stat().st_size > 20_000, result.stderr[-1500:]
    from PIL import Image

    with Image.open(shot) as im:
        colours = im.convert("RGB").resize((64, 190)).getcolors(maxcolors=64 * 190)
    assert len(colours) > 20  # not a blank page
    print(f"screenshot: {shot}")


def test_an_example_report_opens_cleanly(example_project, tmp_path):
    from conftest import run_cli

    root = example_project
    assert run_cli("run", "mvp-external-trial", "--project", str(root)).returncode == 0
    assert run_cli("report", "mvp-external-trial", "--project", str(root)).returncode == 0
    for page in (root / "reports" / "mvp-external-trial" / "index.html", root / "reports" / "index.html"):
        probe = tmp_path / f"probe-{page.parent.name}.html"
        probe.write_text(page.read_text(encoding="utf-8").replace("<head>", "<head>\n" + PROBE, 1), encoding="utf-8")
        result = _chromium(["--dump-dom", probe.as_uri()], tmp_path / "profile")
        m = re.search(r'<pre id="ek-browser-check">(.*?)</pre>', result.stdout, re.S)
        assert m, result.stderr[-1500:]
        check = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
        assert check["errors"] == [] and check["plots"] == check["drawn"], check
