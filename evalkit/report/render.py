"""Render a Quarto ``.qmd`` to one self-contained HTML file (and, for reports, to PDF).

Public API (other packages call these; keep the signatures stable):

``render_html(qmd_path: Path, out_html: Path) -> Path``
    Render ``qmd_path`` to ``out_html`` and return ``out_html``. The file is self-contained:
    styles, scripts (plotly.js inlined, never from a CDN), figures and diagrams embedded, so it
    opens without network. With the Quarto CLI on PATH, ``quarto render`` does the work;
    otherwise the same ``.qmd`` is executed here and rendered by Pandoc from the
    ``pypandoc-binary`` wheel (``--standalone --embed-resources``). Set ``EVALKIT_NO_QUARTO=1``
    to force the Pandoc path. Raises :class:`RenderError` (an ``EvalkitError``) with the chunk
    and line when a code chunk fails.

``render_pdf(qmd_path: Path, out_pdf: Path) -> Path``
    The same document to PDF through Pandoc's Typst writer and the ``typst`` wheel; figures
    are static (matplotlib), diagrams SVG.

Helpers for code chunks (same Markdown under both renderers): ``raw_block(content, fmt="html")``
wraps raw HTML (or ``typst``) for one output format; ``evalkit.report.figures.figure_markdown(fig)``
shows a plotly figure (plotly.js inlined once per page); ``evalkit.report.figures.emit(plotly_builder,
matplotlib_builder)`` picks the interactive or the static figure for the format being rendered.

What the Pandoc path understands of Quarto (the rest degrades to plain Markdown):

- ```` ```{python} ```` chunks run in order in one namespace, with the working directory set to
  the ``.qmd``'s folder, and the options ``#| echo``, ``eval``, ``include``, ``output``
  (``true``/``false``/``asis``), ``error``, ``label``, ``fig-cap``, ``tbl-cap``; the document's
  ``execute:`` front matter sets the defaults (Quarto's: ``echo: true``). Printed text is
  shown as code output, or inserted as Markdown with ``output: asis``. A chunk's last
  expression is shown: a plotly figure as an interactive figure, a pandas frame as a table, a
  matplotlib figure as an image, anything else as text.
- inline ```{python} expr``` is replaced by ``str(expr)``, escaped.
- ```` ```{mermaid} ```` is drawn as SVG by :mod:`evalkit.report.mermaid` (flowcharts), or shown
  as its source in a box labelled as a text fallback.
- callouts (``::: {.callout-note}`` / ``-tip`` / ``-warning`` / ``-important`` / ``-caution``,
  with ``title=`` or a first heading) become styled boxes; cross-references ``@fig-x``,
  ``@tbl-x``, ``@sec-x`` become numbered links; figure/table labels get captions.
- front matter: ``title``, ``subtitle``, ``author``, ``date``, ``toc``, ``lang`` are used;
  other keys (``format``, ``execute``, ``jupyter``, ``crossref``, ...) are ignored.

Safety: the Pandoc path reads Markdown **without** the ``raw_html`` extension, so HTML written
in the text (or coming from data into the text) is shown as text; raw HTML must come in an
explicit ```` ```{=html} ```` block, which only code (``evalkit.report.figures``) writes.
Titles go to Pandoc as literal strings, never parsed as Markdown.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.report import figures
from evalkit.report.figures import md_text

__all__ = ["RenderError", "render_html", "render_pdf", "execute_qmd", "quarto_available", "output_format", "raw_block"]

ASSETS = Path(__file__).resolve().parent / "assets"
FORMAT_ENV = "EVALKIT_REPORT_TO"  # html | typst: what the chunks write figures for
_CALLOUT_TITLES = {"note": "Note", "tip": "Tip", "warning": "Warning", "important": "Important", "caution": "Caution"}


class RenderError(EvalkitError):
    """A document could not be rendered (a chunk failed, or the renderer did)."""


def output_format() -> str:
    """What the document is being rendered to: ``html`` (default) or ``typst`` (PDF)."""
    return os.environ.get(FORMAT_ENV, "html")


def quarto_available() -> bool:
    return shutil.which("quarto") is not None and os.environ.get("EVALKIT_NO_QUARTO") != "1"


# --------------------------------------------------------------------------------------------
# public entry points


def render_html(qmd_path: Path, out_html: Path) -> Path:
    """Render ``qmd_path`` to one self-contained HTML file at ``out_html``; return its path."""
    qmd_path, out_html = Path(qmd_path).resolve(), Path(out_html).resolve()
    if not qmd_path.is_file():
        raise RenderError(f"{qmd_path}: no such document")
    out_html.parent.mkdir(parents=True, exist_ok=True)
    if quarto_available():
        return _quarto(qmd_path, out_html, "html")
    with tempfile.TemporaryDirectory(prefix="evalkit-render-") as tmp:
        doc = execute_qmd(qmd_path, to="html", workdir=Path(tmp))
        _pandoc(doc, out_html, "html", Path(tmp))
    return out_html


def render_pdf(qmd_path: Path, out_pdf: Path) -> Path:
    """Render ``qmd_path`` to PDF (Pandoc -> Typst -> ``typst`` wheel); return ``out_pdf``."""
    import typst

    qmd_path, out_pdf = Path(qmd_path).resolve(), Path(out_pdf).resolve()
    out_pdf.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="evalkit-render-") as tmp:
        tmpdir = Path(tmp)
        doc = execute_qmd(qmd_path, to="typst", workdir=tmpdir)
        typ = tmpdir / "document.typ"
        _pandoc(doc, typ, "typst", tmpdir)
        try:
            typst.compile(str(typ), output=str(out_pdf), root=str(tmpdir))
        except Exception as exc:  # typst raises its own error type with the message
            raise RenderError(f"{qmd_path.name}: Typst could not build the PDF: {exc}") from exc
    return out_pdf


# --------------------------------------------------------------------------------------------
# Quarto


def _quarto(qmd_path: Path, out: Path, to: str) -> Path:
    env = dict(os.environ, **{FORMAT_ENV: "typst" if to == "typst" else "html"})
    with tempfile.TemporaryDirectory(prefix="evalkit-quarto-") as tmp:
        cmd = ["quarto", "render", str(qmd_path), "--to", to, "--output-dir", tmp,
               "-M", "embed-resources:true", "--no-clean"]
        proc = subprocess.run(cmd, cwd=qmd_path.parent, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise RenderError(f"quarto render {qmd_path.name} failed:\n{proc.stderr.strip()[-2000:]}")
        suffix = ".pdf" if to == "typst" else ".html"
        made = sorted(Path(tmp).rglob(qmd_path.stem + suffix)) or sorted(Path(tmp).rglob("*" + suffix))
        if not made:
            raise RenderError(f"quarto render {qmd_path.name} made no {suffix} file")
        shutil.copyfile(made[0], out)
    return out


# --------------------------------------------------------------------------------------------
# executing a .qmd: front matter, chunks, inline code, mermaid, cross-references


@dataclass
class Document:
    """A .qmd after execution: Markdown Pandoc can read, plus the metadata that matters."""

    markdown: str
    meta: dict[str, Any] = field(default_factory=dict)
    plotly: bool = False  # plotly figures shown without plotly.js: the page must add it


_FRONT = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*\n", re.S)
_CHUNK = re.compile(r"^(?P<fence>`{3,})[ \t]*\{(?P<lang>[A-Za-z]+)(?P<head>[^}\n]*)\}[ \t]*\n(?P<body>.*?)^(?P=fence)[ \t]*$",
                    re.S | re.M)
_INLINE = re.compile(r"`\{python\}\s+([^`]+)`")
_XREF = re.compile(r"(?<![\w@])@((?:fig|tbl|sec)-[\w-]+)")
_KIND_WORD = {"fig": "Figure", "tbl": "Table", "sec": "Section"}


def _parse_options(body: str, head: str) -> tuple[dict, str]:
    import yaml

    opts: dict = {}
    for m in re.finditer(r"(\w[\w-]*)\s*=\s*(\"[^\"]*\"|'[^']*'|[^,\s]+)", head):
        key, value = m.group(1).replace("_", "-"), m.group(2).strip("\"'")
        opts[key] = {"true": True, "false": False, "TRUE": True, "FALSE": False}.get(value, value)
    lines = body.splitlines(keepends=True)
    opt_lines = []
    while lines and lines[0].lstrip().startswith("#|"):
        opt_lines.append(lines.pop(0).lstrip()[2:])
    if opt_lines:
        try:
            parsed = yaml.safe_load("".join(opt_lines)) or {}
        except yaml.YAMLError as exc:
            raise RenderError(f"chunk options are not YAML: {exc}") from exc
        if isinstance(parsed, dict):
            opts.update(parsed)
    return opts, "".join(lines)


def _ticks(text: str) -> str:
    """A code fence longer than any run of backticks inside ``text`` (at least three)."""
    return "`" * max(3, max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)


def _fence(text: str, cls: str = "") -> str:
    ticks = _ticks(text)
    return f"{ticks}{' ' + cls if cls else ''}\n{text.rstrip()}\n{ticks}\n"


def raw_block(content: str, fmt: str = "html") -> str:
    """Markdown for a raw block passed through to one output format only."""
    ticks = _ticks(content)
    return f"\n{ticks}{{={fmt}}}\n{content}\n{ticks}\n"


class _Session:
    """One document's execution: a namespace, counters for figures and tables."""

    def __init__(self, qmd_path: Path, to: str, workdir: Path, defaults: dict):
        self.qmd_path, self.to, self.workdir, self.defaults = qmd_path, to, workdir, defaults
        self.ns: dict[str, Any] = {"__name__": "__main__", "__file__": str(qmd_path)}
        self.ns["display"] = self._display
        self._shown: list[str] = []
        self.labels: dict[str, str] = {}
        self.counts = {"fig": 0, "tbl": 0}
        self.n_assets = 0

    def _display(self, *objs) -> None:
        for obj in objs:
            self._shown.append(self.show(obj))

    def show(self, value: Any) -> str:
        """Markdown for one displayed value."""
        mod = type(value).__module__
        if mod.startswith("plotly"):
            return figures.figure_markdown(value, to=self.to, asset_dir=self.workdir)
        if mod.startswith("matplotlib"):
            return figures.matplotlib_markdown(value, to=self.to, asset_dir=self.workdir)
        if mod.startswith("pandas") and hasattr(value, "to_html"):
            if self.to == "html":
                return raw_block(value.to_html(escape=True, border=0, classes="ek-table", na_rep=""))
            return figures.frame_markdown(value)
        if hasattr(value, "_repr_markdown_"):
            return str(value._repr_markdown_())
        return _fence(repr(value))

    def run_chunk(self, code: str, opts: dict, where: str) -> str:
        o = dict(self.defaults)
        o.update(opts)
        parts = []
        if o.get("echo", True) is True and o.get("include", True) is not False:
            parts.append(_fence(code, "python"))
        if o.get("eval", True) is False:
            return "\n".join(parts) if o.get("include", True) is not False else ""
        self._shown = []
        buf = io.StringIO()
        value = None
        cwd = os.getcwd()
        try:
            os.chdir(self.qmd_path.parent)
            tree = ast.parse(code, filename=where)
            last = None
            if tree.body and isinstance(tree.body[-1], ast.Expr):
                last = ast.Expression(tree.body.pop().value)
            with contextlib.redirect_stdout(buf):
                exec(compile(tree, where, "exec"), self.ns)
                if last is not None:
                    value = eval(compile(last, where, "eval"), self.ns)
        except Exception as exc:
            if o.get("error") is True:
                parts.append(_fence(f"{type(exc).__name__}: {exc}"))
                return "\n".join(parts)
            raise RenderError(f"{where}: the code chunk failed: {type(exc).__name__}: {exc}") from exc
        finally:
            os.chdir(cwd)
        if o.get("include", True) is False or o.get("output", True) is False:
            return ""
        printed = buf.getvalue()
        if printed:
            parts.append(printed if o.get("output") == "asis" else _fence(printed))
        parts += self._shown
        if value is not None:
            parts.append(self.show(value))
        body = "\n".join(parts)
        label = str(o.get("label") or "")
        kind = label.split("-", 1)[0] if "-" in label else ""
        if kind in ("fig", "tbl"):
            self.counts[kind] += 1
            word = _KIND_WORD[kind]
            number = f"{word} {self.counts[kind]}"
            self.labels[label] = number
            cap = o.get(f"{kind}-cap")
            caption = f"{number}: {md_text(str(cap))}" if cap else number
            cap_md = f"\n::: {{.ek-caption}}\n{caption}\n:::\n"
            inner = f"{cap_md}\n{body}\n" if kind == "tbl" else f"\n{body}\n{cap_md}"
            return f"\n:::: {{#{label} .ek-{kind}}}\n{inner}\n::::\n"
        return body

    def inline(self, expr: str, where: str) -> str:
        try:
            value = eval(expr, self.ns)
        except Exception as exc:
            raise RenderError(f"{where}: inline code `{expr}` failed: {type(exc).__name__}: {exc}") from exc
        return md_text(str(value))


