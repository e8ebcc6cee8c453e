"""A publication: pages (and exports) sharing one ledger, solved once, written, scanned, published.

``evalkit report`` makes one publication of every report and the portfolio page (a count on the
portfolio page and the same count in a report are one cell); ``evalkit monitor dashboard`` makes
one of the dashboard's pages and its data export. See :mod:`evalkit.publish` for the API.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.publish.document import Markdown, Page, Para
from evalkit.publish.ledger import Ledger
from evalkit.publish.policy import DisclosureError, Policy
from evalkit.publish.text import untrusted
from evalkit.publish.values import Phrase

PLOTLY_JS = "_evalkit/plotly.min.js"


@dataclass
class Published:
    pages: dict[str, dict[str, Path]] = field(default_factory=dict)  # page path -> {"qmd","html","pdf"}
    failed: dict[str, str] = field(default_factory=dict)  # page path -> one-line reason
    exports: list[Path] = field(default_factory=list)


class PubPage(Page):
    """A page that declares its counts in the publication's ledger."""

    ledger: Ledger

    def count(self, value, **kw):
        c = self.ledger.count(value, **kw)
        self.counts.append(c)
        return c

    def untrusted_para(self, text: str, style: str = "", bullet: bool = False) -> Para:
        """A paragraph of text written by other code; its numbers become counts (see ``text.untrusted``)."""
        block = Para(Phrase(""), style)
        self.blocks.append(block)
        self.pending.append(lambda: setattr(block, "phrase", untrusted(text, self.ledger, list(self.counts))))
        return block

    def untrusted_col(self, text: str, field: str | None = None):
        """A table cell of text written by other code (its numbers become counts once all are declared)."""
        from evalkit.publish.document import Col

        col = Col(Phrase(""), field)
        self.pending.append(lambda: setattr(col, "content", untrusted(text, self.ledger, list(self.counts))))
        return col

    def untrusted_item(self, text: str, items: list, index: int) -> None:
        """``items[index]`` becomes the phrase of ``text`` once all counts are declared (bullet lists)."""
        def fill():
            items[index] = untrusted(text, self.ledger, list(self.counts))
        self.pending.append(fill)


RECORDS = "disclosure"  # .evalkit/disclosure/<family>/<publication>.json: what each published page tells


