"""Text for a terminal: control characters a run's files or a user's data may hold (C0 but
tab and newline, DEL, C1, the bidirectional overrides) are shown as escapes, never obeyed. A
study name holding ESC [2J had cleared the screen from `nas show` (/tmp/oX 6)."""

from __future__ import annotations

import re

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """``text`` with its control characters shown as escapes (``\\x1b``), not obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


__all__ = ["plain"]
