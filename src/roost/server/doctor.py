"""``roost doctor --database URL``: what a plane replica would find in its database."""

from dataclasses import dataclass
from datetime import timedelta

from alembic.migration import MigrationContext
from sqlalchemy import select
from sqlalchemy.engine import Connection

from roost.core.clock import Clock
from roost.server.store import migrate
from roost.server.store.db import Database, is_unavailable
from roost.server.store.rows import RunnerRow


@dataclass(frozen=True)
class Finding:
    ok: bool
    what: str
    fix: str = ""


async def check_plane(url: str, clock: Clock, offline_after: float = 30.0) -> list[Finding]:
    db = Database(url)
    try:
        return await _check(db, clock, offline_after)
    except Exception as e:
        if not is_unavailable(e):
            raise
        return [Finding(False, f"cannot reach the database: {e}", "start it, or fix --database")]
    finally:
        await db.dispose()


async def _check(db: Database, clock: Clock, offline_after: float) -> list[Finding]:
    async with db.read_engine.connect() as conn:
        current = await conn.run_sync(_revision)
    found = [Finding(True, "database reachable")]
    newest = migrate.head()
    if current == newest:
        found.append(Finding(True, f"schema at the newest revision ({newest})"))
    else:
        found.append(
            Finding(
                False,
                f"schema at revision {current}, this Roost expects {newest}",
                "start `roost server --upgrade-db` once (or upgrade this Roost if it is older)",
            )
        )
        return found
    async with db.read() as session:
        rows = (await session.execute(select(RunnerRow.name, RunnerRow.last_heartbeat))).all()
    now = clock.now()
    for name, beat in rows:
        if beat is None or now - beat > timedelta(seconds=offline_after):
            found.append(
                Finding(False, f"runner {name} has not sent a heartbeat for a while",
                        f"check `roost runner` on {name} (its log, its network to the plane)")
            )  # fmt: skip
        else:
            found.append(Finding(True, f"runner {name} heartbeating"))
    return found


def _revision(conn: Connection) -> str | None:
    return MigrationContext.configure(conn).get_current_revision()
