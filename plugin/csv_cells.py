"""CSV exports a spreadsheet opens safely: formula injection neutralised (issue 16).

A text cell that starts with ``= + - @`` (or a tab or carriage return) is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK(…)`` from a payload's company id or
ticket id). Such text cells get a leading ``'``, OWASP's advice; numbers stay numbers
(``-3`` units is a number, not a formula).
"""

from __future__ import annotations

import csv
from typing import IO, Any

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """``value`` as a CSV cell that cannot be a formula."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class SafeWriter:
    """``csv.writer`` whose rows go through :func:`cell`."""

    def __init__(self, buf: IO[str], **kwargs: Any):
        self._writer = csv.writer(buf, **kwargs)

    def writerow(self, row: Any) -> Any:
        return self._writer.writerow([cell(v) for v in row])
