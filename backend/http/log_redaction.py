"""One redaction for every log line that can carry a request path: the delete link's token.

`/delete/{id}/{token}` (an album's: `/delete/a/{id}/{token}`) is a secret in a URL. Any log line
may quote a path (the access log, an error handler, uvicorn, a traceback's exception message), so
the redaction is a logging filter installed once, on the loggers that handle requests and on the
root's handlers, rather than a rule each caller must remember.
"""

from __future__ import annotations

import logging
import re

# In a value that is a path or URL, everything after the ID is the token or hides it (a decoded
# %2F moves it one segment on); in free text (a message, a traceback) it runs to a space or quote.
_IN_PATH = re.compile(r"(/delete/[^/]*/).*", re.DOTALL)
_IN_TEXT = re.compile(r"(/delete/[^/\s]*/)[^\s\"']*")
# Loggers that see request paths. Filters on a logger apply only to records logged on that
# very logger, not to its children, hence the list; the root's handlers catch the rest in the
# server's own logging setup.
PATH_LOGGERS = (
    "picdrop.access",
    "backend.http.errors",
    "backend.http.guard",
    "uvicorn",
    "uvicorn.error",
    "uvicorn.access",
    "uvicorn.asgi",
)


def redact_path(path: str) -> str:
    return _IN_PATH.sub(r"\1[token]", path)


def redact(text: str) -> str:
    return _IN_TEXT.sub(r"\1[token]", text)


class RedactTokens(logging.Filter):
    """Rewrites a record's message (and its traceback text) with the tokens taken out: each
    argument as a path (the access logs pass the path as one), then the message as text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(a) if isinstance(a, str) else a for a in record.args)
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def install() -> None:
    """Idempotent: each logger and handler gets the filter once."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in PATH_LOGGERS]
    targets += logging.getLogger().handlers
    for target in targets:
        if not any(isinstance(f, RedactTokens) for f in target.filters):
            target.addFilter(RedactTokens())
