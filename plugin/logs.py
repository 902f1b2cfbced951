"""Process logging: one line per record on stderr, text or JSON (``DESKPILOT_LOG_FORMAT``).

``DESKPILOT_LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``,
``logger``, ``message``, and ``exc`` with the traceback when there is one), which is what log
shippers expect; anything else (default ``text``) writes
``<time> <LEVEL> <logger> <message>``. The receiver logs every outcome with its dotted key
(``webhook.queued``, ``webhook.duplicate``, …) as the message's first word, under ``up``
and ``serve`` alike. A value that comes from outside (a connection name taken from the
URL) goes into a line through :func:`shown`: bounded and escaped, so it can neither forge a
second record nor fill the log.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

FORMAT_ENV = "DESKPILOT_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
#: the most characters of an untrusted value a log line shows
SHOWN_LIMIT = 64


def shown(value: str, limit: int = SHOWN_LIMIT) -> str:
    """An untrusted value for a ``key=value`` log field: at most ``limit`` characters (then
    ``…``); a backslash, whitespace and anything unprintable (a newline, a control or format
    character) escaped as ``\\xNN``/``\\uNNNN``, so the value stays one field of one line."""
    def one(ch: str) -> str:
        if ch == "\\":
            return "\\\\"
        if ch.isprintable() and not ch.isspace():
            return ch
        return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"

    return "".join(one(ch) for ch in value[:limit]) + ("…" if len(value) > limit else "")


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def configure(level: str) -> None:
    """Install the one stderr handler on the root logger (replacing an earlier one of ours)."""
    handler = logging.StreamHandler(sys.stderr)
    if os.environ.get(FORMAT_ENV, "text").strip().lower() == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    handler.set_name("deskpilot")
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "deskpilot"]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
