"""The SSH gateway's host key: one ed25519 key per runner, made once, kept in its data dir.

It survives restarts (clients pin it in their known_hosts; a new key would look like an
attack), is readable by root only (0600), and its public half is published in the runner's
info so that ``roost config-ssh`` can write a known_hosts entry -- stock ``ssh`` then connects
with strict host key checking and no trust-on-first-use prompt.
"""

import os
from pathlib import Path

import asyncssh

KEY_FILE = "ssh_host_ed25519_key"


def load_or_create(data_dir: Path) -> asyncssh.SSHKey:
    path = data_dir / KEY_FILE
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="roost-runner")
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(key.export_private_key())
        os.replace(tmp, path)  # two racing first starts: one key wins, both load it below
        _write_public(path, key)
    key = asyncssh.read_private_key(path)
    if not path.with_suffix(".pub").exists():
        _write_public(path, key)
    return key


def _write_public(path: Path, key: asyncssh.SSHKey) -> None:
    path.with_suffix(".pub").write_bytes(key.export_public_key())


def public_line(data_dir: Path) -> str | None:
    """``ssh-ed25519 AAAA...`` (no comment), or ``None`` before the key exists."""
    try:
        text = (data_dir / f"{KEY_FILE}.pub").read_text()
    except OSError:
        return None
    return " ".join(text.split()[:2]) or None