class Publication:
    """Pages and exports sharing one ledger.

    ``family`` and ``name``: publications published at different times that a reader sees together
    (the dashboard and each strategic needs assessment: ``family="monitoring"``) are solved against
    one ledger: this one adopts what the others already publish (their records under
    ``.evalkit/disclosure/<family>/``, owner-only, with true counts) and, once published, records its
    own. So a count one hides cannot be worked out from the other's cells, in any order of publishing.
    """

    def __init__(self, policy: Policy, *, project_root: Path, out_root: Path, setting: str,
                 family: str | None = None, name: str | None = None):
        self.policy = policy
        self.ledger = Ledger(policy)
        self.project_root = Path(project_root)
        self.out_root = Path(out_root)
        self.setting = setting
        self.pages: list[PubPage] = []
        self.exports: list[tuple[str, Callable[[], bytes], tuple[str, ...]]] = []
        self.family, self.name = family, name
        if family is not None:
            if not name:
                raise ValueError("a publication of a family needs a name")
            self.ledger.adopt(read_records(self.project_root, family, exclude=name))

    def record_path(self) -> Path:
        return self.project_root / ".evalkit" / RECORDS / self.family / (_record_file(self.name) + ".json")

    def page(self, path: str, title: str, **kw) -> PubPage:
        p = PubPage(path=path, title=title, **kw)
        p.ledger = self.ledger
        self.pages.append(p)
        return p

    def export(self, rel: str, build: Callable[[], bytes], count_columns: tuple[str, ...] = ()) -> None:
        """A published export (built after the ledger is solved, scanned before it is published)."""
        self.exports.append((rel, build, count_columns))

    def solve(self) -> None:
        for page in self.pages:
            for hook in page.pending:
                hook()
            page.pending.clear()
        self.ledger.solve()
        left = self.ledger.check()
        if left:
            raise DisclosureError(f"disclosure control left {len(left)} count(s) recoverable: {', '.join(left[:4])}")

    def publish(self, *, render: bool = True, pdf_pages: set[str] | None = None, log=print,
                commit_rendered: bool = True) -> Published:
        """Solve, write each page's ``.qmd``, render, scan, and move what passed into place."""
        from evalkit.publish.atomic import Staging
        from evalkit.publish.scan import check, scan_export, scan_publication

        self.solve()
        out = Published()
        pol = self.policy
        with Staging(self.project_root, self.out_root, self.setting) as st:
            staged: dict[str, list[str]] = {}
            html_texts: dict[str, str] = {}
            for page in self.pages:
                page.add(Markdown(f"\n::: {{.ek-policy}}\n{_md(pol.describe())}\n:::\n"))

            def stage(page: PubPage):
                return self._stage_page(st, page, render=render, pdf_pages=pdf_pages,
                                        commit_rendered=commit_rendered)

            # each page is written, rendered and scanned on its own (the ledger is solved): rendering
            # (Pandoc, Typst, figures) and the PDF scan are most of a publication's time, so the pages
            # are shared over both cores (taken in turn: pages differ in cost); the serial outcomes, in page order
            from evalkit._parallel import fork_map

            outcomes = fork_map(stage, self.pages, queue=True) if render else [stage(page) for page in self.pages]
            for page, outcome in zip(self.pages, outcomes):
                if outcome[0] == "failed":
                    out.failed[page.path] = outcome[1]
                    log(f"{page.path}: FAILED: {outcome[1]}")
                    continue
                _, files, html_text, cells = outcome
                page.sink.cells = cells  # what the page shows, as if it had been written here
                staged[page.path] = files
                if html_text is not None:
                    html_texts[page.path] = html_text
            if len(html_texts) > 1:  # one page was checked on its own already
                found = scan_publication(html_texts, pol)
                if found:
                    check(found, "the publication (all pages together)", pol)
            export_files = []
            for rel, build, columns in self.exports:
                path = st.path(rel)
                path.write_bytes(build())
                check(scan_export(path, pol, columns), rel, pol)
                export_files.append(rel)
            plotly = [PLOTLY_JS] if (st.dir / PLOTLY_JS).exists() else []  # the .qmd files point at it
            rels = plotly + [f for files in staged.values() for f in files] + export_files
            # the record goes first: a run killed between the two leaves a record stricter than the pages
            # (the next sibling protects more than it needs), never pages the siblings do not know of
            restore = self._write_record() if self.family is not None and rels else None
            try:
                st.commit(rels)
            except BaseException:
                if restore is not None:
                    restore()
                raise
            for page_path, files in staged.items():
                out.pages[page_path] = {Path(f).suffix.lstrip("."): self.out_root / f for f in files
                                        if f.endswith((".qmd", ".html", ".pdf"))}
                _drop_stale_assets(self.out_root / (page_path + "-assets"), {self.out_root / f for f in files})
            out.exports = [self.out_root / r for r in export_files]
        return out

    def _stage_page(self, st, page: PubPage, *, render: bool, pdf_pages: set[str] | None,
                    commit_rendered: bool):
        """Write, render and scan one page into the staging folder.

        ("ok", files to commit, its HTML text or None, the cells it shows), or ("failed", why) for a
        page that cannot be published (the others still are); a folder that cannot be written raises.
        """
        from evalkit.publish.atomic import PublishError
        from evalkit.publish.render import RenderSettings
        from evalkit.publish.render import render as render_doc
        from evalkit.publish.scan import check, scan_asset, scan_html, scan_pdf

        pol = self.policy
        rel_qmd = page.path + ".qmd"
        folder = Path(page.path).parent
        assets_rel = page.path + "-assets"
        depth = len(folder.parts)
        plotly_src = "../" * depth + PLOTLY_JS
        html_text = None
        try:
            qmd_path = st.path(rel_qmd)
            text = page.qmd(pol, assets=st.dir / assets_rel, asset_ref=Path(assets_rel).name,
                            plotly_src=plotly_src, manifest=lambda cells: self.ledger.manifest(cells))
            qmd_path.write_text(text, encoding="utf-8")
            files = [rel_qmd]
            if (st.dir / assets_rel).exists():
                files += [str(p.relative_to(st.dir)) for p in sorted((st.dir / assets_rel).rglob("*"))
                          if p.is_file()]
            for rel in files:  # the source and figure files are published too: each is read back
                check(scan_asset(st.dir / rel, pol), rel, pol)
            if render:
                if 'src="' + plotly_src + '"' in text:
                    self._plotly(st)
                html = render_doc(qmd_path, qmd_path.with_suffix(".html"), RenderSettings("html"))
                html_text = html.read_text(encoding="utf-8")
                check(scan_html(html_text, pol, page.path), f"{page.path}.html", pol)
                if commit_rendered:
                    files.append(page.path + ".html")
                if pdf_pages is not None and page.path in pdf_pages and "typst" in page.formats:
                    pdf = render_doc(qmd_path, qmd_path.with_suffix(".pdf"), RenderSettings("pdf"))
                    check(scan_pdf(pdf, pol, html_text), f"{page.path}.pdf", pol)
                    if commit_rendered:
                        files.append(page.path + ".pdf")
            return "ok", files, html_text, set(page.sink.cells)
        except PublishError:
            raise
        except OSError as exc:
            from evalkit.publish.atomic import _why

            raise PublishError(f"{self.setting}: could not write {page.path} ({_why(exc)}); nothing "
                               "was published, the previous pages are unchanged") from None
        except EvalkitError as exc:
            return "failed", str(exc)

    def _plotly(self, st) -> None:
        target = st.dir / PLOTLY_JS
        if not target.exists():
            from plotly.offline import get_plotlyjs

            target.parent.mkdir(parents=True, exist_ok=True)
            # written whole, then renamed: the pages are rendered in two processes, and either may
            # be the first to need it while the other's Pandoc reads it
            part = target.with_name(f".{target.name}.{os.getpid()}.part")
            part.write_text(get_plotlyjs(), encoding="utf-8")
            os.replace(part, target)


    def _write_record(self):
        """Write this publication's record; returns what puts the previous one back."""
        from evalkit.publish.atomic import private_dir, write_atomic

        path = self.record_path()
        private_dir(path.parent.parent.parent)
        private_dir(path.parent.parent)
        private_dir(path.parent)
        before = path.read_bytes() if path.exists() else None
        text = json.dumps(self.ledger.record(self.name), sort_keys=True, separators=(",", ":")) + "\n"
        write_atomic(path, text, setting=f"{self.family} publication record", mode=0o600)

        def restore():
            if before is None:
                path.unlink(missing_ok=True)
            else:
                write_atomic(path, before, setting=f"{self.family} publication record", mode=0o600)
        return restore


def _record_file(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "+", name).strip(".") or "publication"


def read_records(project_root: Path, family: str, *, exclude: str | None = None) -> list[dict]:
    """The records of a family's published publications (oldest name first), less ``exclude``'s own."""
    folder = Path(project_root) / ".evalkit" / RECORDS / family
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        if exclude is not None and path.name == _record_file(exclude) + ".json":
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvalkitError(f"{path}: cannot be read as a publication record ({exc}); expected the JSON an "
                               f"earlier publication wrote (delete it only if that page is no longer published)") \
                from None
        if data.get("schema") != "evalkit.disclosure-record/v1":
            raise EvalkitError(f"{path}: schema {data.get('schema')!r}; expected 'evalkit.disclosure-record/v1'")
        out.append(data)
    return out


def _md(text: str) -> str:
    from evalkit.publish.text import md_text

    return md_text(text)


def _drop_stale_assets(folder: Path, keep: set[Path]) -> None:
    if not folder.is_dir():
        return
    for p in folder.iterdir():
        if p.is_file() and p not in keep:
            try:
                os.unlink(p)
            except OSError:
                pass
