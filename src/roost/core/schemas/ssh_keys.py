"""SSH public keys users register to reach their environments through the runners' SSH gateway.

A key belongs to one user (its SHA256 fingerprint is unique across users: the gateway finds the
user by the key it is offered), and opens the environments that user owns -- nothing else.
"""

from datetime import datetime

from pydantic import Field

from roost.core.schemas.base import Input, Output


class SshKeyCreate(Input):
    public_key: str = Field(min_length=1, max_length=16384)
    """One line of an OpenSSH ``.pub`` file: ``ssh-ed25519 AAAA... comment``."""
    name: str = Field(default="", max_length=100)
    """Defaults to the key's comment."""


class SshKey(Output):
    id: str
    user_id: str
    name: str
    fingerprint: str
    """``SHA256:...``, as ``ssh-keygen -l`` prints it."""
    algorithm: str
    public_key: str
    created_at: datetime
