"""JSON with comments and trailing commas, as devcontainer.json allows.

Comments and trailing commas are blanked out (replaced by spaces, newlines kept) so that the
standard JSON parser sees the same line and column numbers as the user's file, and its errors
can name the exact place. Strings are scanned properly, so ``"http://x"`` is not a comment.
"""

import json
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A devcontainer.json that cannot be used; the message names file, line and problem."""

    def __init__(self, path: Path | str, line: int, problem: str) -> None:
        super().__init__(f"{path}:{line}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


def strip(text: str) -> str:
    """``text`` with comments and trailing commas replaced by spaces (same length, same lines)."""
    out = list(text)
    i, n = 0, len(text)
    last_comma: int | None = None
    while i < n:
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            last_comma = None
            continue
        if text.startswith("//", i):
            end = text.find("\n", i)
            end = n if end == -1 else end
            _blank(out, i, end)
            i = end
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end == -1 else end + 2
            _blank(out, i, end)
            i = end
            continue
        if c == ",":
            last_comma = i
        elif c in "}]" and last_comma is not None:
            out[last_comma] = " "
            last_comma = None
        elif not c.isspace():
            last_comma = None
        i += 1
    return "".join(out)


def _skip_string(text: str, i: int) -> int:
    i += 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return i + 1
        i += 1
    return i


def _blank(out: list[str], start: int, end: int) -> None:
    for k in range(start, end):
        if out[k] != "\n":
            out[k] = " "


def loads(text: str, path: Path | str = "devcontainer.json") -> Any:
    try:
        return json.loads(strip(text))
    except json.JSONDecodeError as exc:
        raise ConfigError(path, exc.lineno, f"{exc.msg} (column {exc.colno})") from None


def load(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, 0, f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(path, 0, "not UTF-8 text") from None
    return loads(text, path)


def line_of(text: str, key: str) -> int:
    """The line where ``"key"`` first appears (for errors about a property), else 1."""
    index = text.find(f'"{key}"')
    return text.count("\n", 0, index) + 1 if index >= 0 else 1
