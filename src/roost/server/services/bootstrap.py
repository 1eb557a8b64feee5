"""First start: the first admin, a ``default`` organization, the built-in classes.

The admin's token is written to ``<data-dir>/admin-token`` with mode 0600 -- the only copy, since
tokens are stored hashed. Later starts change nothing (and never print a token).
"""

import os
from pathlib import Path

from sqlalchemy import func, select

from roost.core import ids
from roost.server.services import classes, tokens
from roost.server.services.context import Context
from roost.server.store.rows import (
    EnvironmentClassRow,
    MembershipRow,
    OrganizationRow,
    UserRow,
)


async def ensure_initialized(ctx: Context) -> Path | None:
    """Returns the admin-token path if this call created the first admin, else None."""
    now = ctx.clock.now()
    async with ctx.db.write() as session:
        await ctx.db.serialize(session)  # replicas starting together: one makes the admin
        if int(await session.scalar(select(func.count()).select_from(UserRow)) or 0) > 0:
            return None
        admin = UserRow(id=ids.new_id(), name="admin", is_admin=True, created_at=now)
        org = OrganizationRow(id=ids.new_id(), name="default", policy={}, created_at=now)
        session.add_all([admin, org])
        await session.flush()
        session.add(
            MembershipRow(organization_id=org.id, user_id=admin.id, role="owner", created_at=now)
        )
        for name, resources in classes.DEFAULT_CLASSES.items():
            session.add(
                EnvironmentClassRow(
                    id=ids.new_id(),
                    organization_id=None,
                    name=name,
                    description=f"built-in {name} class",
                    resources=resources.model_dump(mode="json"),
                    created_at=now,
                )
            )
        _, plain = await tokens.issue(
            session, now, scope="user", name="first admin", user_id=admin.id
        )
        return write_secret(ctx.settings.data_dir / "admin-token", plain)


def write_secret(path: Path, content: str) -> Path:
    """Write ``content`` to a file only its owner can read -- not even briefly anyone else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(content + "\n")
    os.replace(tmp, path)
    return path
