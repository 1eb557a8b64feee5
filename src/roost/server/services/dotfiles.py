"""Dotfiles: each user's personal configuration repository (``core/schemas/dotfiles.py``).

Users set their own; ``roost whoami`` shows it. The runner of an environment reads its owner's
(:func:`for_environment`) to install it after ``postCreateCommand``. Changes are audited.
"""

from roost.core.errors import NotFound
from roost.core.schemas.dotfiles import Dotfiles, DotfilesUpdate
from roost.server.services import audit, environments
from roost.server.services.context import Context, Principal
from roost.server.store.rows import UserRow


async def put(ctx: Context, principal: Principal, body: DotfilesUpdate) -> Dotfiles:
    if principal.kind != "user" or principal.user_id is None:
        raise NotFound("dotfiles are a user's setting")
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        user = await session.get(UserRow, principal.user_id)
        if user is None:
            raise NotFound("your user no longer exists")
        user.dotfiles_url = body.url
        audit.record(session, now, principal, "user.dotfiles", "user", user.id,
                     details={"url": body.url})  # fmt: skip
    return Dotfiles(url=body.url)


async def for_environment(ctx: Context, principal: Principal, env_id: str) -> Dotfiles:
    """For the environment's runner: its owner's dotfiles repository."""
    if principal.kind != "runner":
        raise NotFound(f"environment {env_id} not found")
    async with ctx.db.read() as session:
        env = await environments.load(session, principal, env_id)
        owner = await session.get(UserRow, env.owner_id)
        return Dotfiles(url=owner.dotfiles_url if owner else None)