def _mermaid(source: str, to: str, workdir: Path, n: int) -> str:
    from evalkit.report.mermaid import MermaidUnsupported, mermaid_to_svg

    try:
        svg = mermaid_to_svg(source)
    except MermaidUnsupported as exc:
        return ("\n::: {.ek-diagram-fallback}\n**Diagram shown as text** (drawn by Quarto with Mermaid; this "
                f"offline rendering cannot draw it: {md_text(str(exc))})\n\n" + _fence(source, "mermaid") + ":::\n")
    if to == "html":
        return raw_block(f'<figure class="ek-diagram">{svg}</figure>')
    path = workdir / f"diagram-{n}.svg"
    path.write_text(svg, encoding="utf-8")
    return f"\n![]({path.name})\n"


def execute_qmd(qmd_path: Path, *, to: str = "html", workdir: Path | None = None) -> Document:
    """Run a .qmd's code and return Markdown that Pandoc can read (see the module doc)."""
    import yaml

    qmd_path = Path(qmd_path).resolve()
    text = qmd_path.read_text(encoding="utf-8")
    meta: dict[str, Any] = {}
    m = _FRONT.match(text)
    if m:
        try:
            meta = yaml.safe_load(m.group(1)) or {}
        except yaml.YAMLError as exc:
            raise RenderError(f"{qmd_path.name}: front matter is not YAML: {exc}") from exc
        if not isinstance(meta, dict):
            meta = {}
        text = text[m.end():]
    execute = meta.get("execute") if isinstance(meta.get("execute"), dict) else {}
    workdir = Path(workdir or tempfile.mkdtemp(prefix="evalkit-render-"))
    figures.reset_document()
    names = (FORMAT_ENV, "EVALKIT_ASSET_DIR", "EVALKIT_PLOTLY_JS")
    previous = tuple(os.environ.get(n) for n in names)
    os.environ[FORMAT_ENV] = to
    os.environ["EVALKIT_ASSET_DIR"] = str(workdir)  # static figures for Typst are written here
    os.environ["EVALKIT_PLOTLY_JS"] = "inject"
    try:
        session = _Session(qmd_path, to, workdir, execute)
        out, pos, n_diagrams = [], 0, 0
        for chunk in _CHUNK.finditer(text):
            line = text.count("\n", 0, chunk.start()) + 1
            where = f"{qmd_path.name}, chunk at line {line + _front_lines(m)}"
            out.append(_inline_all(session, text[pos:chunk.start()], where))
            lang = chunk.group("lang").lower()
            opts, body = _parse_options(chunk.group("body"), chunk.group("head"))
            if opts.get("label"):
                where += f" ({opts['label']})"
            if lang == "python":
                out.append(session.run_chunk(body, opts, where))
            elif lang == "mermaid":
                n_diagrams += 1
                out.append(_mermaid(body, to, workdir, n_diagrams))
            else:  # other engines (r, ojs, dot, ...) cannot run here: show their source
                out.append(_fence(body, lang))
            pos = chunk.end()
        out.append(_inline_all(session, text[pos:], qmd_path.name))
    finally:
        for name, value in zip(names, previous):
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    markdown = "".join(out)
    markdown = _resolve_xrefs(markdown, session.labels)
    return Document(markdown=markdown, meta=meta, plotly=figures.plotly_used())


