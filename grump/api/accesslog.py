"""Access log lines without query strings: callers put keys and prompt text there.

uvicorn logs ``client - "METHOD path?query HTTP/x" status`` on the
``uvicorn.access`` logger with the full path as the third argument; the filter
cuts the query off that argument and keeps the rest of the line as it was.
"""

from __future__ import annotations

import logging

ACCESS_LOGGER = "uvicorn.access"
_PATH_ARG = 2  # (client, method, path with query, http version, status)


def strip_query(path: str) -> str:
    """'/v1/jobs?user=x' -> '/v1/jobs?…' (the query was there, its content is not logged)."""
    base, sep, _ = path.partition("?")
    return f"{base}?…" if sep else base


class DropQueryStrings(logging.Filter):
    """The ``uvicorn.access`` filter that keeps a request's path in the log but not its query."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Cut the query off the logged path, leaving the rest of the record as it was; never drops a line."""
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG:
            path = args[_PATH_ARG]
            if isinstance(path, str):
                record.args = (*args[:_PATH_ARG], strip_query(path), *args[_PATH_ARG + 1 :])
        return True


_FILTER = DropQueryStrings()


def install_access_log_filter() -> None:
    """Idempotent: one filter instance, added once (``addFilter`` skips a filter it has)."""
    logging.getLogger(ACCESS_LOGGER).addFilter(_FILTER)
