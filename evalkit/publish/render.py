"""Render a ``.qmd`` written by evalkit to one self-contained HTML file, or to PDF.

``render(qmd, out, settings)``: with the Quarto CLI on PATH (and ``settings.engine`` not
``pandoc``), ``quarto render`` does the work; otherwise Pandoc (the ``pypandoc-binary`` wheel)
reads the same file, with ``assets/quarto-compat.lua`` for the Quarto features evalkit's
documents use, and the ``typst`` wheel makes the PDF. Nothing is executed: evalkit's documents
hold their published values (see :mod:`evalkit.publish.document`); a document with executable
code chunks is refused on the Pandoc path, since only Quarto runs those.

Settings are passed explicitly (:class:`RenderSettings`); nothing is read from the environment
except ``EVALKIT_NO_QUARTO=1``, the user's switch to force the Pandoc path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError

ASSETS = Path(__file__).resolve().parent / "assets"
_READER = "markdown-raw_html-raw_tex+raw_attribute+fenced_divs+bracketed_spans+pipe_tables"


class RenderError(EvalkitError):
    """A document could not be rendered."""


@dataclass(frozen=True)
class RenderSettings:
    to: str = "html"  # html | pdf
    engine: str = "auto"  # auto (Quarto when on PATH) | quarto | pandoc

    def __post_init__(self):
        from evalkit.errors import check_choice

        check_choice("render to", self.to, ("html", "pdf"))
        check_choice("render engine", self.engine, ("auto", "quarto", "pandoc"))


def quarto_available() -> bool:
    return shutil.which("quarto") is not None and os.environ.get("EVALKIT_NO_QUARTO") != "1"


def render(qmd: Path, out: Path, settings: RenderSettings = RenderSettings()) -> Path:
    qmd, out = Path(qmd).resolve(), Path(out).resolve()
    if not qmd.is_file():
        raise RenderError(f"{qmd}: no such document")
    out.parent.mkdir(parents=True, exist_ok=True)
    use_quarto = settings.engine == "quarto" or (settings.engine == "auto" and quarto_available())
    if use_quarto:
        return _quarto(qmd, out, "typst" if settings.to == "pdf" else "html")
    if settings.to == "html":
        return _pandoc(qmd, out, "html")
    # the Typst source sits beside the .qmd, so the figures' relative paths resolve as they do for Quarto
    typ = qmd.with_name(f".{qmd.stem}.evalkit.typ")
    try:
        _pandoc(qmd, typ, "typst")
        _typst_compile(qmd, typ, out)
    finally:
        typ.unlink(missing_ok=True)
    return out


def _typst_compile(qmd: Path, typ: Path, out: Path) -> None:
    from evalkit import _parallel

    if _parallel.in_helper():
        # typst's compiler keeps a pool of threads: in a process forked from one that has compiled
        # before, the pool's threads are gone and the compile waits for them forever (seen in the
        # suite, where one process renders many reports). A fresh interpreter has its own pool.
        code = ("import sys, typst\n"
                "try:\n    typst.compile(sys.argv[1], output=sys.argv[2], root=sys.argv[3])\n"
                "except Exception as exc:\n    sys.stderr.write(str(exc)); sys.exit(3)\n")
        done = subprocess.run([sys.executable, "-c", code, str(typ), str(out), str(qmd.parent)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise RenderError(f"{qmd.name}: Typst could not build the PDF: {done.stderr.strip()[:500]}")
        return
    import typst

    try:
        typst.compile(str(typ), output=str(out), root=str(qmd.parent))
    except Exception as exc:  # typst raises its own error type with the message
        raise RenderError(f"{qmd.name}: Typst could not build the PDF: {str(exc).strip()[:500]}") from exc


def render_html(qmd: Path, out: Path) -> Path:
    return render(qmd, out, RenderSettings("html"))


def render_pdf(qmd: Path, out: Path) -> Path:
    return render(qmd, out, RenderSettings("pdf"))


def _quarto(qmd: Path, out: Path, to: str) -> Path:
    with tempfile.TemporaryDirectory(prefix="evalkit-quarto-") as tmp:
        cmd = ["quarto", "render", str(qmd), "--to", to, "--output-dir", tmp, "-M", "embed-resources:true"]
        proc = subprocess.run(cmd, cwd=qmd.parent, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RenderError(f"quarto render {qmd.name} failed: {proc.stderr.strip()[-1500:]}")
        suffix = ".pdf" if to == "typst" else ".html"
        made = sorted(Path(tmp).rglob(qmd.stem + suffix)) or sorted(Path(tmp).rglob("*" + suffix))
        if not made:
            raise RenderError(f"quarto render {qmd.name} made no {suffix} file")
        shutil.copyfile(made[0], out)
    return out


def _front_matter(qmd: Path) -> dict:
    import yaml

    text = qmd.read_text(encoding="utf-8")
    if not text.startswith("---"):
        return {}
    end = text.find("\n---", 3)
    try:
        meta = yaml.safe_load(text[3:end]) if end > 0 else {}
    except yaml.YAMLError as exc:
        raise RenderError(f"{qmd.name}: the front matter is not YAML: {exc}") from None
    return meta if isinstance(meta, dict) else {}


def _pandoc(qmd: Path, out: Path, to: str) -> Path:
    import pypandoc

    meta = _front_matter(qmd)
    args = [pypandoc.get_pandoc_path(), str(qmd), "-f", _READER, "-o", str(out), "--standalone",
            "--lua-filter", str(ASSETS / "quarto-compat.lua"), "--resource-path", str(qmd.parent)]
    fmt = meta.get("format")
    dashboard = fmt == "dashboard" or (isinstance(fmt, dict) and "dashboard" in fmt)
    if dashboard:
        args += ["-M", "evalkit-dashboard=true"]
    toc = meta.get("toc")
    if isinstance(fmt, dict) and isinstance(fmt.get("html"), dict) and toc is None:
        toc = fmt["html"].get("toc")
    if toc and not dashboard:
        args += ["--toc", "--toc-depth", "2"]
    if "lang" not in meta:
        args += ["-M", "lang=en-GB"]
    if to == "html":
        args += ["-t", "html5", "--embed-resources", "--css", str(ASSETS / "report.css")]
        args += ["--syntax-highlighting=pygments" if _pandoc_version() >= (3, 8) else "--highlight-style=pygments"]
        if "title" not in meta:
            args += ["-M", f"pagetitle={qmd.stem}"]
    else:
        args += ["-t", "typst"]
    proc = subprocess.run(args, cwd=qmd.parent, capture_output=True, text=True)
    if proc.returncode != 0:
        err = proc.stderr.strip()
        if "EVALKIT-EXECUTABLE-CHUNK" in err:
            raise RenderError(f"{qmd.name}: holds executable code chunks, which only Quarto runs; evalkit's Pandoc "
                              "path renders documents that already hold their results (install Quarto, or let "
                              "evalkit write the document)")
        raise RenderError(f"pandoc could not render {qmd.name}: {err[-1500:]}")
    return out


def _pandoc_version() -> tuple[int, int]:
    import pypandoc

    try:
        major, minor = pypandoc.get_pandoc_version().split(".")[:2]
        return int(major), int(minor)
    except Exception:  # pragma: no cover
        return (3, 0)
