"""Read a YAML file into plain Python data plus a map from key path to line number.

Line numbers let every validation problem point at the line to fix. PyYAML silently keeps
the last of two equal keys; we report duplicates instead, since a duplicated indicator or
timepoint key in a plan usually means a copy-paste slip that would change the analysis.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # the C loader is several times faster where libyaml is present
    from yaml import CSafeLoader as _Loader
except ImportError:  # pragma: no cover - depends on the PyYAML build
    from yaml import SafeLoader as _Loader

from evalkit.errors import Problem

KeyPath = tuple[str | int, ...]

# Limits that keep a hostile or broken file from exhausting memory or the stack. An evalkit YAML
# file is a few kilobytes; aliases (*name) may repeat a block, but a "billion laughs" file that
# repeats blocks of blocks would expand to billions of values.
MAX_YAML_BYTES = 2_000_000
MAX_YAML_VALUES = 100_000  # values after expanding aliases
MAX_YAML_DEPTH = 60


class _TooBig(Exception):
    pass


@dataclass
class Document:
    """A parsed YAML file: its data, the line of each key path, and parse problems."""

    file: str
    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: KeyPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def format_path(path: KeyPath) -> str:
    """``('timepoints', 'sdq', 'baseline')`` -> ``timepoints.sdq.baseline``; items as ``[i]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _walk(loader: Any, node: yaml.Node, path: KeyPath, doc: Document, budget: list[int] | None = None) -> Any:
    budget = budget if budget is not None else [0]
    budget[0] += 1
    if budget[0] > MAX_YAML_VALUES:
        raise _TooBig(f"the file expands to more than {MAX_YAML_VALUES:,} values (aliases repeating blocks)")
    if len(path) > MAX_YAML_DEPTH:
        raise _TooBig(f"the file nests more than {MAX_YAML_DEPTH} levels deep")
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):  # never build a mapping or list to use as a key
                doc.problems.append(
                    Problem(doc.file, key_node.start_mark.line + 1, format_path(path),
                            "a key must be a plain name", found="a mapping or list", expected="a text key"))
                continue
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                doc.problems.append(
                    Problem(doc.file, key_node.start_mark.line + 1, format_path(path),
                            "a key must be a plain name", found=repr(key), expected="a text key")
                )
                continue
            key = str(key) if not isinstance(key, str) else key
            child = path + (key,)
            if key in out:
                doc.problems.append(
                    Problem(doc.file, key_node.start_mark.line + 1, format_path(child),
                            "key appears twice in the same mapping",
                            found=f"a second '{key}' (first on line {doc.lines.get(child)})",
                            expected="each key once")
                )
                continue
            doc.lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(loader, value_node, child, doc, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(loader, item, path + (i,), doc, budget) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def parse_yaml(text: str, file: str) -> Document:
    """Parse ``text``; malformed YAML becomes one problem with the line it was found on."""
    doc = Document(file=file, data=None)
    if len(text) > MAX_YAML_BYTES:
        doc.problems.append(Problem(file, None, "", "the file is too large for an evalkit YAML file",
                                    found=f"{len(text):,} characters", expected=f"at most {MAX_YAML_BYTES:,}"))
        return doc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _walk(loader, node, (), doc)
    except (_TooBig, RecursionError) as exc:
        what = str(exc) if isinstance(exc, _TooBig) else "the file nests too deeply to read"
        doc.problems.append(Problem(file, None, "", what, found="a file far larger than it looks",
                                    expected="an ordinary evalkit YAML file"))
        doc.data = None
        doc.lines = {}
        loader.dispose()
        return doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        doc.problems.append(Problem(file, line, "", "malformed YAML: " + what,
                                    found="text that is not valid YAML",
                                    expected="valid YAML (check indentation, colons and quotes)"))
        doc.data = None
    except yaml.YAMLError as exc:  # pragma: no cover - unmarked errors are rare
        doc.problems.append(Problem(file, None, "", f"malformed YAML: {exc}",
                                    expected="valid YAML"))
        doc.data = None
    finally:
        loader.dispose()
    if doc.data is None and not doc.problems:  # no document, or one holding only `~`, `null` or `---`
        doc.problems.append(Problem(file, 1, "", "the file is empty", found="no content",
                                    expected="a YAML mapping"))
    elif doc.data is not None and not isinstance(doc.data, dict):
        doc.problems.append(Problem(file, 1, "", "the top level must be a mapping of keys",
                                    found=type(doc.data).__name__, expected="a YAML mapping"))
        doc.data = None
    return doc


def read_yaml(path: Path, shown_as: str | None = None) -> Document:
    """Read and parse ``path``; an unreadable file is a problem, not an exception."""
    import os
    import stat

    file = shown_as or str(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):  # a FIFO would block the reader for ever
            doc = Document(file=file, data=None)
            doc.problems.append(Problem(file, None, "", "not a regular file", found="a pipe, device or folder",
                                        expected="a YAML file"))
            return doc
        if info.st_size > MAX_YAML_BYTES:
            doc = Document(file=file, data=None)
            doc.problems.append(Problem(file, None, "", "the file is too large for an evalkit YAML file",
                                        found=f"{info.st_size:,} bytes", expected=f"at most {MAX_YAML_BYTES:,}"))
            return doc
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        doc = Document(file=file, data=None)
        doc.problems.append(Problem(file, None, "", "the file is not UTF-8 text",
                                    found="undecodable bytes", expected="a UTF-8 YAML file"))
        return doc
    except OSError as exc:
        doc = Document(file=file, data=None)
        doc.problems.append(Problem(file, None, "", f"cannot read the file: {exc.strerror}",
                                    found=str(path), expected="a readable YAML file"))
        return doc
    return parse_yaml(text, file)
