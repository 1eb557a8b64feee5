"""Log output of the long-running commands (``roost server``, ``roost runner``, ``roost up``).

``ROOST_LOG_LEVEL`` (default INFO) and ``ROOST_LOG_FORMAT``: ``text`` (default, for people) or
``json`` -- one object per line with ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``
and, for errors, ``exception``: for log collectors (Loki, Elasticsearch, journald's JSON).
"""

import json
import logging
import os
from datetime import UTC, datetime

TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def configure() -> None:
    fmt = os.environ.get("ROOST_LOG_FORMAT", "text").lower()
    if fmt not in ("text", "json"):
        raise SystemExit(f"ROOST_LOG_FORMAT={fmt!r}: use text or json")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    logging.basicConfig(
        level=os.environ.get("ROOST_LOG_LEVEL", "INFO").upper(), handlers=[handler], force=True
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
