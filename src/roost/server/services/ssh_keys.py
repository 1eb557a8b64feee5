"""SSH keys: users register public keys; the SSH gateway finds a key's user by fingerprint.

A fingerprint (SHA256 of the key blob, as ``ssh-keygen -l`` shows it) is unique across all
users: the gateway is offered a key and must know whose it is, so one key can never stand for
two people. Keys are stored in OpenSSH one-line form without their comment's trust: the name is
only a label. Adding and removing a key are audited.
"""

import asyncssh
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from roost.core import ids
from roost.core.errors import Conflict, InvalidInput, NotFound
from roost.core.schemas.ssh_keys import SshKey, SshKeyCreate
from roost.server.services import audit
from roost.server.services.context import Context, Principal
from roost.server.store.rows import SshKeyRow

ALLOWED = frozenset(
    {
        "ssh-ed25519", "sk-ssh-ed25519@openssh.com", "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "sk-ecdsa-sha2-nistp256@openssh.com",
        "ssh-rsa",
    }
)  # fmt: skip
"""Key types the gateway accepts (no DSA: OpenSSH itself dropped it)."""


def parse(text: str) -> tuple[asyncssh.SSHKey, str]:
    """The key and its ``SHA256:`` fingerprint; InvalidInput for anything else."""
    try:
        key = asyncssh.import_public_key(text.strip())
    except (asyncssh.KeyImportError, ValueError) as exc:
        raise InvalidInput(
            f"not an SSH public key ({exc}); pass one line of a .pub file, "
            "like ~/.ssh/id_ed25519.pub"
        ) from exc
    algorithm = key.get_algorithm()
    if algorithm not in ALLOWED:
        raise InvalidInput(
            f"{algorithm} keys are not accepted; use ed25519 (ssh-keygen -t ed25519)"
        )
    if isinstance(key.pyca_key, rsa.RSAPublicKey) and key.pyca_key.key_size < 2048:
        raise InvalidInput("RSA keys shorter than 2048 bits are not accepted; use ed25519")
    return key, str(key.get_fingerprint("sha256"))


def to_schema(row: SshKeyRow) -> SshKey:
    return SshKey(
        id=row.id, user_id=row.user_id, name=row.name, fingerprint=row.fingerprint,
        algorithm=row.algorithm, public_key=row.public_key, created_at=row.created_at,
    )  # fmt: skip


def _user(principal: Principal) -> str:
    if principal.kind != "user" or principal.user_id is None:
        raise NotFound("only users have SSH keys")
    return principal.user_id


async def add(ctx: Context, principal: Principal, body: SshKeyCreate) -> SshKey:
    user_id = _user(principal)
    key, fingerprint = parse(body.public_key)
    now = ctx.clock.now()
    row = SshKeyRow(
        id=ids.new_id(), user_id=user_id, name=body.name or (key.get_comment() or "")[:100],
        fingerprint=fingerprint, algorithm=key.get_algorithm(),
        public_key=" ".join(key.export_public_key("openssh").decode().split()[:2]),
        created_at=now,
    )  # fmt: skip
    taken = Conflict(
        f"you have registered the key {fingerprint} already; `roost ssh-key list` shows yours",
        code="already_exists",
    )
    try:
        async with ctx.db.write() as session:
            if await owned(session, user_id, fingerprint) is not None:
                raise taken
            session.add(row)
            audit.record(session, now, principal, "ssh_key.add", "ssh_key", row.id,
                         details={"fingerprint": fingerprint})  # fmt: skip
    except IntegrityError as exc:  # a concurrent add of the same key by the same user
        raise taken from exc
    return to_schema(row)


async def list_own(ctx: Context, principal: Principal) -> list[SshKey]:
    user_id = _user(principal)
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(SshKeyRow).where(SshKeyRow.user_id == user_id).order_by(SshKeyRow.id)
        )
        return [to_schema(r) for r in rows]


async def remove(ctx: Context, principal: Principal, ref: str) -> None:
    """Remove one of the caller's keys, by id or fingerprint."""
    user_id = _user(principal)
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        row = await session.get(SshKeyRow, ref) if ids.is_id(ref) else None
        row = row or await owned(session, user_id, ref)
        if row is None or row.user_id != user_id:
            raise NotFound(f"SSH key {ref!r} not found; `roost ssh-key list` shows yours")
        await session.delete(row)
        audit.record(session, now, principal, "ssh_key.remove", "ssh_key", row.id,
                     details={"fingerprint": row.fingerprint})  # fmt: skip


async def owned(session: AsyncSession, user_id: str, fingerprint: str) -> SshKeyRow | None:
    """``user_id``'s key with ``fingerprint``, if they registered it."""
    found: SshKeyRow | None = await session.scalar(
        select(SshKeyRow).where(SshKeyRow.user_id == user_id, SshKeyRow.fingerprint == fingerprint)
    )
    return found


async def holders(session: AsyncSession, fingerprint: str) -> list[SshKeyRow]:
    """Every registration of the key (one per user who added it)."""
    rows = await session.scalars(
        select(SshKeyRow).where(SshKeyRow.fingerprint == fingerprint).order_by(SshKeyRow.id)
    )
    return list(rows)
