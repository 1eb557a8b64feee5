"""Encryption at rest for secrets: envelope encryption under one plane master key.

Each secret gets its own random 256-bit **data key**. The value is sealed with AES-256-GCM
under the data key, and the data key is sealed with AES-256-GCM under the **master key**; the
database holds only the two sealed blobs and the master key's id. Both seals carry the secret's
id as associated data, so a sealed value copied onto another row does not open.

Why an envelope rather than the master key directly: rotating the master key re-seals 32-byte
data keys, never the values, and a future external KMS (which seals small keys, not data) slots
in where ``_master`` is.

The master key comes from ``ROOST_SECRETS_KEY`` (32 bytes, URL-safe base64) or from
``<data-dir>/secrets.key`` (mode 0600), generated at the plane's first start. **Back it up**
with the database: a database backup without it is unreadable, which is the point. Replicas of
one plane must share it (the variable, or the same file). Rotation: start the plane with the
new key as the master and the old one in ``ROOST_SECRETS_OLD_KEYS`` (comma-separated); rows are
opened with the key their ``key_id`` names and re-sealed under the new key when written
(``roost secret set`` again, or a re-seal pass over the ``secrets`` table, not built yet).
"""

import base64
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from roost.core.errors import ApiError

KEY_FILE = "secrets.key"
KEY_ENV = "ROOST_SECRETS_KEY"
OLD_KEYS_ENV = "ROOST_SECRETS_OLD_KEYS"
NONCE = 12


class SecretKeyError(ApiError):
    """The master key is missing, malformed, or not the one a row was sealed with."""

    status = 500
    code = "secrets_key"


@dataclass(frozen=True)
class Sealed:
    key_id: str
    sealed_key: str
    """``nonce || AES-GCM(master, data key)``, URL-safe base64."""
    ciphertext: str
    """``nonce || AES-GCM(data key, value)``, URL-safe base64."""


def key_id(key: bytes) -> str:
    return hashlib.sha256(b"roost-secrets-key:" + key).hexdigest()[:16]


class SecretBox:
    def __init__(self, master: bytes, old: tuple[bytes, ...] = ()) -> None:
        self._master = master
        self.key_id = key_id(master)
        self._keys = {key_id(k): k for k in (*old, master)}

    def seal(self, plaintext: bytes, context: str) -> Sealed:
        data_key = AESGCM.generate_key(bit_length=256)
        value = _seal(data_key, plaintext, f"value:{context}")
        wrapped = _seal(self._master, data_key, f"data-key:{context}")
        return Sealed(self.key_id, wrapped, value)

    def open(self, sealed: Sealed, context: str) -> bytes:
        master = self._keys.get(sealed.key_id)
        if master is None:
            raise SecretKeyError(
                f"a secret is sealed with master key {sealed.key_id}, which this plane does not "
                f"have; start it with that key in {KEY_ENV} or {OLD_KEYS_ENV}"
            )
        try:
            data_key = _open(master, sealed.sealed_key, f"data-key:{context}")
            return _open(data_key, sealed.ciphertext, f"value:{context}")
        except (InvalidTag, ValueError) as exc:
            raise SecretKeyError(
                "a secret does not decrypt: its row was altered or belongs to another row"
            ) from exc

    def seal_short(self, plaintext: bytes, context: str) -> str:
        """``key_id:nonce||ciphertext`` under the master key itself, for short values whose
        column is too narrow for an envelope (restic repository passwords: 43 characters in,
        116 out). Rotation still works: the key id names the master key to open it with."""
        return f"{self.key_id}:{_seal(self._master, plaintext, f'short:{context}')}"

    def open_short(self, sealed: str, context: str) -> bytes:
        found, _, blob = sealed.partition(":")
        return self.open_with(found, lambda master: _open(master, blob, f"short:{context}"))

    def open_with(self, found: str, opener: Callable[[bytes], bytes]) -> bytes:
        master = self._keys.get(found)
        if master is None:
            raise SecretKeyError(
                f"a value is sealed with master key {found}, which this plane does not have; "
                f"start it with that key in {KEY_ENV} or {OLD_KEYS_ENV}"
            )
        try:
            return opener(master)
        except (InvalidTag, ValueError) as exc:
            raise SecretKeyError(
                "a sealed value does not decrypt: its row was altered or belongs to another row"
            ) from exc


def _seal(key: bytes, plaintext: bytes, aad: str) -> str:
    nonce = os.urandom(NONCE)
    blob = nonce + AESGCM(key).encrypt(nonce, plaintext, aad.encode())
    return base64.urlsafe_b64encode(blob).decode()


def _open(key: bytes, text: str, aad: str) -> bytes:
    blob = base64.urlsafe_b64decode(text.encode())
    return AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], aad.encode())


_boxes: dict[Path, SecretBox] = {}


def box(data_dir: Path) -> SecretBox:
    """The plane's box (loaded, or generated at first start, once per process)."""
    found = _boxes.get(data_dir)
    if found is None:
        master = _from_env(os.environ.get(KEY_ENV, "")) or _from_file(data_dir / KEY_FILE)
        old = tuple(
            k for k in (_decode(p) for p in os.environ.get(OLD_KEYS_ENV, "").split(",") if p)
        )
        found = _boxes[data_dir] = SecretBox(master, old)
    return found


def _from_env(text: str) -> bytes | None:
    return _decode(text) if text else None


def _decode(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except ValueError:
        key = b""
    if len(key) != 32:
        raise SecretKeyError(
            "a secrets master key must be 32 bytes in URL-safe base64; make one with "
            "`head -c 32 /dev/urandom | base64 | tr '+/' '-_'`"
        )
    return key


def _from_file(path: Path) -> bytes:
    """Read the key, or create it. The new key is written to a private temporary file and
    hard-linked into place, which fails if another process won the race: both then use the
    file's key, and nobody ever reads a half-written one."""
    try:
        return _decode(path.read_text())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(base64.urlsafe_b64encode(key).decode() + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        return _decode(path.read_text())
    finally:
        tmp.unlink()
    return key
