"""A repository key that opens in milliseconds instead of half a second.

restic derives the key that unlocks a repository's master key from its password with scrypt,
with parameters it calibrates at ``restic init`` to take about 0.5 s -- on every command: a stop's
backup and its verification, a start's restore each pay it. That cost protects weak, human
passwords. Roost's repository passwords are 256 random bits made by the plane, which no KDF
makes stronger, and restic 0.14 has no option to choose cheaper parameters. So after creating a
local repository the runner re-wraps the same master key under the same password with cheap
scrypt parameters, in restic's documented key-file format (``keys/<sha256 of the file>``: JSON
with the scrypt parameters, a salt, and ``data`` = IV || AES-256-CTR(master key JSON) ||
Poly1305-AES MAC of the ciphertext, the scrypt output giving the AES key, then the MAC's k and
r), and removes the slow key. restic itself then opens it like any other key (tested: every
backup test uses such repositories). Remote repositories (S3) keep restic's own key: their
files are written only through restic.
"""

import base64
import hashlib
import json
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.poly1305 import Poly1305

FAST_N, FAST_R, FAST_P = 1 << 12, 8, 1
"""About 5 ms of scrypt: a formality for a random 256-bit password."""


class KeyFileError(Exception):
    pass


def cheapen(repository: Path, password: str) -> bool:
    """Replace the repository's only, slow key with a fast one; False when there is nothing to
    do (already fast, or several keys: someone manages them by hand)."""
    keys = [p for p in (repository / "keys").iterdir() if not p.name.startswith(".")]
    if len(keys) != 1:
        return False
    old = keys[0]
    doc = json.loads(old.read_text())
    if doc.get("kdf") != "scrypt" or int(doc["N"]) <= FAST_N:
        return False
    master = _open(doc, password.encode())
    content = json.dumps(_seal(master, password.encode())).encode()
    new = old.with_name(hashlib.sha256(content).hexdigest())
    tmp = old.with_name(f".{new.name}.tmp")
    tmp.write_bytes(content)
    os.chmod(tmp, 0o400)  # as restic writes its files
    os.replace(tmp, new)
    old.unlink(missing_ok=True)  # another runner of this host may have re-wrapped it as well
    return True


def _keys(password: bytes, salt: bytes, n: int, r: int, p: int) -> tuple[bytes, bytes, bytes]:
    raw = Scrypt(salt=salt, length=64, n=n, r=r, p=p).derive(password)
    return raw[:32], raw[32:48], raw[48:]  # AES-256 key; Poly1305-AES k and r


def _mac(k: bytes, r: bytes, nonce: bytes, message: bytes) -> bytes:
    return Poly1305.generate_tag(r + _s(k, nonce), message)  # Poly1305 clamps r itself


def _open(doc: dict[str, Any], password: bytes) -> bytes:
    key, k, r = _keys(password, base64.b64decode(doc["salt"]), doc["N"], doc["r"], doc["p"])
    data = base64.b64decode(doc["data"])
    iv, ciphertext, tag = data[:16], data[16:-16], data[-16:]
    try:
        Poly1305.verify_tag(r + _s(k, iv), ciphertext, tag)  # clamps r itself
    except InvalidSignature:
        raise KeyFileError("the repository key does not open with this password") from None
    dec = Cipher(algorithms.AES(key), modes.CTR(iv)).decryptor()
    return dec.update(ciphertext) + dec.finalize()


def _s(k: bytes, nonce: bytes) -> bytes:
    """Poly1305-AES's s: the nonce encrypted with k, one AES block."""
    aes = Cipher(algorithms.AES(k), modes.ECB()).encryptor()  # noqa: S305 - a single block
    return aes.update(nonce) + aes.finalize()


def _seal(master: bytes, password: bytes) -> dict[str, Any]:
    salt, iv = os.urandom(64), os.urandom(16)
    key, k, r = _keys(password, salt, FAST_N, FAST_R, FAST_P)
    enc = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    ciphertext = enc.update(master) + enc.finalize()
    return {
        "created": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "username": "roost", "hostname": socket.gethostname(), "kdf": "scrypt",
        "N": FAST_N, "r": FAST_R, "p": FAST_P, "salt": base64.b64encode(salt).decode(),
        "data": base64.b64encode(iv + ciphertext + _mac(k, r, iv, ciphertext)).decode(),
    }  # fmt: skip
