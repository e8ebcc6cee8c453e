"""Figures and tables into Markdown that both renderers (Quarto, Pandoc) pass through.

An interactive figure is a plotly figure written as a raw HTML block; plotly.js is inlined
once per document (the first figure carries it), never fetched from a CDN. For PDF (Typst)
the same figure comes from a matplotlib function as a static PNG. Code chunks call
:func:`emit` and print what it returns (``#| output: asis``).
"""

from __future__ import annotations

import base64
import io
import os
import re
from pathlib import Path
from typing import Any, Callable

_STATE = {"plotly_js": False, "n": 0}
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["sendDataToCloud", "lasso2d", "select2d"]}


def reset_document() -> None:
    """Start a new document: the next plotly figure carries plotly.js again."""
    _STATE["plotly_js"] = False
    _STATE["n"] = 0


def plotly_used() -> bool:
    """Whether the current document has shown a plotly figure."""
    return bool(_STATE["plotly_js"])


def _to() -> str:
    from evalkit.report.render import output_format

    return output_format()


def _raw(content: str, fmt: str = "html") -> str:
    from evalkit.report.render import raw_block

    return raw_block(content, fmt)


def figure_markdown(fig, *, to: str | None = None, asset_dir: Path | None = None) -> str:
    """A plotly figure as Markdown: interactive in HTML, a note elsewhere (use :func:`emit`)."""
    to = to or _to()
    if to != "html":
        return "\n*(Interactive figure: see the HTML version of this document.)*\n"
    _STATE["n"] += 1
    # the Pandoc path adds plotly.js to the page itself after Pandoc has run (Pandoc need not
    # parse 4 MB of script); elsewhere (Quarto) the first figure carries it inline
    include = not _STATE["plotly_js"] and os.environ.get("EVALKIT_PLOTLY_JS") != "inject"
    _STATE["plotly_js"] = True
    div = fig.to_html(full_html=False, include_plotlyjs=include, div_id=f"ek-plot-{_STATE['n']}",
                      config=PLOTLY_CONFIG, validate=True)
    return _raw(f'<div class="ek-plot">{div}</div>')


def matplotlib_markdown(fig, *, to: str | None = None, asset_dir: Path | None = None) -> str:
    """A matplotlib figure: an embedded SVG in HTML, a PNG file beside the Typst source."""
    import matplotlib.pyplot as plt

    to = to or _to()
    _STATE["n"] += 1
    try:
        if to == "html":
            buf = io.BytesIO()
            fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
            data = base64.b64encode(buf.getvalue()).decode("ascii")
            return _raw(f'<img class="ek-static" alt="figure" src="data:image/svg+xml;base64,{data}"/>')
        path, ref = asset_file(f"figure-{_STATE['n']}.png", asset_dir)
        fig.savefig(path, format="png", dpi=160, bbox_inches="tight")
        return f"\n![]({ref}){{width=95%}}\n"
    finally:
        plt.close(fig)


def emit(plotly_fig: Callable[[], Any] | None, static_fig: Callable[[], Any] | None = None, *,
         asset_dir: Path | None = None) -> str:
    """Markdown for one figure in the current output format; builders are called lazily."""
    if _to() == "html" and plotly_fig is not None:
        return figure_markdown(plotly_fig(), to="html")
    if static_fig is not None:
        return matplotlib_markdown(static_fig(), to=_to(), asset_dir=asset_dir or _asset_dir())
    if _to() == "html":  # nothing to draw: say so rather than fail
        return "\n*(No figure for this section.)*\n"
    return figure_markdown(None, to=_to())


def asset_file(name: str, asset_dir: Path | None) -> tuple[Path, str]:
    """Where a static figure for the Typst path is written (``asset_dir``, else ``./_figures``),
    and how the Markdown refers to it."""
    folder = Path(asset_dir) if asset_dir else Path.cwd() / "_figures"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name, (name if asset_dir else f"_figures/{name}")


def _asset_dir() -> Path | None:
    value = os.environ.get("EVALKIT_ASSET_DIR")
    return Path(value) if value else None


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!<>|~^$@\"'&:])")


def md_text(value: Any) -> str:
    """Text shown literally by a Markdown reader: markup, links and HTML become plain text."""
    return _MD_SPECIAL.sub(r"\\\1", str(value)).replace("\n", " ")


def frame_markdown(frame) -> str:
    """A pandas frame as an escaped pipe table."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(md_text(c) for c in cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join("" if v is None else md_text(v) for v in row) + " |")
    return "\n" + "\n".join(lines) + "\n"
