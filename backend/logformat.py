"""The server's log lines as text or as JSON objects, one a line (PICDROP_LOG_FORMAT).

Either way a line never carries a client address (nothing logs one) nor a delete token: the
redaction filter (backend.http.log_redaction) rewrites records before any formatter sees them,
and the JSON formatter redacts its message and traceback again, so a handler the filter was not
installed on cannot leak a token either.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from backend.http.log_redaction import redact


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False)


def use(log_format: str) -> None:
    """Give the root logger's handlers the format asked for ('text' keeps theirs)."""
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(JsonFormatter())


def announce(lines: list[str], log_format: str) -> None:
    """Start-up lines for the operator: plain on standard error, or log records in JSON mode
    (so that every line of the output parses)."""
    if log_format == "json":
        for line in lines:
            logging.getLogger("picdrop.server").info("%s", line)
    else:
        for line in lines:
            print(line, file=sys.stderr)
