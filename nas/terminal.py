"""Text for a terminal: control characters a run's files or a user's data may hold (C0 but
tab and newline, DEL, C1, the bidirectional overrides) are shown as escapes, never obeyed. A
study name holding ESC [2J had cleared the screen from `nas show` (/tmp/oX 6)."""

from __future__ import annotations

import re
import sys

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def plain(text: str) -> str:
    """``text`` with its control characters shown as escapes (``\\x1b``), not obeyed."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def say(text: str) -> None:
    """One line on stderr, its control characters shown rather than obeyed (:func:`plain`): a
    search's notes and stages as it runs (a column name's ESC [2J had cleared the screen)."""
    print(plain(text), file=sys.stderr, flush=True)


__all__ = ["plain", "say"]