def _front_lines(m) -> int:
    return m.group(0).count("\n") if m else 0


def _inline_all(session: _Session, text: str, where: str) -> str:
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)  # comments stay out of the output, as in Quarto
    return _INLINE.sub(lambda mm: session.inline(mm.group(1).strip(), where), text)


def _resolve_xrefs(markdown: str, labels: dict[str, str]) -> str:
    # section headings with {#sec-...}: number them in order of appearance
    sections = {}
    for i, mm in enumerate(re.finditer(r"^#{1,6}\s+(.*?)\s*\{#(sec-[\w-]+)[^}]*\}\s*$", markdown, re.M), start=1):
        sections[mm.group(2)] = mm.group(1)

    def repl(mm):
        label = mm.group(1)
        if label in labels:
            return f"[{labels[label]}](#{label})"
        if label in sections:
            return f"[{sections[label]}](#{label})"
        return f"{_KIND_WORD[label.split('-', 1)[0]]} ?"
    return _XREF.sub(repl, markdown)


# --------------------------------------------------------------------------------------------
# Pandoc


_READER = "markdown-raw_html-raw_tex+raw_attribute+fenced_divs+bracketed_spans+pipe_tables"


def _pandoc(doc: Document, out: Path, to: str, workdir: Path) -> Path:
    import pypandoc

    src = workdir / "document.md"
    src.write_text(doc.markdown, encoding="utf-8")
    args = [pypandoc.get_pandoc_path(), str(src), "-f", _READER, "-o", str(out), "--standalone",
            "--lua-filter", str(ASSETS / "quarto-compat.lua"), "--resource-path", str(workdir)]
    meta = doc.meta
    for key in ("title", "subtitle", "author", "date", "lang"):
        value = meta.get(key)
        if isinstance(value, list):
            value = ", ".join(str(v.get("name", v)) if isinstance(v, dict) else str(v) for v in value)
        if value is not None and not isinstance(value, dict):
            # a literal string, never read as Markdown or HTML; Markdown escapes (which Quarto
            # reads as the character itself) are undone so both renderers show the same text
            value = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(value))
            args += ["-M", f"{key}={value}"]
    if "lang" not in meta:
        args += ["-M", "lang=en-GB"]
    toc = meta.get("toc")
    fmt = meta.get("format")
    if fmt == "dashboard" or (isinstance(fmt, dict) and "dashboard" in fmt):
        args += ["-M", "evalkit-dashboard=true"]
    if isinstance(fmt, dict) and isinstance(fmt.get("html"), dict) and "toc" in fmt["html"]:
        toc = fmt["html"]["toc"] if toc is None else toc
    if toc:
        args += ["--toc", "--toc-depth", "2"]
    if to == "html":
        args += ["-t", "html5", "--embed-resources", "--css", str(ASSETS / "report.css"),
                 "--syntax-highlighting=pygments" if _pandoc_major() >= 3.8 else "--highlight-style=pygments"]
        if "title" not in meta:
            args += ["-M", f"pagetitle={out.stem}"]
    else:
        args += ["-t", "typst"]
    proc = subprocess.run(args, cwd=workdir, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RenderError(f"pandoc could not render the document: {proc.stderr.strip()[-2000:]}")
    if to == "html" and doc.plotly:
        _inline_plotly_js(out)
    return out


def _inline_plotly_js(page: Path) -> None:
    """Put plotly.js (from the installed plotly package, never a CDN) into the page's head."""
    from plotly.offline import get_plotlyjs

    text = page.read_text(encoding="utf-8")
    script = '<script type="text/javascript">/* plotly.js, inlined by evalkit */\n' + get_plotlyjs() + "\n</script>\n"
    head_end = text.find("</head>")
    if head_end < 0:
        raise RenderError(f"{page}: no </head> to put plotly.js into")
    tmp = page.with_name(page.name + ".tmp")
    tmp.write_text(text[:head_end] + script + text[head_end:], encoding="utf-8")
    tmp.replace(page)


def _pandoc_major() -> float:
    import pypandoc

    try:
        major, minor = pypandoc.get_pandoc_version().split(".")[:2]
        return int(major) + int(minor) / 10
    except Exception:  # pragma: no cover
        return 3.0
