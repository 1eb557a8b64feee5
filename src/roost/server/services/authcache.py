"""A short-lived cache of authenticated principals.

Every API call authenticates; without a cache that is three or four queries before the handler
starts, a large share of a small request. An entry lives ``ttl`` seconds (5 by default) and is
keyed by the token's id; the secret is still compared, in constant time, against the hash held
with it. Expiry is still checked on every use. Revocations and membership changes clear entries
at once in this process; another replica notices within ``ttl`` -- the price of the cache,
written down in ``docs/architecture.md``.
"""

import hmac
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from roost.server.services.context import Principal


@dataclass(frozen=True)
class Entry:
    principal: "Principal"
    secret_hash: str
    expires_at: datetime | None
    cached_at: datetime


class AuthCache:
    def __init__(self, ttl: float = 5.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, Entry] = {}

    def get(self, token_id: str, secret_hash: str, now: datetime) -> Entry | None:
        entry = self._entries.get(token_id)
        if entry is None or (now - entry.cached_at).total_seconds() > self.ttl:
            return None
        if not hmac.compare_digest(entry.secret_hash, secret_hash):
            return None
        return entry

    def put(self, token_id: str, entry: Entry) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude, and rare: bounded memory matters more
        self._entries[token_id] = entry

    def forget(self, token_id: str | None = None) -> None:
        """Drop one token's entry, or every entry (memberships changed)."""
        if token_id is None:
            self._entries.clear()
        else:
            self._entries.pop(token_id, None)
