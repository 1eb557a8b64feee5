from fastapi import APIRouter, status

from roost.core.schemas.ssh_keys import SshKey, SshKeyCreate
from roost.server.api.deps import Auth, Ctx
from roost.server.services import ssh_keys

router = APIRouter(prefix="/api/v1/ssh-keys", tags=["ssh-keys"])


@router.get("")
async def list_ssh_keys(ctx: Ctx, who: Auth) -> list[SshKey]:
    """Your SSH public keys (they open the environments you own, through the SSH gateway)."""
    return await ssh_keys.list_own(ctx, who)


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_ssh_key(ctx: Ctx, who: Auth, body: SshKeyCreate) -> SshKey:
    return await ssh_keys.add(ctx, who, body)


@router.delete("/{key:path}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_ssh_key(ctx: Ctx, who: Auth, key: str) -> None:
    """Remove a key by id or fingerprint (``SHA256:...``, whose base64 may contain ``/``)."""
    await ssh_keys.remove(ctx, who, key)
