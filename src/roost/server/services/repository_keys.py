"""Restic repository passwords at rest: sealed under the plane's master key.

A repository password opens every backup of a project (or an organization), so the database
must not hold it readable: it is sealed with :meth:`SecretBox.seal_short` (AES-256-GCM under
the secrets master key, the repository id as associated data). Rows written before sealing
hold the password as is; they are read as such and sealed at their next use.
"""

import secrets

from roost.server.services.crypto import SecretBox

SEALED = "s1:"
"""Marks a sealed password (a plain one is URL-safe base64, which has no ``:``)."""


def new_password() -> str:
    return secrets.token_urlsafe(32)


def seal(box: SecretBox, repository: str, password: str) -> str:
    return SEALED + box.seal_short(password.encode(), f"backup-repository:{repository}")


def is_sealed(stored: str) -> bool:
    return stored.startswith(SEALED)


def open_password(box: SecretBox, repository: str, stored: str) -> str:
    if not is_sealed(stored):
        return stored  # written before passwords were sealed
    plain = box.open_short(stored[len(SEALED) :], f"backup-repository:{repository}")
    return plain.decode()
