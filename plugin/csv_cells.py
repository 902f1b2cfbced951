"""CSV exports a spreadsheet opens safely: formula injection neutralised (issue 16).

A text cell that starts with ``= + - @`` (or a tab or carriage return) is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK(…)`` from a payload's company id or
ticket id). Such text cells get a leading ``'``, OWASP's advice. Numbers stay numbers:
``-3`` units given as an int, and a text cell that is strictly a plain number (an optional
minus, ASCII digits, an optional decimal part: ``-350.00``, as a statement writes a
``Decimal`` amount) is no formula either, so a spreadsheet reads it as the number it is.
Anything more (``-1+1``, ``+1``, ``-1e5``, ``-2 ``) is still text and still quoted.
"""

from __future__ import annotations

import csv
import re
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: the one shape of text starting with a formula character that is left alone
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def cell(value: Any) -> Any:
    """``value`` as a CSV cell that cannot be a formula."""
    if (isinstance(value, str) and value.startswith(_FORMULA_START)
            and _PLAIN_NUMBER.fullmatch(value) is None):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose rows go through :func:`cell`."""

    def __init__(self, buf: IO[str], **kwargs: Any):
        self._writer = csv.writer(buf, **kwargs)

    def writerow(self, row: Any) -> Any:
        return self._writer.writerow([cell(v) for v in row])
