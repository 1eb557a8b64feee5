"""Identifiers.

Ids are 20 characters of lowercase Crockford base32: 48 bits of milliseconds followed by 52
random bits. They sort by creation time (so lists paginate by id), they are valid DNS labels and
SSH user names (environment ids appear in ``<port>-<id>.<domain>`` and ``ssh <id>@runner``), and
100 bits leave no practical chance of collision.
"""

import secrets
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
ID_LENGTH = 20


def new_id(now_ms: int | None = None) -> str:
    """Return a new time-ordered id."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms & ((1 << 48) - 1)) << 52 | secrets.randbits(52)
    chars = []
    for _ in range(ID_LENGTH):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_id(text: str) -> bool:
    """True when ``text`` has the shape of an id from :func:`new_id`."""
    return len(text) == ID_LENGTH and all(c in _ALPHABET for c in text)
