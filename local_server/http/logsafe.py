"""Log lines that a client cannot forge: control characters in logged text are written as escapes.

A request path is client text (``%0A`` in a URL decodes to a newline), and so are request ids and model names:
printed as they are, a newline starts a line of the client's choosing in the text log, and terminal escapes
(``\\x1b[``) rewrite what an operator's terminal shows. The formatters (process.py) pass every message and
every extra field through ``escape``, so no call site can forget it.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators some viewers break lines at.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(text: str) -> str:
    """``text`` with each control character written as ``\\xNN`` (``\\uNNNN`` for U+2028/9); other text,
    non-ASCII letters included, is left as it is."""
    return _CONTROL.sub(_escaped, text)
