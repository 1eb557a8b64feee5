"""``roost doctor``: checks a runner host and/or a plane and says what to fix (exit 1 if any)."""

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import click
import httpx

from roost.cli import config


@click.command("doctor")
@click.option(
    "--runner",
    "runner_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Check this host as a runner whose data directory is this.",
)
@click.option("--database", default=None,
              help="Check a plane's database (URL, as given to `roost server`).")  # fmt: skip
def doctor(runner_dir: Path | None, database: str | None) -> None:
    """Check a runner host (kernel, cgroups, packages, disk, clock) and a plane (database,
    schema, runner heartbeats)."""
    if runner_dir is None and database is None:
        raise click.UsageError("say what to check: --runner DATA_DIR and/or --database URL")
    findings: list[tuple[bool, str, str]] = []
    if runner_dir is not None:
        from roost.runner import doctor as host

        findings += [(f.ok, f.what, f.fix) for f in host.check_host(runner_dir)]
        url = config.saved_url()
        if url:
            date = httpx.get(f"{url}/healthz", timeout=5).headers.get("date")
            if date:
                f = host.clock_skew(date, datetime.now(UTC))
                findings.append((f.ok, f.what, f.fix))
    if database is not None:
        from roost.core.clock import SystemClock
        from roost.server import doctor as plane

        results = asyncio.run(plane.check_plane(database, SystemClock()))
        findings += [(f.ok, f.what, f.fix) for f in results]
    for ok, what, fix in findings:
        click.echo(f"ok   {what}" if ok else f"FIX  {what}: {fix}")
    if not all(ok for ok, _, _ in findings):
        raise SystemExit(1)
