"""Text from outside (test ids, quality keys, commit ids, node names, a meter's ``describe()``) as text.

Every Markdown file greenbench writes (the report's README.md, the gate's summary,
history.md) puts such text through one of these, so a test id is never markup:

* :func:`plain` makes any value one printable line: control bytes (ESC, OSC
  sequences, BEL, DEL, C1) become visible ``\\x1b``-style escapes, line breaks
  and tabs become spaces;
* :func:`md_text` is :func:`plain` with Markdown's active characters
  backslash-escaped (table pipes, backticks, emphasis, links) and ``<``/``>``/``&``
  as entities, so no HTML tag or autolink forms;
* :func:`md_code` is a code span whose fence is longer than any run of
  backticks inside (CommonMark's rule), with a table's pipes escaped.

Imports: stdlib only.
"""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
_SPACE = re.compile(r"[\t\n\r]+")
#: Markdown punctuation that can start markup (CommonMark: any ASCII punctuation may be backslash-escaped)
_MD_ACTIVE = re.compile(r"([\\`*_\[\]|#~!])")
_BACKTICKS = re.compile(r"`+")


def _visible(m: re.Match[str]) -> str:
    code = ord(m.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: Any) -> str:
    """``value`` as one line of printable text: line breaks become spaces, control bytes visible escapes."""
    text = _SPACE.sub(" ", str(value))
    return _CONTROL.sub(_visible, text)


def md_text(value: Any) -> str:
    """``value`` for running Markdown text or a table cell: never markup, never HTML, never a new row."""
    text = plain(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_ACTIVE.sub(r"\\\1", text)


def md_code(value: Any, *, table: bool = True) -> str:
    """``value`` as an inline code span, fenced with more backticks than it holds (CommonMark 6.1).

    ``table``: the span sits in a table cell, where GitHub splits on ``|`` even inside code spans,
    so pipes are escaped (GitHub removes the backslash again when rendering the cell).
    """
    text = plain(value)
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * (longest + 1)
    if table:
        text = text.replace("|", "\\|")
    if text.startswith("`") or text.endswith("`") or (text.startswith(" ") and text.endswith(" ") and text.strip()):
        text = f" {text} "  # CommonMark strips one space on each side when both are there
    return f"{fence}{text}{fence}" if text else "` `"
