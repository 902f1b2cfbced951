"""Process logging: one line per record on stderr, text or JSON (``DESKPILOT_LOG_FORMAT``).

``DESKPILOT_LOG_FORMAT=json`` writes one JSON object per line (``ts``, ``level``,
``logger``, ``message``, and ``exc`` with the traceback when there is one), which is what log
shippers expect; anything else (default ``text``) writes
``<time> <LEVEL> <logger> <message>``. The receiver logs every outcome with its dotted key
(``webhook.queued``, ``webhook.duplicate``, …) as the message's first word, under ``up``
and ``serve`` alike.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

FORMAT_ENV = "DESKPILOT_LOG_FORMAT"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


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
